// Expand/contract phases in the file format (design §3.1): the marker
// options phase: and batch:, their errors, and the expand-safety warnings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/migration_file.h"
#include "core/phase_safety.h"
#include "core/sql_splitter.h"

namespace schemaop::core {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

MigrationFile ParseOk(std::string_view text) {
  Result<MigrationFile> result = ParseMigrationFile(text, "f.sql");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? std::move(result).value() : MigrationFile{};
}

std::string ParseErrorMessage(std::string_view text) {
  Result<MigrationFile> result = ParseMigrationFile(text, "f.sql");
  EXPECT_FALSE(result.ok()) << "parsed although it should not:\n" << text;
  return result.ok() ? std::string() : result.status().message();
}

std::string Hazard(std::string_view sql) {
  return ExpandHazard(SqlBareWords(sql), {}).value_or("");
}

TEST(PhaseSectionsTest, ParsesPhasesAndBatches) {
  const MigrationFile file = ParseOk(
      "-- revision: a\n"
      "-- migrate:up phase:expand\n"
      "ALTER TABLE t ADD COLUMN c integer;\n"
      "-- migrate:up phase:expand transaction:false\n"
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);\n"
      "-- migrate:up phase:expand batch:5000\n"
      "UPDATE t SET c = 1 WHERE id IN (SELECT id FROM t WHERE c IS NULL LIMIT 5000);\n"
      "-- migrate:up\n"
      "ALTER TABLE t VALIDATE CONSTRAINT k;\n"
      "-- migrate:up phase:contract\n"
      "ALTER TABLE t DROP COLUMN old;\n"
      "-- migrate:down\n"
      "SELECT 1;\n");
  ASSERT_THAT(file.sections, SizeIs(6));
  EXPECT_EQ(file.sections[0].phase, SectionPhase::kExpand);
  EXPECT_EQ(file.sections[1].phase, SectionPhase::kExpand);
  EXPECT_FALSE(file.sections[1].transactional);
  EXPECT_EQ(file.sections[2].batch_rows, 5000);
  EXPECT_EQ(file.sections[3].phase, SectionPhase::kWindow);
  EXPECT_EQ(file.sections[3].batch_rows, 0);
  EXPECT_EQ(file.sections[4].phase, SectionPhase::kContract);
  EXPECT_EQ(file.sections[5].phase, SectionPhase::kWindow);
  EXPECT_THAT(file.SectionsFor(Direction::kUp, SectionPhase::kExpand), SizeIs(3));
  EXPECT_THAT(file.SectionsFor(Direction::kUp, SectionPhase::kContract), SizeIs(1));
  EXPECT_TRUE(file.HasPhases(Direction::kUp));
  EXPECT_FALSE(file.HasPhases(Direction::kDown));
  EXPECT_THAT(file.warnings, IsEmpty());
}

TEST(PhaseSectionsTest, FileWithoutPhasesIsAllWindow) {
  const MigrationFile file = ParseOk(
      "-- revision: a\n-- migrate:up\nSELECT 1;\n-- migrate:up transaction:false\n"
      "SELECT 2;\n");
  for (const Section& section : file.sections) {
    EXPECT_EQ(section.phase, SectionPhase::kWindow);
    EXPECT_EQ(section.batch_rows, 0);
  }
  EXPECT_FALSE(file.HasPhases(Direction::kUp));
}

TEST(PhaseSectionsTest, BadOptionsNameTheProblemAndTheFix) {
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:before\nSELECT 1;\n"),
              AllOf(StartsWith("f.sql:2: unknown phase 'before'"),
                    HasSubstr("phase:expand, phase:window or phase:contract")));
  for (const char* bad :
       {"batch:0", "batch:-3", "batch:", "batch:1e3", "batch:10000000000", "batch:1000000001"}) {
    EXPECT_THAT(ParseErrorMessage(std::string("-- revision: a\n-- migrate:up phase:expand ") + bad +
                                  "\nUPDATE t SET c = 1;\n"),
                AllOf(StartsWith("f.sql:2: bad batch size"), HasSubstr("from 1 to 1000000000")))
        << bad;
  }
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:later\n"),
              StartsWith("f.sql:2: unknown phase 'later'"));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up retry:3\n"),
              HasSubstr("the options are transaction:false, phase:expand|window|contract and "
                        "batch:N"));
}

TEST(PhaseSectionsTest, BatchRules) {
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up batch:10\nUPDATE t SET c = 1;\n"),
              AllOf(StartsWith("f.sql:2:"), HasSubstr("add phase:expand or phase:contract")));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:expand batch:10 "
                                "transaction:false\nUPDATE t SET c = 1;\n"),
              AllOf(StartsWith("f.sql:2:"), HasSubstr("remove transaction:false")));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:expand batch:10\n"
                                "UPDATE t SET c = 1;\nUPDATE t SET d = 1;\n"),
              AllOf(StartsWith("f.sql:2:"), HasSubstr("exactly one UPDATE, DELETE, INSERT"),
                    HasSubstr("found 2")));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:contract batch:10\n"
                                "-- only a comment\n"),
              HasSubstr("found 0"));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:expand batch:10\n"
                                "ALTER TABLE t ADD COLUMN c int;\n"),
              HasSubstr("exactly one UPDATE"));
  // Two batch sections in a row are two backfills, not a duplicate.
  const MigrationFile file = ParseOk(
      "-- revision: a\n-- migrate:up phase:expand batch:10\n"
      "WITH s AS (SELECT id FROM t WHERE c IS NULL LIMIT 10) UPDATE t SET c = 1 FROM s "
      "WHERE t.id = s.id;\n"
      "-- migrate:up phase:expand batch:10\nDELETE FROM u WHERE id IN (SELECT id FROM u LIMIT "
      "10);\n");
  EXPECT_THAT(file.sections, SizeIs(2));
}

TEST(PhaseSectionsTest, PhasesNeverGoBackwardsInADirection) {
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up\nSELECT 1;\n"
                                "-- migrate:up phase:expand\nSELECT 2;\n"),
              AllOf(StartsWith("f.sql:4: phase:expand section after a phase:window section "
                               "(line 2)"),
                    HasSubstr("expand, window, contract")));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:contract\nSELECT 1;\n"
                                "-- migrate:up transaction:false\nSELECT 2;\n"),
              StartsWith("f.sql:4: phase:window section after a phase:contract section"));
  EXPECT_THAT(ParseErrorMessage("-- revision: a\n-- migrate:up phase:expand\nSELECT 1;\n"
                                "-- migrate:up phase:expand\nSELECT 2;\n"),
              StartsWith("f.sql:4: duplicate section `-- migrate:up phase:expand`"));
  // Each direction has its own order.
  ParseOk(
      "-- revision: a\n-- migrate:up phase:contract\nSELECT 1;\n"
      "-- migrate:down phase:expand\nSELECT 2;\n-- migrate:down\nSELECT 3;\n");
}

TEST(PhaseSectionsTest, ExpandWarnsOnStatementsUnsafeForTheOldApplication) {
  const MigrationFile file = ParseOk(
      "-- revision: a\n"
      "-- migrate:up phase:expand\n"
      "ALTER TABLE t ALTER COLUMN c TYPE bigint;\n"        // 3
      "ALTER TABLE t ADD COLUMN type text;\n"              // 4: fine
      "CREATE TABLE fresh (id int);\n"                     // 5
      "CREATE INDEX fresh_id ON fresh (id);\n"             // 6: fine, new table
      "ALTER TABLE fresh ALTER COLUMN id SET NOT NULL;\n"  // 7: fine, new table
      "CREATE INDEX old_c ON t (c);\n"                     // 8
      "-- migrate:up\n"
      "ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n");  // window: no warning
  ASSERT_THAT(file.warnings, SizeIs(2));
  EXPECT_THAT(file.warnings[0], AllOf(StartsWith("f.sql:3: unsafe in phase:expand"),
                                      HasSubstr("rewrites the whole table")));
  EXPECT_THAT(file.warnings[1],
              AllOf(StartsWith("f.sql:8: unsafe in phase:expand"), HasSubstr("CONCURRENTLY")));
}

TEST(PhaseSectionsTest, HazardsOfSingleStatements) {
  EXPECT_THAT(Hazard("ALTER TABLE t ALTER c SET DATA TYPE text"), HasSubstr("rewrites"));
  EXPECT_THAT(Hazard("ALTER TABLE t SET TABLESPACE x"), HasSubstr("rewrites"));
  EXPECT_THAT(Hazard("ALTER TABLE t ALTER COLUMN c SET NOT NULL"), HasSubstr("NOT VALID"));
  EXPECT_THAT(Hazard("ALTER TABLE t ADD COLUMN n bigserial"), HasSubstr("volatile default"));
  EXPECT_THAT(Hazard("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()"),
              HasSubstr("volatile default"));
  EXPECT_THAT(Hazard("ALTER TABLE t ADD CONSTRAINT k CHECK (c > 0)"), HasSubstr("NOT VALID"));
  EXPECT_THAT(Hazard("ALTER TABLE t ADD FOREIGN KEY (c) REFERENCES u (id)"),
              HasSubstr("NOT VALID"));
  EXPECT_THAT(Hazard("ALTER TABLE t ADD CONSTRAINT u UNIQUE (c)"), HasSubstr("USING INDEX"));
  EXPECT_THAT(Hazard("ALTER TABLE t DROP COLUMN c"), HasSubstr("phase:contract"));
  EXPECT_THAT(Hazard("ALTER TABLE t RENAME COLUMN c TO d"), HasSubstr("phase:contract"));
  EXPECT_THAT(Hazard("DROP TABLE t"), HasSubstr("phase:contract"));
  EXPECT_THAT(Hazard("VACUUM FULL t"), HasSubstr("lock"));
  EXPECT_THAT(Hazard("LOCK TABLE t IN ACCESS EXCLUSIVE MODE"), HasSubstr("lock"));
  EXPECT_THAT(Hazard("REINDEX TABLE t"), HasSubstr("lock"));
  // Safe while the old application runs.
  EXPECT_EQ(Hazard("ALTER TABLE t ADD COLUMN c integer REFERENCES u (id)"), "");
  EXPECT_EQ(Hazard("ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{}'"), "");
  EXPECT_EQ(Hazard("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()"), "");
  EXPECT_EQ(Hazard("ALTER TABLE t ADD CONSTRAINT k CHECK (c > 0) NOT VALID"), "");
  EXPECT_EQ(Hazard("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i"), "");
  EXPECT_EQ(Hazard("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c)"), "");
  EXPECT_EQ(Hazard("DROP TRIGGER IF EXISTS s ON t"), "");
  EXPECT_EQ(Hazard("CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN "
                   "DROP TABLE x; END $$ LANGUAGE plpgsql"),
            "");
  EXPECT_EQ(Hazard("UPDATE t SET c = 1"), "");
  EXPECT_EQ(Hazard("REINDEX INDEX CONCURRENTLY i"), "");
}

TEST(PhaseSectionsTest, CreatedTableNamesTheNewTable) {
  EXPECT_EQ(CreatedTable(SqlBareWords("CREATE TABLE IF NOT EXISTS t (id int)")), "T");
  EXPECT_EQ(CreatedTable(SqlBareWords("CREATE UNLOGGED TABLE t (id int)")), "T");
  EXPECT_EQ(CreatedTable(SqlBareWords("CREATE INDEX i ON t (c)")), "");
}

}  // namespace
}  // namespace schemaop::core
