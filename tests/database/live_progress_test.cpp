// Progress of a run from the database alone (design §4.11,
// Migrator::Progress, `schemaop current --progress`) against the harness
// PostgreSQL: a long CREATE INDEX reports its work through
// pg_stat_progress_create_index, a transactional section its section, and
// a forged marker in another session's query is not believed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

// r2: a table of 5,000 wide rows (~330 blocks) and an IMMUTABLE function
// that sleeps 2 ms, then a transaction:false section whose CREATE INDEX
// calls it per row (~10 s of table scan).
constexpr const char* kSlowIndex =
    "-- migrate:up\n"
    "CREATE TABLE big (id int, pad text);\n"
    "INSERT INTO big SELECT g, repeat('x', 500) FROM generate_series(1, 5000) g;\n"
    "CREATE FUNCTION slow_key(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
    "$$ BEGIN PERFORM pg_sleep(0.002); RETURN i; END $$;\n\n"
    "-- migrate:up transaction:false\n"
    "CREATE INDEX CONCURRENTLY big_slow ON big (slow_key(id));\n"
    "SELECT 1;\n\n"
    "-- migrate:down\nDROP TABLE big;\nDROP FUNCTION slow_key(int);\n";

// r2: two transactional sections' worth of work in one: a sleep.
constexpr const char* kSlowTransaction =
    "-- migrate:up\nCREATE TABLE t2 (id int);\nSELECT pg_sleep(3);\n\n"
    "-- migrate:down\nDROP TABLE t2;\n";

class LiveProgressTest : public MigratorTest {
 protected:
  // r1 and r2 (`body`), the database at r1; returns a second engine to
  // read the progress with.
  std::unique_ptr<Migrator> ProbeAtR1(const char* message, const char* body) {
    WriteBase();
    WriteR2(message, body);
    EXPECT_NE(OpenAt("r1"), nullptr);
    auto probe = Open();
    EXPECT_NE(probe, nullptr);
    return probe;
  }

  // Runs to head on a thread of its own; polls Progress() from `probe`
  // until `seen` accepts a reading or the run ends.
  template <typename Seen>
  std::optional<core::RunProgress> WatchRun(Migrator& probe, Seen seen) {
    auto runner = Open();
    std::atomic<bool> done{false};
    std::thread run([&] {
      auto report = runner->Run("head");
      EXPECT_TRUE(report.ok() && report->outcome == RunOutcome::kSucceeded)
          << (report.ok() ? report->status.ToString() : report.status().ToString());
      done = true;
    });
    std::optional<core::RunProgress> found;
    while (!done && !found) {
      auto progress = probe.Progress();
      EXPECT_TRUE(progress.ok()) << progress.status().ToString();
      if (progress.ok() && *progress && seen(**progress)) {
        found = **progress;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    run.join();
    return found;
  }
};

TEST_F(MigratorTest, ProgressIsNothingWithoutARun) {
  WriteBase();
  auto m = OpenAt("r1");
  ASSERT_NE(m, nullptr);
  auto progress = m->Progress();
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  EXPECT_FALSE(progress->has_value());
}

TEST_F(LiveProgressTest, ALongCreateIndexReportsItsWork) {
  auto probe = ProbeAtR1("slow index", kSlowIndex);
  ASSERT_NE(probe, nullptr);
  std::optional<std::int64_t> first_done;
  auto found = WatchRun(*probe, [&](const core::RunProgress& p) {
    // Mid-scan: some of the table done, not all.
    if (!p.work || p.work->done <= 0 || p.work->done >= p.work->total) {
      return false;
    }
    if (!first_done) {
      first_done = p.work->done;
      return false;
    }
    return p.work->done > *first_done;  // it advances
  });
  ASSERT_TRUE(found.has_value()) << "no advancing CREATE INDEX progress was seen";
  EXPECT_EQ(found->phase, "forward");
  EXPECT_EQ(found->step, 1);
  EXPECT_EQ(found->steps, 1);
  EXPECT_EQ(found->revision, "r2");
  EXPECT_EQ(found->direction, "upgrade");
  EXPECT_EQ(found->section, 2);
  EXPECT_EQ(found->sections, 2);
  EXPECT_EQ(found->statement, 1);
  EXPECT_EQ(found->statements, 2);
  EXPECT_EQ(found->work->command, "CREATE INDEX CONCURRENTLY");
  EXPECT_TRUE(found->work->unit == "rows" || found->work->unit == "blocks") << found->work->unit;
  EXPECT_GT(found->work->total, 0);
  EXPECT_LE(found->work->done, found->work->total);
  EXPECT_EQ(found->summary.rfind("1/1 r2 stmt 1/2 ", 0), 0u) << found->summary;
  // Ended: nothing in progress any more.
  auto after = probe->Progress();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST_F(LiveProgressTest, ATransactionalSectionReportsTheSectionWhileUncommitted) {
  auto probe = ProbeAtR1("slow transaction", kSlowTransaction);
  ASSERT_NE(probe, nullptr);
  auto found = WatchRun(*probe, [](const core::RunProgress& p) {
    return p.sections > 0 && p.elapsed_seconds >= 1;
  });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->section, 1);
  EXPECT_EQ(found->sections, 1);
  // The transaction's second statement, pg_sleep, is the one seen running:
  // a transactional section runs statement by statement too.
  EXPECT_EQ(found->statement, 2);
  EXPECT_EQ(found->statements, 2);
  EXPECT_FALSE(found->work.has_value());
  EXPECT_EQ(found->summary, "1/1 r2 stmt 2/2");
}

TEST_F(LiveProgressTest, AForgedMarkerInAnotherSessionIsNotBelieved) {
  auto probe = ProbeAtR1("slow transaction", kSlowTransaction);
  ASSERT_NE(probe, nullptr);
  // Another session named like schemaop runs a query starting with a
  // marker while the real run is in progress: only the run's own backend
  // (the pid in its run_log row) is read.
  std::thread forger([this] {
    Query("/* schemaop:progress phase=forward step=9/9 section=1/1 statement=1/1 */ "
          "SELECT set_config('application_name', 'schemaop', false), pg_sleep(4)");
  });
  bool forged_seen = false;
  auto found = WatchRun(*probe, [&](const core::RunProgress& p) {
    forged_seen = forged_seen || p.steps == 9;
    return p.sections > 0 && p.elapsed_seconds >= 2;
  });
  forger.join();
  EXPECT_FALSE(forged_seen);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->summary, "1/1 r2 stmt 2/2");
}

TEST(ProgressMarkerTest, OnlyWellFormedMarkersAreRead) {
  auto m = ParseProgressMarker(
      "/* schemaop:progress phase=forward step=2/3 section=1/2 statement=4/7 */ CREATE ...");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->step, 2);
  EXPECT_EQ(m->statements, 7);
  EXPECT_EQ(ParseProgressMarker("/* schemaop:progress phase=undo step=1/1 section=1/1 "
                                "statement=0/0 */ ")
                ->phase,
            "undo");
  for (const char* bad : {
           "", "SELECT 1", "/* schemaop:progress */",
           "/* schemaop:progress phase=forward step=4/3 section=1/2 statement=4/7 */",
           "/* schemaop:progress phase=forward step=0/3 section=1/2 statement=4/7 */",
           "/* schemaop:progress phase=forward step=1/3 section=3/2 statement=4/7 */",
           "/* schemaop:progress phase=forward step=1/3 section=1/2 statement=8/7 */",
           "/* schemaop:progress phase=forward step=1/3 section=1/2 statement=-1/7 */",
           "/* schemaop:progress phase=sideways step=1/3 section=1/2 statement=1/7 */",
           " /* schemaop:progress phase=forward step=1/3 section=1/2 statement=1/7 */",
       }) {
    EXPECT_FALSE(ParseProgressMarker(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace schemaop::database
