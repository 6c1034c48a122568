// status.progress formatting and the write throttle (design §6.8).
#include "core/run_progress.h"

#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

RunProgress Autocommit() {
  RunProgress p;
  p.phase = "forward";
  p.step = 2;
  p.steps = 3;
  p.revision = "add_flexible_schemas";
  p.direction = "upgrade";
  p.section = 2;
  p.sections = 2;
  p.statement = 4;
  p.statements = 7;
  return p;
}

TEST(RunProgressTest, StatementOfATransactionFalseSection) {
  EXPECT_EQ(FormatProgress(Autocommit()), "2/3 add_flexible_schemas stmt 4/7");
}

TEST(RunProgressTest, TransactionalSectionShowsTheSection) {
  RunProgress p = Autocommit();
  p.statement = 0;
  p.statements = 0;
  p.section = 1;
  EXPECT_EQ(FormatProgress(p), "2/3 add_flexible_schemas sect 1/2");
}

TEST(RunProgressTest, RowsAndBlocksWherePostgresReportsThem) {
  RunProgress p = Autocommit();
  p.work = StatementWork{"CREATE INDEX CONCURRENTLY", "building index: loading tuples in tree",
                         1200, 5000, "rows"};
  EXPECT_EQ(FormatProgress(p), "2/3 add_flexible_schemas stmt 4/7 rows 1200/5000");
  p.work->unit = "blocks";
  p.work->total = 0;  // unknown total: only what was done
  EXPECT_EQ(FormatProgress(p), "2/3 add_flexible_schemas stmt 4/7 blocks 1200");
  EXPECT_NE(DescribeProgress(p).find("CREATE INDEX CONCURRENTLY: building index"),
            std::string::npos)
      << DescribeProgress(p);
}

TEST(RunProgressTest, UndoIsNamed) {
  RunProgress p = Autocommit();
  p.phase = "undo";
  p.step = 1;
  p.steps = 1;
  EXPECT_EQ(FormatProgress(p).rfind("undo 1/1 add_flexible_schemas", 0), 0u) << FormatProgress(p);
  EXPECT_NE(DescribeProgress(p).find("undoing a failed run"), std::string::npos);
}

TEST(RunProgressTest, PositionFromTheCursorOnlyHasNoSectionCount) {
  RunProgress p;
  p.step = 1;
  p.steps = 3;
  p.revision = "9bc6a98f1c12";
  p.section = 1;  // sections unknown (0): between statements
  EXPECT_EQ(FormatProgress(p), "1/3 9bc6a98f1c12");
}

TEST(RunProgressTest, WrittenAtMostEveryInterval) {
  const Timestamp t0{1'700'000'000'000};
  std::optional<RunProgress> written;
  EXPECT_TRUE(ProgressDue(written, t0, kProgressInterval));  // nothing written yet
  written = Autocommit();
  EXPECT_TRUE(ProgressDue(written, t0, kProgressInterval));  // written without a time
  written->update_time = t0;
  EXPECT_FALSE(ProgressDue(written, t0, kProgressInterval));
  EXPECT_FALSE(ProgressDue(written, Timestamp{t0.unix_millis + 1999}, kProgressInterval));
  EXPECT_TRUE(ProgressDue(written, Timestamp{t0.unix_millis + 2000}, kProgressInterval));
  // A clock that went back does not write in a burst.
  EXPECT_FALSE(ProgressDue(written, Timestamp{t0.unix_millis - 5000}, kProgressInterval));
}

}  // namespace
}  // namespace schemaop::core
