// spec.executor Job (design §10): the run path with the fakes. The fake
// Jobs "run" when created (on_job_created) against FakeDatabase, as the
// test says; the reconciler must judge by the database, not the Job.
#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

using Phase_ = JobState::Phase;

class JobRunTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    core::SchemaMigrationSpec& spec = Obj().spec;
    spec.executor = core::kExecutorJob;
    spec.migrations_config_map.clear();
    core::JobSpec job;
    job.preset = core::kPresetGeneric;
    job.image = "registry.example/drawing:1.4.2";
    job.commands[core::kVerbUpgrade] = {"tool", "upgrade", "$TARGET"};
    job.commands[core::kVerbDowngrade] = {"tool", "downgrade", "$TARGET"};
    job.commands[core::kVerbUpgradeSql] = {"tool", "plan", "$FROM:$TARGET"};
    spec.job = job;
    kube_.on_job_created = [this](const std::string&, FakeKube::FakeJob& job) {
      const std::string verb =
          nlohmann::json::parse(job.manifest)["metadata"]["labels"]["schemaop.dev/verb"];
      created_verbs_.push_back(verb);
      if (verb == core::kVerbUpgradeSql) {
        job.state.phase = Phase_::kSucceeded;
        job.log = "BEGIN;\nALTER TABLE components ADD COLUMN schema_id int;\nCOMMIT;\n";
      } else if (verb == core::kVerbUpgrade && upgrade_) {
        upgrade_(job);
      } else if (verb == core::kVerbDowngrade && downgrade_) {
        downgrade_(job);
      }
    };
  }
  int Creates(const std::string& verb) const {
    return static_cast<int>(std::count(created_verbs_.begin(), created_verbs_.end(), verb));
  }
  bool HasEvent(const std::string& reason) const {
    for (const auto& e : kube_.events) {
      if (e.reason == reason) return true;
    }
    return false;
  }

  std::vector<std::string> created_verbs_;
  std::function<void(FakeKube::FakeJob&)> upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"seed_default_schemas"};
    job.state.phase = Phase_::kSucceeded;
    job.log = "migrated to seed_default_schemas\n";
  };
  std::function<void(FakeKube::FakeJob&)> downgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"9bc6a98f1c12"};
    job.state.phase = Phase_::kSucceeded;
  };
};

TEST_F(JobRunTest, SucceedsWithPlanBaselineBackupAndOneJobPerVerb) {
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
  EXPECT_EQ(db_.backup_calls, 1);
  EXPECT_EQ(db_.migrate_calls, 0);  // never run as Files
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded);
  EXPECT_NE(St().last_run->job_log.find("migrated to seed_default_schemas"), std::string::npos);
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  // Order: plan Job, scale-down, baseline, backup, migration Job, restore.
  const int plan = effects_.IndexOf("create-job:drawing-db-plan-up-");
  const int scale = effects_.IndexOf("scale:Deployment/backend=0");
  const int baseline = effects_.IndexOf("db:baseline");
  const int backup = effects_.IndexOf("db:backup");
  const int migrate = effects_.IndexOf("create-job:drawing-db-up-");
  const int restore = effects_.IndexOf("scale:Deployment/backend=2");
  EXPECT_TRUE(plan >= 0 && plan < scale && scale < baseline && baseline < backup &&
              backup < migrate && migrate < restore)
      << plan << " " << scale << " " << baseline << " " << backup << " " << migrate << " "
      << restore;
}

TEST_F(JobRunTest, ThePlanJobsOutputIsThePlanHash) {
  RunUntilDone();
  ASSERT_TRUE(St().plan);
  EXPECT_EQ(St().plan->plan_hash, db_.JobPlanDigest({"9bc6a98f1c12"}, {"seed_default_schemas"},
                                                    "BEGIN;\nALTER TABLE components ADD COLUMN "
                                                    "schema_id int;\nCOMMIT;\n"));
}

// Invariant (design §10.3): the run state names the Job before the Job
// exists; a controller that dies after the create adopts that Job.
TEST_F(JobRunTest, ACrashAfterTheCreateAdoptsTheJobInsteadOfASecond) {
  effects_.CrashOn("create-job:drawing-db-up-", /*after_effect=*/true);
  EXPECT_THROW(RunUntilDone(), SimulatedCrash);
  ASSERT_TRUE(St().run && St().run->job);
  EXPECT_EQ(St().run->job->verb, core::kVerbUpgrade);
  EXPECT_EQ(St().run->job->phase, core::kJobPhaseCreating);  // named, then created
  EXPECT_EQ(kube_.jobs.count(std::string(kNs) + "/" + St().run->job->name), 1u);
  reconciler_ = NewReconciler();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_TRUE(HasEvent("JobAdopted"));
}

TEST_F(JobRunTest, ACrashBeforeTheCreateCreatesItOnce) {
  effects_.CrashOn("create-job:drawing-db-up-", /*after_effect=*/false);
  EXPECT_THROW(RunUntilDone(), SimulatedCrash);
  reconciler_ = NewReconciler();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
}

TEST_F(JobRunTest, AFailedJobIsUndoneByTheDowngradeJob) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"add_flexible_schemas"};  // one step committed, then it died
    job.state = JobState{Phase_::kFailed, "BackoffLimitExceeded",
                         "Job has reached the specified backoff limit", ""};
  };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kMigrationFailed);
  EXPECT_NE(St().last_run->message.find("BackoffLimitExceeded"), std::string::npos);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(db_.restores, 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
}

// Invariant (design §10.4): the revision is read from the version table,
// never trusted from the Job: a Job that "completed" without reaching the
// target is a failure.
TEST_F(JobRunTest, ACompletedJobThatDidNotReachTheTargetIsAFailure) {
  upgrade_ = [](FakeKube::FakeJob& job) {
    job.state.phase = Phase_::kSucceeded;
    job.log = "INFO  [alembic] Running upgrade -> seed_default_schemas\n";  // a lie
  };
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_NE(St().last_run->message.find("the version table says 9bc6a98f1c12"), std::string::npos);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);  // nothing changed: nothing to undo
}

TEST_F(JobRunTest, LostRowsAreRestoredFromTheBackupWhenTheDowngradeCannot) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"seed_default_schemas"};
    db_.rows -= 10;
    job.state.phase = Phase_::kSucceeded;
  };
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kVerificationFailed);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(db_.restores, 1);
  EXPECT_EQ(db_.rows, 5000);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  const int restore = effects_.IndexOf("db:restore");
  EXPECT_LT(restore, effects_.IndexOf("scale:Deployment/backend=2"));  // before the writers
}

TEST_F(JobRunTest, AJobLogNeverCarriesTheSecretIntoStatusOrEvents) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"seed_default_schemas"};
    job.state.phase = Phase_::kSucceeded;
    job.log = "connecting to " + kUrl + "\n\x1b[2Jdone\n";
  };
  RunUntilDone();
  EXPECT_EQ(kube_.AllWrittenText().find(kPassword), std::string::npos);
  EXPECT_EQ(St().last_run->job_log.find('\x1b'), std::string::npos);
}

TEST_F(JobRunTest, TheRunKeepsTheWritersDownWhileTheJobRuns) {
  upgrade_ = [](FakeKube::FakeJob&) {};  // stays active
  for (int i = 0; i < 20; ++i) {
    Reconcile();
    kube_.Settle();
  }
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(Replicas("backend"), 0);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
}

}  // namespace
}  // namespace schemaop::reconcile
