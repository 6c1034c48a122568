// spec.executor Job (design §10): the run path with the fakes. The fake
// Jobs "run" when created (on_job_created) against FakeDatabase, as the
// test says; the reconciler must judge by the database, not the Job.
#include <nlohmann/json.hpp>

#include "core/job_spec.h"
#include "core/version_table.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

using Phase_ = JobState::Phase;

class JobRunTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    kube_.job_deletion_lingers = true;  // a deleted Job is gone one Settle() later
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
      } else if (verb == core::kVerbDowngradeSql) {
        job.state.phase = Phase_::kSucceeded;
        job.log = "BEGIN;\nALTER TABLE components DROP COLUMN schema_id;\nCOMMIT;\n";
      } else if (verb == core::kVerbHeads) {
        job.state.phase = Phase_::kSucceeded;
        job.log = heads_log_;
      } else if (verb == core::kVerbHistory) {
        // The tool's graph: 9bc6a98f1c12 -> add_flexible_schemas -> seed_default_schemas.
        const auto argv = nlohmann::json::parse(job.manifest)["spec"]["template"]["spec"]
                                                             ["containers"][0]["command"];
        const std::string range = argv.back();
        job.state.phase = range == "9bc6a98f1c12:seed_default_schemas" ||
                                  range == "9bc6a98f1c12:add_flexible_schemas" ||
                                  range == "add_flexible_schemas:seed_default_schemas"
                              ? Phase_::kSucceeded
                              : Phase_::kFailed;
        job.log = range + "\n";
      } else if (verb == core::kVerbUpgrade && upgrade_) {
        upgrade_(job);
      } else if (verb == core::kVerbDowngrade && downgrade_) {
        downgrade_(job);
      }
    };
  }
  // Passes until a Job of `verb` exists (it then runs as upgrade_ or
  // downgrade_ says).
  void UntilAJobIsCreated(const std::string& verb) {
    for (int i = 0; i < 20 && Creates(verb) == 0; ++i) {
      Reconcile();
      kube_.Settle();
    }
  }
  void UntilTheUpgradeJobIsCreated() { UntilAJobIsCreated(core::kVerbUpgrade); }
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
  std::string heads_log_ = "seed_default_schemas (head)\n";
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
  // Invariant (design §10.4): each Job's sessions are ended before the
  // operator judges the database after it (and before the undo starts).
  ASSERT_EQ(db_.ended_sessions.size(), 2u);
  EXPECT_EQ(db_.ended_sessions[0].rfind("drawing-db-up-", 0), 0u) << db_.ended_sessions[0];
  EXPECT_EQ(db_.ended_sessions[1].rfind("drawing-db-down-", 0), 0u) << db_.ended_sessions[1];
  EXPECT_LT(effects_.IndexOf("db:end-sessions:drawing-db-up-"),
            effects_.IndexOf("create-job:drawing-db-down-"));
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

// A target behind the database (design §10.5): the history Job places it,
// the run is planned by downgradeSql and run by the downgrade Job; the
// upgrade Job is never created.
class JobDowngradeTest : public JobRunTest {
 protected:
  void SetUp() override {
    JobRunTest::SetUp();
    Obj().spec.target_revision = "9bc6a98f1c12";
    db_.versions = {"seed_default_schemas"};
    Obj().spec.job->commands[core::kVerbHistory] = {"tool", "history", "$FROM:$TARGET"};
    Obj().spec.job->commands[core::kVerbDowngradeSql] = {"tool", "plan-down", "$FROM:$TARGET"};
  }
};

TEST_F(JobDowngradeTest, TheHistoryJobMakesItADowngradePlannedAndRunAsOne) {
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbHistory), 1);
  EXPECT_EQ(Creates(core::kVerbDowngradeSql), 1);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 0);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(St().current_revision, "9bc6a98f1c12");
  ASSERT_TRUE(St().plan);
  EXPECT_EQ(St().plan->direction, "downgrade");
  EXPECT_EQ(St().plan->plan_hash,
            db_.JobPlanDigest({"seed_default_schemas"}, {"9bc6a98f1c12"},
                              "BEGIN;\nALTER TABLE components DROP COLUMN schema_id;\nCOMMIT;\n"));
  EXPECT_EQ(db_.backup_calls, 1);
  EXPECT_EQ(Replicas("backend"), 2);
  // Order: history Job, plan Job, scale-down, backup, downgrade Job.
  const int history = effects_.IndexOf("create-job:drawing-db-history-");
  const int plan = effects_.IndexOf("create-job:drawing-db-plan-down-");
  const int scale = effects_.IndexOf("scale:Deployment/backend=0");
  const int backup = effects_.IndexOf("db:backup");
  const int run = effects_.IndexOf("create-job:drawing-db-down-");
  EXPECT_TRUE(history >= 0 && history < plan && plan < scale && scale < backup && backup < run)
      << history << " " << plan << " " << scale << " " << backup << " " << run;
}

TEST_F(JobDowngradeTest, AnUpgradeKeepsItsPathWhenTheHistoryJobPlacesTheTargetAhead) {
  Obj().spec.target_revision = "seed_default_schemas";
  db_.versions = {"9bc6a98f1c12"};
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbHistory), 1);
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(Creates(core::kVerbDowngradeSql), 0);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
  EXPECT_EQ(St().plan->direction, "upgrade");
}

// Invariant (design §10.4, §10.5): a failed downgrade is undone to the
// start revision before the writers come back, by the tool's upgrade.
TEST_F(JobDowngradeTest, AFailedDowngradeIsUndoneByTheUpgradeJob) {
  downgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"add_flexible_schemas"};  // one step down, then it died
    job.state = JobState{Phase_::kFailed, "BackoffLimitExceeded", "backoff limit", ""};
  };
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kMigrationFailed);
  EXPECT_NE(St().last_run->message.find("The upgrade Job"), std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(db_.restores, 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  const int undo = effects_.IndexOf("create-job:drawing-db-up-");
  EXPECT_GT(undo, effects_.IndexOf("create-job:drawing-db-down-"));
  EXPECT_LT(undo, effects_.IndexOf("scale:Deployment/backend=2"));
}

// A downgrade that loses rows (a dropped table that held data) is a loss
// unless spec.verify.allowRowLoss declares it: undone like any loss.
TEST_F(JobDowngradeTest, ADowngradeThatLosesRowsIsUndone) {
  downgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"9bc6a98f1c12"};
    db_.rows -= 10;
    job.state.phase = Phase_::kSucceeded;
  };
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kVerificationFailed);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(db_.rows, 5000);
}

// versionLayout GolangMigrate without a history command (design §10.8):
// golang-migrate's numbers place the target, so a lower number is a
// downgrade (its row-loss rules, its undo by upgrade), a higher one an
// upgrade. Without the layout a lower number would be planned as an upgrade.
class JobGolangMigrateTest : public JobRunTest {
 protected:
  // A run from `from` to `to`; either Job reaches `to`.
  void Run(const std::string& from, const std::string& to) {
    Obj().spec.version_layout = core::kVersionLayoutGolangMigrate;
    Obj().spec.version_table = "schema_migrations";
    Obj().spec.target_revision = to;
    db_.versions = {from};
    upgrade_ = downgrade_ = [this, to](FakeKube::FakeJob& job) {
      db_.versions = {to};
      job.state.phase = Phase_::kSucceeded;
    };
    RunUntilDone();
    ASSERT_EQ(St().phase, Phase::kSucceeded);
    ASSERT_TRUE(St().plan);
    EXPECT_EQ(St().current_revision, to);
  }
};

TEST_F(JobGolangMigrateTest, ALowerNumberIsADowngrade) {
  Run("20240301120000", "20240101000000");
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  EXPECT_EQ(St().plan->direction, "downgrade");
}

TEST_F(JobGolangMigrateTest, AHigherNumberIsAnUpgrade) {
  Run("20240101000000", "20240301120000");
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
  EXPECT_EQ(St().plan->direction, "upgrade");
}

// Design §10.6: schemaop.dev/abort while the Job runs deletes the Job
// (Foreground: gone with its pod), ends its sessions, and undoes what the
// tool committed before the writers come back.
TEST_F(JobRunTest, AbortDeletesTheRunningJobAndUndoesWhatItCommitted) {
  upgrade_ = [this](FakeKube::FakeJob&) {
    db_.versions = {"add_flexible_schemas"};  // one step committed; the Job runs on
  };
  UntilTheUpgradeJobIsCreated();
  ASSERT_EQ(St().phase, Phase::kMigrating);
  Obj().metadata.annotations[core::kAnnotationAbort] = "now";
  RunUntilDone();
  EXPECT_EQ(St().handled_abort, "now");
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kAborted);
  EXPECT_NE(St().last_run->message.find("Migration cancelled (aborted by the annotation"),
            std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kAborted);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  const int deleted = effects_.IndexOf("delete-job:drawing-db-up-");
  const int ended = effects_.IndexOf("db:end-sessions:drawing-db-up-");
  EXPECT_TRUE(deleted >= 0 && deleted < ended) << deleted << " " << ended;
  EXPECT_TRUE(HasEvent(rs::kAborted));
}

// Design §10.4 on deletion: `kubectl delete --cascade=foreground` removes
// the running Job (and kills its pod) before the object. Its statement may
// still run in the server; the writers come back only after the Job's
// sessions were ended, and not while the Job is active.
TEST_F(JobRunTest, DeletionMidJobEndsTheJobsSessionsBeforeTheWritersReturn) {
  upgrade_ = [](FakeKube::FakeJob&) {};  // runs until deleted
  UntilTheUpgradeJobIsCreated();
  ASSERT_EQ(St().phase, Phase::kMigrating);
  ASSERT_EQ(Replicas("backend"), 0);
  const std::string job = St().run->job->name;
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  EXPECT_EQ(Replicas("backend"), 0) << "the Job is still active";
  ASSERT_TRUE(kube_.DeleteJob(kNs, job).ok());  // the foreground cascade
  kube_.Settle();                                // the pod stopped, the Job gone
  Reconcile();
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(kube_.objects.count(std::string(kNs) + "/" + kName), 0u) << "finalizer removed";
  const int ended = effects_.IndexOf("db:end-sessions:" + job);
  ASSERT_GE(ended, 0) << "the Job's sessions were not ended";
  EXPECT_LT(ended, effects_.IndexOf("scale:Deployment/backend=2"));
}

// The same when the database cannot be named any more (its Secret went
// first): the pass backs off, writing nothing, for at most the drain
// timeout after the deletion; then the writers come back (never kept at
// zero for good) and a Warning names the query that ends what may be left.
TEST_F(JobRunTest, DeletionMidJobWithoutItsSecretStillRestoresTheWriters) {
  upgrade_ = [](FakeKube::FakeJob&) {};
  UntilTheUpgradeJobIsCreated();
  ASSERT_EQ(St().phase, Phase::kMigrating);
  const std::string job = St().run->job->name;
  kube_.secrets.clear();
  kube_.MarkDeleted(kNs, kName, clock_.now);
  ASSERT_TRUE(kube_.DeleteJob(kNs, job).ok());
  kube_.Settle();
  const int writes = kube_.status_writes();
  ReconcileResult r = Reconcile();
  EXPECT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(Replicas("backend"), 0) << "within the drain timeout the sessions are retried";
  EXPECT_EQ(kube_.status_writes(), writes) << "nothing written to the deleting object";
  clock_.Advance(std::chrono::seconds(Obj().spec.drain_timeout_seconds + 1));
  Reconcile();
  EXPECT_EQ(Replicas("backend"), 2);
  bool named = false;
  for (const auto& e : kube_.events) {
    named = named || (e.type == EventType::kWarning && e.reason == "JobSessionsUnchecked" &&
                      e.message.find("application_name = '" + job + "'") != std::string::npos);
  }
  EXPECT_TRUE(named);
}

TEST_F(JobRunTest, TheDowntimeBudgetDeletesARunningJob) {
  Obj().spec.max_downtime_seconds = 5;
  upgrade_ = [](FakeKube::FakeJob&) {};  // never ends by itself
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kDowntimeExceeded);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kDowntimeExceeded);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);  // nothing was committed
  EXPECT_GE(effects_.IndexOf("delete-job:drawing-db-up-"), 0);
  EXPECT_EQ(Replicas("backend"), 2);
}

// targetRevision head (design §10.7): the heads Job names the head, which
// is pinned for the generation and the Job inputs.
class JobHeadTest : public JobRunTest {
 protected:
  void SetUp() override {
    JobRunTest::SetUp();
    Obj().spec.target_revision = "head";
    Obj().spec.job->commands[core::kVerbHeads] = {"tool", "heads"};
  }
  void Resync(int passes) {
    for (int i = 0; i < passes; ++i) {
      Reconcile();
      kube_.Settle();
    }
  }
};

TEST_F(JobHeadTest, TheHeadsJobNamesTheTargetOnceForTheGeneration) {
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbHeads), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  EXPECT_EQ(St().target_revision, "seed_default_schemas");
  ASSERT_TRUE(St().resolved_target);
  EXPECT_EQ(St().resolved_target->target_revision, "head");
  EXPECT_EQ(St().resolved_target->revision, "seed_default_schemas");
  // The upgrade Job got the resolved revision, never the word head.
  for (const auto& [key, job] : kube_.jobs) {
    EXPECT_EQ(job.manifest.find("\"head\""), std::string::npos) << key;
  }
  Resync(5);  // resyncs reuse the pinned head: no second heads Job, no run
  EXPECT_EQ(Creates(core::kVerbHeads), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
}

TEST_F(JobHeadTest, ADatabaseAlreadyAtHeadIsNeitherScaledNorMigrated) {
  db_.versions = {"seed_default_schemas"};
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbHeads), 1);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 0);
  EXPECT_EQ(db_.backup_calls, 0);
  EXPECT_EQ(effects_.IndexOf("scale:"), -1);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  ASSERT_TRUE(St().last_run);
  EXPECT_NE(St().last_run->message.find("already at head seed_default_schemas"),
            std::string::npos);
  Resync(5);
  EXPECT_EQ(Creates(core::kVerbHeads), 1);
}

TEST_F(JobHeadTest, SeveralHeadsStopBeforeAnythingIsScaled) {
  heads_log_ = "branch_a (head)\nbranch_b (head)\n";
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, "JobPlanFailed");
  EXPECT_NE(Cond(ct::kStalled).message.find("several heads (branch_a, branch_b)"),
            std::string::npos)
      << Cond(ct::kStalled).message;
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  EXPECT_EQ(effects_.IndexOf("scale:"), -1);
}

// Invariant (design §10.3): the database decides a run, not the Job. A
// Job removed (by a short TTL, or by hand) before the operator saw it end
// does not undo a migration the database shows complete and verified; one
// removed before the target was reached is undone.
TEST_F(JobRunTest, AJobGoneAfterItsMigrationIsJudgedByTheDatabaseAlone) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"seed_default_schemas"};
    job.state.phase = Phase_::kSucceeded;
    const auto manifest = nlohmann::json::parse(job.manifest);
    kube_.deleting_jobs.insert(std::string(kNs) + "/" + manifest["metadata"]["name"].get<std::string>());
  };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded) << St().last_run->message;
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
  EXPECT_EQ(db_.restores, 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(JobRunTest, AJobGoneBeforeTheTargetIsUndone) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    db_.versions = {"add_flexible_schemas"};  // one step of two, then deleted
    const auto manifest = nlohmann::json::parse(job.manifest);
    kube_.deleting_jobs.insert(std::string(kNs) + "/" + manifest["metadata"]["name"].get<std::string>());
  };
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack) << St().last_run->message;
  EXPECT_NE(St().last_run->message.find("is gone"), std::string::npos) << St().last_run->message;
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
}

// spec.approval Manual with executor Job: the plan Job's output is the
// plan. Invariant: nothing is scaled, backed up or migrated until its hash
// is approved, and an approved hash runs only the plan it names.
class JobApprovalTest : public JobRunTest {
 protected:
  void SetUp() override {
    JobRunTest::SetUp();
    kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.approval = "Manual"; });
  }
  void UntilWaiting() {
    for (int i = 0; i < 10; ++i) {
      Reconcile();
      kube_.Settle();
    }
    ASSERT_EQ(St().phase, Phase::kPlanning);
    ASSERT_EQ(Cond(ct::kReconciling).reason, rs::kAwaitingApproval) << Cond(ct::kReady).message;
    ASSERT_TRUE(St().plan.has_value());
  }
  void Approve(const std::string& hash) {
    kube_.EditSpec(kNs, kName, [&](core::SchemaMigrationSpec& s) { s.approved_plan_hash = hash; });
  }
};

TEST_F(JobApprovalTest, ThePlanJobsHashWaitsForApprovalThenRuns) {
  UntilWaiting();
  const std::string hash = St().plan->plan_hash;
  EXPECT_TRUE(core::IsPlanHash(hash)) << hash;
  EXPECT_EQ(St().run->plan_digest, hash);
  const std::string& message = Cond(ct::kReady).message;
  const std::string prefix = "kubectl logs -n drawing job/";
  const std::size_t at = message.find(prefix);
  ASSERT_NE(at, std::string::npos) << message;
  const std::string named = message.substr(at + prefix.size(), message.find(' ', at + prefix.size()) - at - prefix.size());
  EXPECT_EQ(kube_.jobs.count(std::string(kNs) + "/" + named), 1u) << named << " is not the plan Job";
  EXPECT_EQ(message.find("schemaop plan"), std::string::npos) << message;
  EXPECT_NE(message.find("\"approvedPlanHash\":\"" + hash), std::string::npos) << message;
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 1);  // waiting runs no second plan Job
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  ExpectNothingTouched();
  Approve(hash);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(JobApprovalTest, AnApprovalOfAPlanTheDatabaseLeftRunsNothing) {
  UntilWaiting();
  const std::string hash = St().plan->plan_hash;
  db_.versions = {"add_flexible_schemas"};  // moved by someone else while waiting
  Approve(hash);
  for (int i = 0; i < 10; ++i) {
    Reconcile();
    kube_.Settle();
  }
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  EXPECT_EQ(effects_.IndexOf("scale:"), -1);
  EXPECT_EQ(db_.backup_calls, 0);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kAwaitingApproval);
  ASSERT_TRUE(St().plan.has_value());
  EXPECT_NE(St().plan->plan_hash, hash);
  EXPECT_EQ(St().run->from_versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 2);  // the new start's plan Job
}

// Invariant (design §10.4): a Job that brings the database to a revision
// it was at before must give it the schema recorded there; a different one
// is undone (SchemaDrift), unless spec.verify.schema is Ignore.
TEST_F(JobRunTest, ARevisionSeenBeforeWithAnotherSchemaIsUndone) {
  db_.seen_before_drift.insert("seed_default_schemas");
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack) << St().last_run->message;
  EXPECT_EQ(St().last_run->reason, rs::kSchemaDrift);
  EXPECT_NE(St().last_run->message.find("index public.components_schema_idx is missing"),
            std::string::npos)
      << St().last_run->message;
  EXPECT_NE(St().last_run->message.find("spec.verify.schema: Ignore"), std::string::npos);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(JobRunTest, VerifySchemaIgnoreAcceptsARevisionSeenBeforeWithAnotherSchema) {
  db_.seen_before_drift.insert("seed_default_schemas");
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.verify_schema = "Ignore"; });
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded) << St().last_run->message;
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
}

// Design §10.6: the tool commits on its own; a Job that completed at the
// target while its deletion for an abort was under way is a success.
TEST_F(JobRunTest, AJobThatCompletedAsTheCancelWasRecordedIsASuccess) {
  upgrade_ = [](FakeKube::FakeJob&) {};  // active
  UntilTheUpgradeJobIsCreated();
  const std::string name = St().run->job->name;
  Obj().metadata.annotations[core::kAnnotationAbort] = "late";
  Reconcile();  // the cancel recorded, the Job's deletion asked (it lingers)
  ASSERT_EQ(St().run->cancel_reason, rs::kAborted);
  FakeKube::FakeJob& job = kube_.jobs.at(std::string(kNs) + "/" + name);
  job.state.phase = Phase_::kSucceeded;  // the tool finished before its pod stopped
  db_.versions = {"seed_default_schemas"};
  kube_.deleting_jobs.clear();
  RunUntilDone();
  ASSERT_TRUE(St().last_run);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded) << St().last_run->message;
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// A Secret, ConfigMap or key that spec.job.env / envFrom names but that is
// not there would hold the Job's pod (and the writers at zero) until the
// Job's deadline: the run stops before anything is scaled, naming it.
TEST_F(JobRunTest, AMissingSettingsReferenceStopsTheRunBeforeAnythingIsScaled) {
  Obj().spec.job->env = {{"SENTRY_DSN", "", "drawing-sentry", "", "dsn"}};
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSecretNotFound);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.job.env[0] (SENTRY_DSN) names key dsn of "
                                            "Secret drawing-sentry"),
            std::string::npos)
      << Cond(ct::kStalled).message;
  EXPECT_EQ(Creates(core::kVerbUpgradeSql), 0);
  ExpectNothingTouched();
}

TEST_F(JobRunTest, AMissingEnvFromConfigMapStopsTheRunBeforeAnythingIsScaled) {
  Obj().spec.job->env_from = {{"drawing-config", ""}};
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSecretNotFound);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.job.envFrom[0] names ConfigMap drawing-config"),
            std::string::npos)
      << Cond(ct::kStalled).message;
  ExpectNothingTouched();
  // Present: the run goes on.
  kube_.config_maps[std::string(kNs) + "/drawing-config"] = {{"APP_SETTINGS", "production"}};
  kube_.secrets[std::string(kNs) + "/drawing-sentry"] = {{"dsn", "https://sentry.example/1"}};
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) {
    s.job->env = {{"SENTRY_DSN", "", "drawing-sentry", "", "dsn"}};
  });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
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

// spec.rehearse with executor Job (design §10.9): the tool's Jobs run on a
// scratch copy first. Here each Job acts on the database its URL names, as
// a real tool does: the value of the Secret its env references.
class JobRehearsalTest : public JobRunTest {
 protected:
  void SetUp() override {
    JobRunTest::SetUp();
    Obj().spec.rehearse = true;
    upgrade_ = [this](FakeKube::FakeJob& job) { Run(job, {"seed_default_schemas"}); };
    downgrade_ = [this](FakeKube::FakeJob& job) { Run(job, {"9bc6a98f1c12"}); };
  }
  void Run(FakeKube::FakeJob& job, std::vector<std::string> to) {
    const auto manifest = nlohmann::json::parse(job.manifest);
    const auto& ref =
        manifest["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"];
    const std::string url = kube_.secrets.at(std::string(kNs) + "/" + ref["name"].get<std::string>())
                                .at(ref["key"].get<std::string>());
    const std::string verb = manifest["metadata"]["labels"]["schemaop.dev/verb"];
    urls_.push_back(verb + " " + url);
    job.state.phase = Phase_::kSucceeded;
    job.state.seconds = 2.5;
    if (url == kUrl) {
      if (verb == core::kVerbUpgrade) {
        main_versions_at_real_upgrade_ = db_.versions;
      }
      db_.versions = std::move(to);
      return;
    }
    for (auto& [key, scratch] : db_.scratches) {
      if (scratch.url == url) {
        if (verb == fail_on_copy_) {
          job.state.phase = Phase_::kFailed;
          job.state.reason = "BackoffLimitExceeded";
          job.log = "alembic: error in " + verb + "\n";
          return;
        }
        scratch.versions = std::move(to);
        scratch.schema_drift = verb == core::kVerbDowngrade && drift_after_undo_;
        return;
      }
    }
    ADD_FAILURE() << "a Job got a URL that is neither the database's nor a copy's: " << url;
  }
  void UntilTheRehearsalJobRuns() {
    upgrade_ = [](FakeKube::FakeJob&) {};  // stays active
    UntilTheUpgradeJobIsCreated();
    ASSERT_EQ(Creates(core::kVerbUpgrade), 1);
    ASSERT_EQ(St().phase, Phase::kRehearsing);
    ASSERT_TRUE(St().run->job.has_value());
    ASSERT_EQ(kube_.secrets.size(), 2u);
    ASSERT_EQ(db_.scratches.size(), 1u);
  }
  // Neither the rehearsal's Job nor its Secret nor its copy is left.
  void ExpectTheRehearsalGone() {
    for (const auto& [name, job] : kube_.jobs) {
      EXPECT_NE(name.rfind(std::string(kNs) + "/drawing-db-up-", 0), 0u) << name << " is left";
    }
    EXPECT_EQ(kube_.secrets.size(), 1u);
    EXPECT_TRUE(db_.scratches.empty());
    EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
    EXPECT_EQ(Replicas("backend"), 2);
  }
  std::vector<std::string> urls_;  // "verb url" of each upgrade/downgrade Job, in order
  std::vector<std::string> main_versions_at_real_upgrade_;
  std::string fail_on_copy_;
  bool drift_after_undo_ = false;
};

// Invariant: a rehearsal never moves the database; its Jobs get only the
// copy's URL, from a Secret that is gone when the rehearsal ends.
TEST_F(JobRehearsalTest, TheToolsJobsRunOnACopyForwardAndBackBeforeTheRealRun) {
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded) << St().rehearsal->message;
  EXPECT_EQ(St().rehearsal->plan_digest, St().plan->plan_hash);
  EXPECT_DOUBLE_EQ(St().rehearsal->sql_seconds, 2.5);  // the forward Job's time
  const std::string copy = std::string(FakeDatabase::kScratchUrlPrefix) + "1";
  EXPECT_EQ(urls_, (std::vector<std::string>{"upgrade " + copy, "downgrade " + copy,
                                             "upgrade " + std::string(kUrl)}));
  // The database was at the start until the real upgrade, after the rehearsal.
  EXPECT_EQ(main_versions_at_real_upgrade_, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(db_.scratch_copies, 1);
  EXPECT_EQ(db_.scratch_drops, 1);
  EXPECT_TRUE(db_.scratches.empty());
  // Only the database's own Secret is left; the copy's went before the copy.
  EXPECT_EQ(kube_.secrets.size(), 1u);
  const int secret_gone = effects_.IndexOf("delete-secret:drawing-db-scratch-url-");
  EXPECT_TRUE(secret_gone >= 0 && secret_gone < effects_.IndexOf("db:scratch-drop"));
  // Nothing was scaled before the rehearsal ended.
  EXPECT_LT(effects_.IndexOf("db:scratch-drop"), effects_.IndexOf("scale:Deployment/backend=0"));
  // The rehearsal's Jobs ended their sessions in the copy, the real run's
  // in the database.
  EXPECT_EQ(db_.ended_session_urls, (std::vector<std::string>{copy, copy, std::string(kUrl)}));
}

TEST_F(JobRehearsalTest, AFailedForwardJobOnTheCopyStopsWithNothingScaled) {
  fail_on_copy_ = core::kVerbUpgrade;
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kRehearsalFailed);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_NE(St().rehearsal->message.find("alembic: error in upgrade"), std::string::npos)
      << St().rehearsal->message;
  ExpectNothingTouched();
  EXPECT_EQ(kube_.secrets.size(), 1u);
  EXPECT_TRUE(db_.scratches.empty());
  // The same generation does not rehearse again.
  const int jobs = kube_.job_creates;
  for (int i = 0; i < 5; ++i) {
    Reconcile();
    kube_.Settle();
  }
  EXPECT_EQ(kube_.job_creates, jobs);
  EXPECT_EQ(db_.scratch_copies, 1);
}

TEST_F(JobRehearsalTest, ADowngradeThatDoesNotRestoreTheSchemaFailsTheRehearsal) {
  drift_after_undo_ = true;
  RunUntilDone();
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_NE(St().rehearsal->message.find("the schema differs from the copy's start"),
            std::string::npos)
      << St().rehearsal->message;
  ExpectNothingTouched();
}

// A restarted controller holds no copy: the Job of the earlier attempt is
// deleted and gone before a new copy is made, so no two rehearsal Jobs run.
TEST_F(JobRehearsalTest, ARestartMidRehearsalStartsOverWithOneJobAtATime) {
  upgrade_ = [](FakeKube::FakeJob&) {};  // stays active
  UntilTheUpgradeJobIsCreated();
  ASSERT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(St().phase, Phase::kRehearsing);
  db_.scratches.clear();  // the process restarted: its copy is unknown
  upgrade_ = [this](FakeKube::FakeJob& job) { Run(job, {"seed_default_schemas"}); };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.scratch_copies, 2);
  // Deleted, then waited for until gone, then the second copy.
  const int deleted = effects_.IndexOf("delete-job:drawing-db-up-");
  const int gone = effects_.IndexOf("job-gone:drawing-db-up-");
  const int second_copy = effects_.IndexOf("db:scratch-copy", effects_.IndexOf("db:scratch-copy") + 1);
  EXPECT_TRUE(deleted >= 0 && deleted < gone && gone < second_copy)
      << deleted << " " << gone << " " << second_copy;
}

// Every way out of a rehearsal takes its Job, Secret and copy with it:
// a copy's URL never outlives the copy, and no rehearsal Job runs on.
TEST_F(JobRehearsalTest, SuspendMidRehearsalDeletesItsJobSecretAndCopy) {
  UntilTheRehearsalJobRuns();
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.suspend = true; });
  for (int i = 0; i < 10; ++i) {
    Reconcile();
    kube_.Settle();
  }
  ExpectTheRehearsalGone();
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  EXPECT_EQ(Creates(core::kVerbDowngrade), 0);
}

TEST_F(JobRehearsalTest, RehearseTurnedOffMidRehearsalDeletesItsJobSecretAndCopy) {
  UntilTheRehearsalJobRuns();
  const std::string job = St().run->job->name;
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.rehearse = false; });
  upgrade_ = [this](FakeKube::FakeJob& j) { Run(j, {"seed_default_schemas"}); };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  // The rehearsal Job was gone before the real one was created.
  const int deleted = effects_.IndexOf("delete-job:" + job);
  const int real = effects_.IndexOf("create-job:drawing-db-up-", deleted);
  EXPECT_TRUE(deleted >= 0 && real > deleted) << deleted << " " << real;
  EXPECT_EQ(kube_.secrets.size(), 1u);
  EXPECT_TRUE(db_.scratches.empty());
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

TEST_F(JobRehearsalTest, AbortMidRehearsalDeletesItsJobSecretAndCopy) {
  UntilTheRehearsalJobRuns();
  Obj().metadata.annotations[core::kAnnotationAbort] = "stop";
  RunUntilDone();
  EXPECT_EQ(St().handled_abort, "stop");
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kAborted);
  EXPECT_NE(Cond(ct::kStalled).message.find("during the rehearsal"), std::string::npos)
      << Cond(ct::kStalled).message;
  ExpectTheRehearsalGone();
  ExpectNothingTouched();
}

// A recorded rehearsal Job that vanished has an unknown outcome: it is
// never created a second time, and the rehearsal fails naming why.
TEST_F(JobRehearsalTest, ARehearsalJobGoneBeforeItsOutcomeWasReadFailsTheRehearsal) {
  UntilTheRehearsalJobRuns();
  ASSERT_TRUE(kube_.DeleteJob(kNs, St().run->job->name).ok());
  RunUntilDone();
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_NE(St().rehearsal->message.find("the Job is gone before the operator read its outcome"),
            std::string::npos)
      << St().rehearsal->message;
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);
  ExpectTheRehearsalGone();
}

// Hostile image: a tool that ignores the env it is given and migrates the
// database its image names. The operator cannot stop it, but it reads the
// database after every rehearsal Job and says so instead of going on.
TEST_F(JobRehearsalTest, AToolThatIgnoresItsUrlFailsTheRehearsalNamingTheEnv) {
  upgrade_ = [this](FakeKube::FakeJob& job) {
    job.state.phase = Phase_::kSucceeded;
    db_.versions = {"seed_default_schemas"};  // the database, not the copy
  };
  RunUntilDone();
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_NE(St().rehearsal->message.find("the database itself moved during the rehearsal"),
            std::string::npos)
      << St().rehearsal->message;
  EXPECT_NE(St().rehearsal->message.find(Obj().spec.job->url_env), std::string::npos);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kRehearsalFailed);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 1);  // no real run followed
  EXPECT_EQ(effects_.IndexOf("scale:"), -1);
}

// A failed rehearsal blocks its generation until the retry annotation.
TEST_F(JobRehearsalTest, TheRetryAnnotationRehearsesAgain) {
  fail_on_copy_ = core::kVerbUpgrade;
  RunUntilDone();
  ASSERT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  fail_on_copy_.clear();
  Obj().metadata.annotations[core::kRetryAnnotation] = "again";
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded) << St().rehearsal->message;
  EXPECT_EQ(db_.scratch_copies, 2);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// A restart while the undo Job runs: the finished forward Job of the same
// key is deleted too, not adopted and judged against the new copy.
TEST_F(JobRehearsalTest, ARestartDuringTheUndoJobStartsOverWithBothJobsGone) {
  downgrade_ = [](FakeKube::FakeJob&) {};  // stays active
  UntilAJobIsCreated(core::kVerbDowngrade);
  ASSERT_EQ(Creates(core::kVerbDowngrade), 1);
  ASSERT_EQ(St().phase, Phase::kRehearsing);
  db_.scratches.clear();  // the process restarted: its copy is unknown
  downgrade_ = [this](FakeKube::FakeJob& job) { Run(job, {"9bc6a98f1c12"}); };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeSucceeded) << St().rehearsal->message;
  EXPECT_EQ(db_.scratch_copies, 2);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 3);  // twice on copies, once for real
}

// A Secret of the rehearsal's name that another object owns is left, and
// does not hold up the abort.
TEST_F(JobRehearsalTest, AForeignSecretOfTheNameDoesNotHoldUpTheAbort) {
  UntilTheRehearsalJobRuns();
  for (const auto& [name, data] : kube_.secrets) {
    if (name.find("scratch-url") != std::string::npos) {
      kube_.foreign_secrets.insert(name);
    }
  }
  ASSERT_EQ(kube_.foreign_secrets.size(), 1u);
  Obj().metadata.annotations[core::kAnnotationAbort] = "stop";
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kAborted);
  EXPECT_TRUE(db_.scratches.empty());
  EXPECT_EQ(kube_.secrets.size(), 2u);  // the foreign one stays
  ExpectNothingTouched();
}

TEST_F(JobRehearsalTest, ACopyThatCannotBeMadeIsNamedAndNothingRuns) {
  db_.scratch_error = Status(Code::kMigrationFailed,
                             "role \"app\" may not create databases: grant CREATEDB",
                             "42501");
  RunUntilDone();
  ASSERT_TRUE(St().rehearsal.has_value());
  EXPECT_EQ(St().rehearsal->outcome, core::kOutcomeFailed);
  EXPECT_NE(St().rehearsal->message.find("CREATEDB"), std::string::npos);
  EXPECT_EQ(Creates(core::kVerbUpgrade), 0);
  ExpectNothingTouched();
}

}  // namespace
}  // namespace schemaop::reconcile
