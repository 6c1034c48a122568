// The maintenance window gate (spec.maintenanceWindow, design §6.6): no run
// starts outside a window; waiting is progress (Reconciling=True, not
// Stalled) with status.nextWindow and a requeue for the window's start; a
// run that started is never stopped by the window's end. Fake clock.
#include <gmock/gmock.h>

#include "core/civil_time.h"
#include "core/maintenance_window.h"
#include "core/zoneinfo_fixture.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

using ::testing::HasSubstr;

core::Timestamp At(std::int64_t y, unsigned m, unsigned d, int hh, int mm) {
  return core::Timestamp::FromSeconds(core::DaysFromCivil(y, m, d) * 86400 + hh * 3600 + mm * 60);
}

class WindowTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    clock_.now = At(2026, 12, 1, 10, 0);  // Tuesday
    Obj().spec.maintenance_window = core::MaintenanceWindowSpec{"0 2 * * SAT", "2h", "UTC"};
  }
  void UseTzdata() {
    ReconcilerOptions options;
    options.time_zones = core::testing::LoadZone;
    reconciler_ = std::make_unique<Reconciler>(kube_, db_, clock_, metrics_, options);
  }
  void ExpectWaiting(core::Timestamp next_window) {
    EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
    EXPECT_EQ(Cond(ct::kReady).reason, rs::kOutsideMaintenanceWindow);
    EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
    EXPECT_EQ(St().next_window, next_window);
    EXPECT_EQ(St().phase, Phase::kPlanning);
  }
};

TEST_F(WindowTest, ClosedWindowWaitsForItsStartTouchingNothing) {
  const core::Timestamp saturday = At(2026, 12, 5, 2, 0);
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  ExpectWaiting(saturday);
  EXPECT_THAT(Cond(ct::kReady).message, HasSubstr("2026-12-05T02:00:00Z"));
  EXPECT_THAT(Cond(ct::kReady).message, HasSubstr("\"0 2 * * SAT\""));
  // Back exactly at the window's start, not polling.
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(r.requeue_after->count(), saturday.unix_millis - clock_.now.unix_millis);
  EXPECT_TRUE(r.error.ok());
  ASSERT_EQ(kube_.events.size(), 2u);  // Planning, then the wait
  EXPECT_EQ(kube_.events.back().reason, rs::kOutsideMaintenanceWindow);
  EXPECT_EQ(kube_.events.back().type, EventType::kNormal);
  // A resync before then writes nothing and emits nothing.
  const int writes = kube_.status_writes();
  clock_.Advance(std::chrono::hours(20));
  r = Reconcile();
  EXPECT_EQ(kube_.status_writes(), writes);
  EXPECT_EQ(kube_.events.size(), 2u);
  EXPECT_EQ(r.requeue_after->count(), saturday.unix_millis - clock_.now.unix_millis);
  ExpectNothingTouched();
  // At the window's start the run goes through.
  clock_.now = saturday;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(St().next_window, std::nullopt);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

TEST_F(WindowTest, OpenWindowRunsAtOnce) {
  clock_.now = At(2026, 12, 5, 3, 59);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().next_window, std::nullopt);
  for (const auto& e : kube_.events) {
    EXPECT_NE(e.reason, rs::kOutsideMaintenanceWindow);
  }
}

TEST_F(WindowTest, TheWindowEndIsExclusive) {
  clock_.now = At(2026, 12, 5, 4, 0);
  Reconcile();
  ExpectNothingTouched();
  ExpectWaiting(At(2026, 12, 12, 2, 0));
}

TEST_F(WindowTest, ARunThatStartedIsNotStoppedByTheWindowsEnd) {
  kube_.auto_drain = false;
  clock_.now = At(2026, 12, 5, 3, 59);
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  clock_.now = At(2026, 12, 5, 4, 1);  // closed now, within the drain timeout
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(WindowTest, TheLastRunOfThePlanIsTheEstimate) {
  Reconcile();  // waits; the run records its plan
  ASSERT_TRUE(St().run.has_value());
  core::LastRunStatus last;
  last.from = core::FormatVersions(St().run->from_versions);
  last.to = core::FormatVersions(St().run->target_versions);
  last.migrations_digest = St().run->migrations_digest;
  last.downtime_seconds = 3600.5;  // rounded up to 1h0m1s
  last.outcome = core::kOutcomeRolledBack;
  Obj().status.last_run = last;
  // 1h30m into the 2h window: 30m left, the run needs 1h0m1s.
  clock_.now = At(2026, 12, 5, 3, 30);
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  ExpectWaiting(At(2026, 12, 12, 2, 0));
  EXPECT_THAT(Cond(ct::kReady).message, HasSubstr("estimated downtime 1h1s"));
  EXPECT_THAT(Cond(ct::kReady).message, HasSubstr("does not fit"));
  EXPECT_EQ(r.requeue_after->count(), At(2026, 12, 12, 2, 0).unix_millis - clock_.now.unix_millis);
  // Early enough in the window, it fits.
  clock_.now = At(2026, 12, 12, 2, 58);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

TEST_F(WindowTest, AnEstimateLongerThanEveryWindowStalls) {
  Reconcile();
  core::LastRunStatus last;
  last.from = core::FormatVersions(St().run->from_versions);
  last.to = core::FormatVersions(St().run->target_versions);
  last.migrations_digest = St().run->migrations_digest;
  last.downtime_seconds = 3 * 3600;
  last.outcome = core::kOutcomeFailed;
  Obj().status.last_run = last;
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  EXPECT_FALSE(r.requeue_after.has_value());
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kOutsideMaintenanceWindow);
  EXPECT_THAT(Cond(ct::kStalled).message, HasSubstr("lengthen spec.maintenanceWindow.duration"));
  EXPECT_EQ(St().next_window, std::nullopt);
  EXPECT_EQ(kube_.events.back().type, EventType::kWarning);
}

TEST_F(WindowTest, ASpecChangeWhileWaitingPlansAgain) {
  Obj().spec.target_revision = "add_flexible_schemas";
  Reconcile();
  ASSERT_EQ(St().run->generation, 1);
  kube_.EditSpec(kNs, kName, [](auto& spec) {
    spec.target_revision = "seed_default_schemas";
    spec.maintenance_window->schedule = "0 2 * * WED";
  });
  // The untouched run is dropped and the new spec planned in the same pass
  // (Replan, shared with the approval gate).
  Reconcile();
  ExpectNothingTouched();
  ASSERT_TRUE(St().run.has_value());
  EXPECT_EQ(St().run->generation, 2);
  EXPECT_EQ(St().run->target_versions, std::vector<std::string>{"seed_default_schemas"});
  ExpectWaiting(At(2026, 12, 2, 2, 0));
  // Removing the window lets the waiting run start.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.maintenance_window.reset(); });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().next_window, std::nullopt);
}

TEST_F(WindowTest, BadWindowSpecIsRefusedBeforeARun) {
  struct Case {
    core::MaintenanceWindowSpec window;
    const char* says;
  } cases[] = {
      {{"0 25 * * *", "2h", "UTC"}, "spec.maintenanceWindow.schedule: invalid schedule"},
      {{"0 2 * * *", "0s", "UTC"}, "spec.maintenanceWindow.duration: invalid duration"},
      {{"0 2 * * *", "8d", "UTC"}, "spec.maintenanceWindow.duration"},
      {{"0 2 * * *", "169h", "UTC"}, "at most 7 days"},
      {{"0 2 * * *", "2h", "../../etc/passwd"}, "spec.maintenanceWindow.timeZone: invalid"},
      // No tzdata configured in this reconciler: only UTC is known.
      {{"0 2 * * *", "2h", "Europe/Berlin"}, "unknown time zone \"Europe/Berlin\""},
  };
  for (const Case& c : cases) {
    Obj().spec.maintenance_window = c.window;
    Obj().metadata.generation += 1;
    ReconcileResult r = Reconcile();
    ExpectNothingTouched();
    EXPECT_FALSE(St().run.has_value());
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
    EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
    EXPECT_THAT(Cond(ct::kStalled).message, HasSubstr(c.says)) << c.window.schedule;
    EXPECT_FALSE(r.requeue_after.has_value());
  }
}

TEST_F(WindowTest, ZonesComeFromTheTzdataWithDst) {
  UseTzdata();
  // 02:30 does not exist in Berlin on Sunday 2026-03-29: the window opens
  // at 03:30 CEST = 01:30 UTC.
  Obj().spec.maintenance_window =
      core::MaintenanceWindowSpec{"30 2 * * SUN", "1h", "Europe/Berlin"};
  clock_.now = At(2026, 3, 28, 12, 0);
  Reconcile();
  ExpectNothingTouched();
  ExpectWaiting(At(2026, 3, 29, 1, 30));
  EXPECT_THAT(Cond(ct::kReady).message, HasSubstr("2026-03-29 03:30 Europe/Berlin (UTC+02:00)"));
  Obj().spec.maintenance_window->time_zone = "Mars/Olympus_Mons";
  Obj().metadata.generation += 1;
  Reconcile();  // drops the unstarted run
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_THAT(Cond(ct::kStalled).message, HasSubstr("unknown time zone \"Mars/Olympus_Mons\""));
  ExpectNothingTouched();
}

}  // namespace
}  // namespace schemaop::reconcile

namespace schemaop::reconcile {
namespace {

TEST_F(WindowTest, DeletionWhileWaitingTouchesNothingAndReleasesTheObject) {
  Reconcile();
  ASSERT_EQ(Cond(ct::kReady).reason, rs::kOutsideMaintenanceWindow);
  kube_.MarkDeleted(kNs, kName, clock_.now);
  ReconcileResult r = Reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_TRUE(kube_.objects.empty()) << "finalizer removed";
}

}  // namespace
}  // namespace schemaop::reconcile
