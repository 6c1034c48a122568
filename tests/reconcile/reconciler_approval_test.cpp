// spec.approval Manual and the schemaop.dev/retry annotation (design §9),
// from the user's side: what status says, what was touched, what ran.
#include <algorithm>
#include <string>

#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

class ApprovalTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.approval = "Manual"; });
  }

  std::string PlanHash() { return St().plan ? St().plan->plan_hash : std::string(); }

  void Approve(const std::string& hash) {
    kube_.EditSpec(kNs, kName, [&](core::SchemaMigrationSpec& s) { s.approved_plan_hash = hash; });
  }

  // Waiting for approval as kstatus sees it: InProgress, not Stalled.
  void ExpectAwaitingApproval() {
    EXPECT_EQ(St().phase, Phase::kPlanning);
    EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
    EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
    EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kAwaitingApproval);
    ASSERT_TRUE(St().run.has_value());
    EXPECT_EQ(PlanHash(), St().run->plan_digest) << "the published hash is the pinned plan's";
    EXPECT_TRUE(core::IsPlanHash(PlanHash())) << PlanHash();
  }

  int EventCount(const std::string& reason) {
    return static_cast<int>(std::count_if(kube_.events.begin(), kube_.events.end(),
                                          [&](const auto& e) { return e.reason == reason; }));
  }
};

TEST_F(ApprovalTest, ManualPublishesThePlanAndHashAndTouchesNothing) {
  ReconcileResult r = Reconcile();
  ExpectAwaitingApproval();
  ExpectNothingTouched();
  const auto& files = kube_.config_maps["drawing/drawing-migrations"];
  EXPECT_EQ(PlanHash(), FakeDatabase::PlanDigest({files.begin(), files.end()}, {"9bc6a98f1c12"},
                                                 {"seed_default_schemas"}));
  ASSERT_EQ(St().plan->steps.size(), 2u);
  EXPECT_EQ(St().plan->direction, "upgrade");
  EXPECT_NE(Cond(ct::kReady).message.find("kubectl patch schemamigration drawing-db -n drawing"),
            std::string::npos)
      << Cond(ct::kReady).message;
  EXPECT_NE(Cond(ct::kReady).message.find(PlanHash()), std::string::npos);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(EventCount(rs::kAwaitingApproval), 1);

  // A resync while waiting writes nothing and emits nothing new.
  const int writes = kube_.status_writes();
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), writes);
  EXPECT_EQ(EventCount(rs::kAwaitingApproval), 1);
  EXPECT_EQ(St().phase, Phase::kPlanning);
  ExpectNothingTouched();
}

TEST_F(ApprovalTest, AWrongHashKeepsWaitingAndSaysSo) {
  Reconcile();
  const std::string hash = PlanHash();
  Approve(std::string(64, '0'));
  Reconcile();
  ExpectAwaitingApproval();
  ExpectNothingTouched();
  EXPECT_EQ(PlanHash(), hash);
  EXPECT_NE(Cond(ct::kReady).message.find("spec.approvedPlanHash " + std::string(64, '0') +
                                          " does not match the plan to run now (" + hash + ")"),
            std::string::npos)
      << Cond(ct::kReady).message;
}

TEST_F(ApprovalTest, TheRightHashRunsThatPlan) {
  Reconcile();
  const std::string hash = PlanHash();
  Approve(hash);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  ASSERT_EQ(db_.identities_seen.size(), 1u);
  EXPECT_EQ(db_.identities_seen[0].plan_digest, hash) << "the engine ran the approved plan";
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(EventCount(rs::kApproved), 1);
  EXPECT_EQ(Replicas("backend"), 2);
}

// The race of design §9: the files change after the plan was published
// and before (or while) it is approved. The approval names the old hash;
// the plan to run now has another, so nothing runs and the new hash waits.
TEST_F(ApprovalTest, FilesChangedBeforeTheApprovalArrivedWaitAgain) {
  Reconcile();
  const std::string old_hash = PlanHash();
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] =
      "-- revision: seed_default_schemas\n-- migrate:up\nDROP TABLE users;\n";
  Approve(old_hash);
  Reconcile();
  ExpectAwaitingApproval();
  ExpectNothingTouched();
  EXPECT_NE(PlanHash(), old_hash);
  EXPECT_NE(Cond(ct::kReady).message.find("does not match"), std::string::npos);

  Approve(PlanHash());
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.executions, 1);
}

TEST_F(ApprovalTest, TheDatabaseMovingWhileWaitingChangesTheHash) {
  Reconcile();
  const std::string old_hash = PlanHash();
  db_.versions = {"add_flexible_schemas"};  // someone ran `alembic upgrade +1`
  Reconcile();
  EXPECT_NE(PlanHash(), old_hash);
  ASSERT_EQ(St().plan->steps.size(), 1u);
  Approve(old_hash);
  Reconcile();
  EXPECT_EQ(St().phase, Phase::kPlanning);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kAwaitingApproval);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(db_.migrate_calls, 0);
}

// The files change after the gate let the run go (writers already at 0):
// the engine refuses the pinned plan under its lock, nothing is migrated,
// the workloads come back, and the new plan waits for its own approval.
TEST_F(ApprovalTest, FilesChangedAfterTheGateMigrateNothingAndWaitAgain) {
  kube_.auto_drain = false;
  Reconcile();
  const std::string approved = PlanHash();
  Approve(approved);
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] =
      "-- revision: seed_default_schemas\n-- migrate:up\nSELECT 2;\n";
  kube_.Settle();
  for (int i = 0; i < 10 && !(St().phase == Phase::kPlanning && St().run &&
                              St().run->plan_digest != approved);
       ++i) {
    Reconcile();
    kube_.Settle();
  }
  ExpectAwaitingApproval();
  EXPECT_NE(PlanHash(), approved);
  EXPECT_EQ(db_.executions, 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().last_run->reason, rs::kMigrationsChanged);
}

TEST_F(ApprovalTest, SuspendWhileWaitingDropsTheRun) {
  Reconcile();
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.suspend = true; });
  Reconcile();
  EXPECT_FALSE(St().run.has_value());
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kSuspended);
  ExpectNothingTouched();
}

TEST_F(ApprovalTest, AutomaticRunsAtOnceAndPublishesTheHashToo) {
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.approval = "Automatic"; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_TRUE(core::IsPlanHash(PlanHash()));
  EXPECT_EQ(EventCount(rs::kApproved), 0);
  EXPECT_EQ(EventCount(rs::kAwaitingApproval), 0);
}

TEST_F(ApprovalTest, ABadApprovalSpecIsRefusedNamingTheField) {
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) {
    s.approval = "manual";
    s.approved_plan_hash = "ABC";
  });
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.approval"), std::string::npos);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.approvedPlanHash"), std::string::npos);
  ExpectNothingTouched();
}

// A crash after any side effect of the approval flow leaves a state the
// next pass finishes without running an unapproved plan.
TEST_F(ApprovalTest, ACrashAnywhereNeverRunsAnUnapprovedPlan) {
  for (int crash = 0; crash < 12; ++crash) {
    SetUp();
    Reconcile();
    kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] =
        "-- revision: seed_default_schemas\n-- migrate:up\nSELECT 3;\n";
    Approve(PlanHash());  // the old plan's hash
    effects_.Clear();
    effects_.CrashAt(crash, crash % 2 == 1);
    try {
      Reconcile();
    } catch (const SimulatedCrash&) {
    }
    effects_.ClearCrash();
    reconciler_ = NewReconciler();
    Reconcile();
    ExpectAwaitingApproval();
    ExpectNothingTouched();
  }
}

// ------------------------------------------------------ schemaop.dev/retry

class RetryTest : public ReconcilerTest {
 protected:
  void Annotate(const std::string& value) {
    Obj().metadata.annotations[core::kRetryAnnotation] = value;
  }
  void FailOnce() {
    db_.verification_failure = Status(Code::kVerificationFailed, "rows lost in components");
    RunUntilDone();
    ASSERT_EQ(St().phase, Phase::kFailed);
    ASSERT_EQ(Cond(ct::kStalled).reason, rs::kVerificationFailed);
  }
};

TEST_F(RetryTest, ANewValueRetriesAFailedRunOnce) {
  FailOnce();
  const int calls = db_.migrate_calls;
  const int executions = db_.executions;
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, calls) << "a failed run is not retried for the same input";

  Annotate("1");
  RunUntilDone();
  EXPECT_EQ(db_.migrate_calls, calls + 1);
  EXPECT_EQ(db_.executions, executions + 1) << "executed again, not replayed";
  EXPECT_NE(db_.identities_seen.back().Key(), db_.identities_seen.front().Key());
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(St().last_run->retry, "1");
  EXPECT_EQ(St().last_handled_retry, "1");
  EXPECT_TRUE(std::any_of(kube_.events.begin(), kube_.events.end(), [](const auto& e) {
    return e.reason == rs::kRetryRequested &&
           e.message.find("schemaop.dev/retry=1") != std::string::npos &&
           e.message.find("VerificationFailed") != std::string::npos;
  }));
  RunUntilDone();
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, calls + 1) << "the same value retries once";
  EXPECT_EQ(Replicas("backend"), 2);

  db_.verification_failure.reset();
  Annotate("2");
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().last_run->retry, "2");
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// A value used before (1, then 2, then 1 again) is new again: each retry
// is its own run for the engine (RunIdentity::retry carries its start).
TEST_F(RetryTest, AnEarlierValueUsedAgainStillRetries) {
  FailOnce();
  const int executions = db_.executions;
  for (const char* value : {"1", "2", "1"}) {
    clock_.Advance(std::chrono::seconds(10));
    Annotate(value);
    RunUntilDone();
    ASSERT_EQ(St().phase, Phase::kFailed) << value;
  }
  EXPECT_EQ(db_.executions, executions + 3);
}

TEST_F(RetryTest, AValueSetBeforeTheFailureDoesNotRetryIt) {
  Annotate("early");
  FailOnce();
  EXPECT_EQ(St().last_handled_retry, "early");
  const int calls = db_.migrate_calls;
  Reconcile();
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, calls);
  EXPECT_EQ(St().phase, Phase::kFailed);
}

TEST_F(RetryTest, AHugeValueIsRecordedAsADigestAndStillRetriesOnce) {
  FailOnce();
  const int calls = db_.migrate_calls;
  Annotate(std::string(100000, 'x'));
  RunUntilDone();
  Reconcile();
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, calls + 1);
  EXPECT_EQ(St().last_handled_retry.rfind("digest:", 0), 0u);
  EXPECT_LE(St().last_handled_retry.size(), 128u);
}

// With approval Manual, a retry of an unchanged plan runs under the
// approval it already has; the retry survives a replan while waiting.
TEST_F(RetryTest, UnderManualApprovalTheRetryWaitsForTheMatchingHash) {
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.approval = "Manual"; });
  Reconcile();
  const std::string hash = St().plan->plan_hash;
  kube_.EditSpec(kNs, kName, [&](core::SchemaMigrationSpec& s) { s.approved_plan_hash = hash; });
  FailOnce();
  const int calls = db_.migrate_calls;
  db_.verification_failure.reset();
  db_.versions = {"add_flexible_schemas"};  // moved: the plan (and hash) differ now
  Annotate("after-fix");
  Reconcile();
  EXPECT_EQ(St().phase, Phase::kPlanning);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kAwaitingApproval);
  EXPECT_EQ(St().run->retry, "after-fix");
  EXPECT_EQ(db_.migrate_calls, calls);
  const std::string new_hash = St().plan->plan_hash;
  EXPECT_NE(new_hash, hash);
  kube_.EditSpec(kNs, kName,
                 [&](core::SchemaMigrationSpec& s) { s.approved_plan_hash = new_hash; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().last_run->retry, "after-fix");
}

}  // namespace
}  // namespace schemaop::reconcile
