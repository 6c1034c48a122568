// Expanding and Contracting (design §3.1, §6.3): a plan with expand
// sections runs them before anything is scaled, the window between the
// drain and ScalingUp, the contract after the writers are back; each phase
// is its own engine run (RunIdentity::phase), so a controller killed in a
// phase resumes that phase and nothing else.
#include <algorithm>
#include <string>
#include <vector>

#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

bool HasEvent(const FakeKube& kube, const std::string& reason) {
  return std::any_of(kube.events.begin(), kube.events.end(),
                     [&](const testing::RecordedEvent& e) { return e.reason == reason; });
}

// What the engine saw when a phase ran: the object's phase, the writers.
struct Seen {
  std::string phase;
  Phase object_phase;
  std::int32_t backend;
  std::int32_t celery;
};

}  // namespace

class ReconcilerPhasesTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    // Each step: section 1 expand, 2 window, 3 contract.
    db_.step_phases = core::StepPhases{{1}, {2}, {3}};
    db_.on_migrate = [this] {
      seen_.push_back({core::RunPhaseName(db_.identities_seen.back().phase), St().phase,
                       Replicas("backend"), Replicas("celery-worker")});
    };
  }
  // Index of the first op starting with `prefix` after `from`, or -1.
  int Op(const std::string& prefix, int from = 0) { return effects_.IndexOf(prefix, from); }
  void KillInExpand(bool after) {
    effects_.CrashOn("db:expand", after);
    try {
      RunUntilDone();
      FAIL() << "never reached db:expand";
    } catch (const SimulatedCrash&) {
    }
    effects_.ClearCrash();
    ASSERT_EQ(St().phase, Phase::kExpanding);
    EXPECT_EQ(kube_.scale_calls(), 0);
    reconciler_ = NewReconciler();
    RunUntilDone();
    ASSERT_EQ(St().phase, Phase::kSucceeded);
    EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand", "window", "contract"));
    // Every expand attempt came before the first scale-down.
    const int first_scale = Op("scale:");
    ASSERT_GE(first_scale, 0);
    for (int i = 0; i < static_cast<int>(effects_.ops().size()); ++i) {
      if (effects_.ops()[static_cast<std::size_t>(i)].rfind("db:expand", 0) == 0) {
        EXPECT_LT(i, first_scale);
      }
    }
  }
  std::vector<Seen> seen_;
};

TEST_F(ReconcilerPhasesTest, ExpandWithWritersUpWindowAtZeroContractWithWritersBack) {
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand", "window", "contract"));
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(seen_[0].object_phase, Phase::kExpanding);
  EXPECT_EQ(seen_[0].backend, 2);  // the writers run during the expand
  EXPECT_EQ(seen_[0].celery, 3);
  EXPECT_EQ(seen_[1].object_phase, Phase::kMigrating);
  EXPECT_EQ(seen_[1].backend, 0);
  EXPECT_EQ(seen_[1].celery, 0);
  EXPECT_EQ(seen_[2].object_phase, Phase::kContracting);
  EXPECT_EQ(seen_[2].backend, 2);  // back before the contract
  EXPECT_EQ(seen_[2].celery, 3);
  // Nothing was scaled before the expand ran.
  const int expand = Op("db:expand");
  const int first_scale = Op("scale:");
  ASSERT_GE(expand, 0);
  EXPECT_LT(expand, first_scale);
  EXPECT_EQ(db_.versions.back(), "seed_default_schemas");
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  // Each phase is its own run.
  ASSERT_EQ(db_.identities_seen.size(), 3u);
  EXPECT_NE(db_.identities_seen[0].Key().find("/phase/expand"), std::string::npos);
  EXPECT_NE(db_.identities_seen[1].Key().find("/phase/window"), std::string::npos);
  EXPECT_NE(db_.identities_seen[2].Key().find("/phase/contract"), std::string::npos);
  // Each phase's time in status, Events and metrics.
  ASSERT_TRUE(St().last_run.has_value());
  ASSERT_TRUE(St().last_run->phase_seconds.has_value());
  EXPECT_EQ(St().last_run->phase_seconds->expand, 1.5);
  EXPECT_EQ(St().last_run->phase_seconds->window, 1.0);  // two steps, 0.5 each
  EXPECT_EQ(St().last_run->phase_seconds->contract, 0.5);
  EXPECT_THAT(metrics_.phase_seconds,
              ::testing::ElementsAre(std::pair<std::string, double>{"expand", 1.5},
                                     std::pair<std::string, double>{"window", 1.0},
                                     std::pair<std::string, double>{"contract", 0.5}));
  for (const char* reason : {rs::kExpanding, rs::kExpanded, rs::kContracting, rs::kContracted}) {
    EXPECT_TRUE(HasEvent(kube_, reason)) << reason;
  }
  // status.plan shows the phases of each step.
  ASSERT_TRUE(St().plan.has_value());
  ASSERT_EQ(St().plan->steps.size(), 2u);
  EXPECT_EQ(St().plan->steps[0].phases, (core::StepPhases{{1}, {2}, {3}}));
}

// The write-downtime ends when the writers are back, not after the contract.
TEST_F(ReconcilerPhasesTest, DowntimeEndsBeforeTheContract) {
  db_.on_migrate = [this] {
    if (db_.identities_seen.back().phase == core::RunPhase::kContract) {
      clock_.Advance(std::chrono::minutes(10));  // a long contract
    }
  };
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_LT(St().last_run->downtime_seconds, 600.0);
}

// A failed expand ends the run: the writers were never touched, the
// version table is at the old revision; Stalled with ExpandFailed.
TEST_F(ReconcilerPhasesTest, FailedExpandNeverTouchesTheWriters) {
  db_.expand_failure = Status(Code::kMigrationFailed, "lock timeout on components");
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(db_.versions.back(), "9bc6a98f1c12");
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand"));
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kExpandFailed);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->reason, rs::kExpandFailed);
  EXPECT_NE(St().last_run->message.find("never touched"), std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(St().last_run->downtime_seconds, 0.0);
}

// A failed contract: the window committed the target and the writers are
// up; nothing is rolled back; Stalled with ContractFailed.
TEST_F(ReconcilerPhasesTest, FailedContractLeavesTheWritersUpAtTheNewRevision) {
  db_.contract_failure = Status(Code::kMigrationFailed, "lock timeout on components");
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(db_.versions.back(), "seed_default_schemas");
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand", "window", "contract"));
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kContractFailed);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->reason, rs::kContractFailed);
  EXPECT_NE(St().last_run->message.find("--phase contract"), std::string::npos);
  EXPECT_TRUE(HasEvent(kube_, rs::kContractFailed));
}

// Invariant (design §3.1): a pending contract is never reported Ready and
// never forgotten by a resync; schemaop.dev/retry runs the contract alone,
// writers untouched.
TEST_F(ReconcilerPhasesTest, AFailedContractStaysReportedUntilARetryRunsItAlone) {
  db_.contract_failure = Status(Code::kMigrationFailed, "lock timeout on components");
  RunUntilDone();
  ASSERT_EQ(Cond(ct::kStalled).reason, rs::kContractFailed);
  ASSERT_EQ(db_.pending_contract.empty(), false);
  const int scales = kube_.scale_calls();
  for (int i = 0; i < 3; ++i) {  // resyncs
    Reconcile();
    kube_.Settle();
  }
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kContractFailed);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(db_.phases_run.size(), 3u);
  db_.contract_failure.reset();
  Obj().metadata.annotations[core::kRetryAnnotation] = "1";
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand", "window", "contract", "contract"));
  EXPECT_EQ(kube_.scale_calls(), scales);  // the writers were never touched
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_TRUE(St().workloads.empty());  // none recorded: none to "restore"
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded);
  EXPECT_EQ(St().last_run->retry, "1");
  EXPECT_EQ(St().last_run->downtime_seconds, 0.0);
  EXPECT_EQ(db_.identities_seen.back().phase, core::RunPhase::kContract);
  Reconcile();  // at the target, nothing pending: nothing runs
  EXPECT_EQ(db_.phases_run.size(), 4u);
}

// Invariant (design §3.1, "A plan change after the expand"): the database
// holds the expand of the run's plan, so a spec change after it never
// drops the run for a new plan: the run's own window follows its expand,
// and the new target is planned once the run has ended.
TEST_F(ReconcilerPhasesTest, ASpecChangeAfterTheExpandFinishesTheRunsOwnPlanFirst) {
  bool edited = false;
  db_.on_migrate = [&] {
    if (!edited && db_.identities_seen.back().phase == core::RunPhase::kExpand) {
      edited = true;
      kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) {
        s.target_revision = "add_flexible_schemas";
      });
    }
  };
  RunUntilDone();
  ASSERT_TRUE(edited);
  // Migrate calls (a replay of the ended expand included): the first call
  // after the expand's that is not the expand again is its plan's window.
  const auto& seen = db_.identities_seen;
  ASSERT_FALSE(seen.empty());
  ASSERT_EQ(seen[0].phase, core::RunPhase::kExpand);
  std::size_t next = 1;
  while (next < seen.size() && seen[next].Key() == seen[0].Key()) {
    ++next;
  }
  ASSERT_LT(next, seen.size());
  EXPECT_EQ(seen[next].phase, core::RunPhase::kWindow);
  EXPECT_EQ(seen[next].plan_digest, seen[0].plan_digest)
      << "the run after the expand belongs to another plan";
  EXPECT_EQ(db_.phases_run.at(1), "window");
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
}

// Killed in Expanding (before or after the engine committed the expand):
// the next controller resumes the expand phase, never scales anything
// during it, and runs each phase exactly once.
TEST_F(ReconcilerPhasesTest, KilledInExpandingBeforeItCommittedResumesTheExpand) {
  KillInExpand(/*after=*/false);
}

TEST_F(ReconcilerPhasesTest, KilledInExpandingAfterItCommittedDoesNotRunItAgain) {
  KillInExpand(/*after=*/true);
}

// Killed in Contracting: the next controller resumes the contract with the
// writers up and never scales them down again.
TEST_F(ReconcilerPhasesTest, KilledInContractingResumesTheContractWithWritersUp) {
  effects_.CrashOn("db:contract", /*after_effect=*/false);
  try {
    RunUntilDone();
    FAIL() << "never reached db:contract";
  } catch (const SimulatedCrash&) {
  }
  effects_.ClearCrash();
  ASSERT_EQ(St().phase, Phase::kContracting);
  const int scales = kube_.scale_calls();
  reconciler_ = NewReconciler();
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(kube_.scale_calls(), scales);  // no scale-down, no second restore
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("expand", "window", "contract"));
}

// A plan without phases runs as before: one engine run, key unchanged.
TEST_F(ReconcilerPhasesTest, PlanWithoutPhasesRunsOnce) {
  db_.step_phases = core::StepPhases{};
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_THAT(db_.phases_run, ::testing::ElementsAre("all"));
  ASSERT_EQ(db_.identities_seen.size(), 1u);
  EXPECT_EQ(db_.identities_seen[0].Key().find("/phase/"), std::string::npos);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_FALSE(St().last_run->phase_seconds.has_value());
  EXPECT_FALSE(HasEvent(kube_, rs::kExpanding));
}

}  // namespace schemaop::reconcile
