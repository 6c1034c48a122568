// spec.rehearse (design §6.7): the plan is rehearsed before anything is
// scaled, recorded in status.rehearsal keyed by the plan digest, not
// repeated for the same plan, and a failed rehearsal stops the run with
// RehearsalFailed and the workloads untouched.
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

TEST_F(ReconcilerTest, RehearsalRunsBeforeAnythingIsScaledAndIsRecorded) {
  Obj().spec.rehearse = true;
  std::vector<std::string> seen;
  db_.on_rehearse = [&] {
    // Invariant: while rehearsing, nothing is scaled and the phase says so.
    EXPECT_EQ(Replicas("backend"), 2);
    EXPECT_EQ(Replicas("celery-worker"), 3);
    EXPECT_EQ(kube_.scale_calls(), 0);
    EXPECT_EQ(db_.migrate_calls, 0);
    seen.push_back(core::PhaseName(St().phase));
  };
  RunUntilDone();
  EXPECT_EQ(seen, std::vector<std::string>{"Rehearsing"});
  EXPECT_EQ(db_.rehearse_calls, 1);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded);
  EXPECT_EQ(St().rehearsal->from, "9bc6a98f1c12");
  EXPECT_EQ(St().rehearsal->to, "seed_default_schemas");
  ASSERT_EQ(db_.identities_seen.size(), 1u);
  EXPECT_EQ(St().rehearsal->plan_digest, db_.identities_seen[0].plan_digest);
  EXPECT_DOUBLE_EQ(St().rehearsal->sql_seconds, 1.5);
  EXPECT_TRUE(St().rehearsal->finish_time.has_value());
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerTest, WithoutSpecRehearseNothingIsRehearsed) {
  RunUntilDone();
  EXPECT_EQ(db_.rehearse_calls, 0);
  EXPECT_FALSE(St().rehearsal.has_value());
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerTest, BackupTimeCountsInThePredictedDowntimeWhenABackupIsTaken) {
  Obj().spec.rehearse = true;
  Obj().spec.backup_when = "Always";
  RunUntilDone();
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_DOUBLE_EQ(St().rehearsal->predicted_downtime_seconds, 3.5);
}

TEST_F(ReconcilerTest, AFailedRehearsalStallsWithWorkloadsAndDatabaseUntouched) {
  Obj().spec.rehearse = true;
  db_.rehearsal_failure = Status(Code::kVerificationFailed,
                                 "the rehearsal failed (forward): rows lost in public.items");
  RunUntilDone();
  ExpectNothingTouched();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kRehearsalFailed);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_NE(Cond(ct::kStalled).message.find("rows lost in public.items"), std::string::npos);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_EQ(St().rehearsal->reason, rs::kRehearsalFailed);
  EXPECT_FALSE(St().run.has_value());
  // Not repeated for the same plan, on later passes or resyncs.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(2));
    Reconcile();
  }
  EXPECT_EQ(db_.rehearse_calls, 1);
  ExpectNothingTouched();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kRehearsalFailed);
}

TEST_F(ReconcilerTest, ANewPlanIsRehearsedAgainAfterAFailure) {
  Obj().spec.rehearse = true;
  db_.rehearsal_failure = Status(Code::kSchemaDrift, "the rehearsal failed (reverse): drift");
  RunUntilDone();
  EXPECT_EQ(db_.rehearse_calls, 1);
  db_.rehearsal_failure.reset();
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] =
      "-- revision: seed_default_schemas\n-- migrate:up\nSELECT 2;\n";
  clock_.Advance(std::chrono::minutes(2));
  RunUntilDone();
  EXPECT_EQ(db_.rehearse_calls, 2);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded);
}

TEST_F(ReconcilerTest, AnUnreachableDatabaseDuringRehearsalRetriesWithNothingScaled) {
  Obj().spec.rehearse = true;
  db_.rehearse_error = Status(Code::kUnreachable, "could not connect to " + kUrl);
  ReconcileResult r = Reconcile();
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(St().phase, Phase::kRehearsing);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  ExpectNothingTouched();
  EXPECT_EQ(kube_.AllWrittenText().find(kPassword), std::string::npos);
  db_.rehearse_error.reset();
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.rehearse_calls, 2);
}

TEST_F(ReconcilerTest, ACrashDuringTheRehearsalRehearsesAgainBeforeScaling) {
  Obj().spec.rehearse = true;
  effects_.CrashOn("db:rehearse", /*after_effect=*/true);
  EXPECT_THROW(Reconcile(), SimulatedCrash);
  EXPECT_EQ(St().phase, Phase::kRehearsing);
  ExpectNothingTouched();
  effects_.ClearCrash();
  reconciler_ = NewReconciler();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded);
}

TEST_F(ReconcilerTest, ARehearsalOnARunThreadIsOnlyObservedUntilItEnds) {
  Obj().spec.rehearse = true;
  db_.hold_rehearsals = true;
  for (int i = 0; i < 10 && db_.held_rehearsals.empty(); ++i) {
    Reconcile();
  }
  ASSERT_EQ(db_.held_rehearsals.size(), 1u);
  // The pass returned at once and comes back; nothing ran, nothing scaled.
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile();
    ASSERT_TRUE(r.requeue_after.has_value());
    EXPECT_EQ(St().phase, Phase::kRehearsing);
    EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kRehearsing);
    EXPECT_EQ(db_.rehearse_calls, 0);
    EXPECT_EQ(db_.held_rehearsals.size(), 1u);  // started once
    EXPECT_EQ(kube_.scale_calls(), 0);
  }
  db_.FinishHeldRehearsals();
  RunUntilDone();
  EXPECT_EQ(db_.rehearse_calls, 1);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

}  // namespace
}  // namespace schemaop::reconcile
