// The reconciler when a run fails (design §6.3): every failure restores the
// workloads; transient ones keep the writers down and retry; a crash at any
// side effect is finished by a new reconciler from status (design §7).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

// ------------------------------------------------------------------ failures

TEST_F(ReconcilerTest, VerificationFailureRestoresWorkloadsAndStalls) {
  db_.verification_failure =
      Status(Code::kVerificationFailed, "row count of components dropped from 120 to 0");
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"}) << "database unchanged";
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kVerificationFailed);
  EXPECT_NE(Cond(ct::kStalled).message.find("components dropped"), std::string::npos);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kVerified).status, ConditionStatus::kFalse);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().current_revision, "9bc6a98f1c12");
  EXPECT_LT(effects_.IndexOf("status:RollingBack"), effects_.IndexOf("status:ScalingUp"));
  EXPECT_GE(effects_.IndexOf("event:RolledBack"), 0);
  EXPECT_EQ(metrics_.runs, std::vector<std::string>{"RolledBack"});

  // Not retried in a loop: the same input does not start another run.
  const int migrations = db_.migrate_calls;
  const int scales = kube_.scale_calls();
  const int writes = kube_.status_writes();
  clock_.Advance(std::chrono::minutes(5));
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, migrations);
  EXPECT_EQ(kube_.scale_calls(), scales);
  EXPECT_EQ(kube_.status_writes(), writes);

  // A changed migrations ConfigMap (the fix) starts a new run.
  db_.verification_failure.reset();
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] += "-- fixed\n";
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// Valid UTF-8 (RFC 3629 shapes, no truncated sequences).
bool IsValidUtf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

// An engine message can be arbitrarily long (a verification check's SQL
// error, a chain of causes). The CRD caps condition messages at 32768 bytes:
// a longer one makes every status write fail with 422, and the run could
// never record its outcome. Messages are cut on a UTF-8 boundary.
TEST_F(ReconcilerTest, HugeFailureMessageIsCutToABoundedValidUtf8Message) {
  std::string huge = "row count of gr\xC3\xBC" "ne changed: ";
  while (huge.size() < 100000) {
    huge += "\xC3\xA9";  // two bytes: a cut at an odd offset would split one
  }
  db_.verification_failure = Status(Code::kVerificationFailed, huge);
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kVerificationFailed);
  for (const core::Condition& c : St().conditions) {
    EXPECT_LE(c.message.size(), 32768u) << c.type;
    EXPECT_TRUE(IsValidUtf8(c.message)) << c.type;
    EXPECT_FALSE(c.message.empty()) << c.type;
  }
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_LE(St().last_run->message.size(), 32768u);
  EXPECT_TRUE(IsValidUtf8(St().last_run->message));
  EXPECT_NE(Cond(ct::kStalled).message.find("row count of gr\xC3\xBC" "ne"), std::string::npos);
  for (const auto& event : kube_.events) {
    EXPECT_TRUE(IsValidUtf8(event.message)) << event.reason;
    EXPECT_LE(event.message.size(), 32768u) << event.reason;
  }
}

// Argo CD self-heal, an HPA or a user may scale a writer back up after the
// drain finished, e.g. while pg_dump runs. The migration must not start with
// writers running: the run stops safely (WorkloadFoughtBack, design §6.8),
// nothing is migrated, and every writer is back at its recorded replicas.
TEST_F(ReconcilerTest, WriterScaledUpAfterDrainingStopsTheRunBeforeMigrating) {
  Obj().spec.backup_when = "Always";
  db_.on_backup = [this] {
    FakeWorkload& w = kube_.Workload(kNs, "Deployment", "backend");
    w.spec_replicas = 5;
    w.status_replicas = 5;
    kube_.writers["drawing/Deployment/backend"] =
        "manager \"argocd-controller\" (operation Update, at 2026-12-01T05:00:00Z)";
  };
  RunUntilDone();
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(St().phase, Phase::kFailed);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->reason, rs::kWorkloadFoughtBack);
  EXPECT_NE(St().last_run->message.find("Deployment/backend was scaled to 5 replicas during the "
                                        "run by manager \"argocd-controller\""),
            std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kWorkloadFoughtBack);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
}

// Pods left while the replicas are still 0 (no one fought back; e.g. a pod
// stuck terminating reappeared in the count): the workload is drained again
// and the backup retaken, since writes may have landed after it.
TEST_F(ReconcilerTest, PodsLeftAfterDrainingAreDrainedAgainBeforeMigrating) {
  Obj().spec.backup_when = "Always";
  db_.on_backup = [this] {
    if (db_.backup_calls == 1) {
      kube_.Workload(kNs, "Deployment", "backend").status_replicas = 1;
    }
  };
  std::vector<std::int32_t> pods_when_migrating;
  db_.on_migrate = [this, &pods_when_migrating] {
    pods_when_migrating.push_back(kube_.Workload(kNs, "Deployment", "backend").status_replicas +
                                  kube_.Workload(kNs, "Deployment", "celery-worker").status_replicas);
  };
  RunUntilDone();
  EXPECT_EQ(pods_when_migrating, std::vector<std::int32_t>{0});
  EXPECT_EQ(db_.backup_calls, 2);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  ASSERT_EQ(St().workloads.size(), 2u);
  EXPECT_EQ(St().workloads[0].original_replicas, 2);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_GE(effects_.Count("scale:Deployment/backend=0"), 2);
}

// The messages written are scrubbed of the Secret and bounded; whether
// anything changed must be judged on those, or a problem whose message
// echoes the database URL (or carries bytes that are not UTF-8) is "new" on
// every retry: an Event (an API write) each time and no end of churn.
TEST_F(ReconcilerTest, RepeatedProblemEchoingTheUrlWritesOnceAndEmitsOneEvent) {
  db_.inspect_error = Status(Code::kUnreachable, "could not connect to " + kUrl +
                                                     ": r\xFC" "ckgabe \xC3");
  Reconcile();
  const int writes = kube_.status_writes();
  const std::size_t events = kube_.events.size();
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(events, 1u);
  EXPECT_TRUE(IsValidUtf8(Cond(ct::kReady).message)) << Cond(ct::kReady).message;
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(1));
    Reconcile();
  }
  EXPECT_EQ(kube_.status_writes(), writes);
  EXPECT_EQ(kube_.events.size(), events);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kDatabaseUnreachable);
}

// One backend using two databases: two SchemaMigrations list the same
// Deployment. While the other one's run has it at 0, this run must not
// record 0 as its original replicas (it would leave the backend at 0 for
// good); it waits until the other run restored it.
TEST_F(ReconcilerTest, WorkloadScaledDownByAnotherRunIsNotRecordedAsZero) {
  core::SchemaMigration other = Obj();
  other.metadata.name = "analytics-db";
  other.metadata.uid = "uid-2";
  other.spec.url_secret_ref = {"analytics-db", "DATABASE_URL"};
  other.status.run = core::RunStatus{};
  other.status.run->workloads = {{"Deployment", "backend", ""}};
  other.status.workloads = {core::WorkloadStatus{"Deployment", "backend", 2, ""}};
  other.status.phase = Phase::kMigrating;
  kube_.objects[std::string(kNs) + "/analytics-db"] = other;
  kube_.Workload(kNs, "Deployment", "backend") = {0, 0};  // the other run scaled it down

  ReconcileResult r = Reconcile();
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_TRUE(St().workloads.empty());
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).reason, "WorkloadInUse");
  EXPECT_NE(Cond(ct::kReady).message.find("analytics-db"), std::string::npos);

  // The other run finishes and restores the backend.
  kube_.Object(kNs, "analytics-db").status.run.reset();
  kube_.Workload(kNs, "Deployment", "backend") = {2, 2};
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_EQ(St().workloads.size(), 2u);
  EXPECT_EQ(St().workloads[0].name, "backend");
  EXPECT_EQ(St().workloads[0].original_replicas, 2);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerTest, HaltLeavesDatabaseAtFailurePointButRestoresWorkloads) {
  Obj().spec.failure_policy = "Halt";
  db_.fail_at_step = 1;  // add_flexible_schemas committed, seeding fails (runbook scenario A)
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(St().current_revision, "add_flexible_schemas");
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kMigrationFailed);
  EXPECT_NE(Cond(ct::kStalled).message.find("Halt"), std::string::npos);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeFailed);

  // A spec change (here: target = where it is) is the way out.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "add_flexible_schemas"; });
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
}

TEST_F(ReconcilerTest, DrainTimeoutRestoresWorkloadsWithoutMigrating) {
  kube_.auto_drain = false;
  Obj().spec.drain_timeout_seconds = 30;
  ReconcileResult r = Reconcile();
  int polls = 0;
  while (r.requeue_after && St().phase == Phase::kDraining && polls < 100) {
    clock_.Advance(*r.requeue_after);
    r = Reconcile();
    ++polls;
  }
  EXPECT_EQ(polls, 30);
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kDrainTimeout);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeFailed);
  EXPECT_DOUBLE_EQ(St().last_run->downtime_seconds, 30.0);
}

TEST_F(ReconcilerTest, BackupFailureRestoresWorkloadsWithoutMigrating) {
  Obj().spec.backup_when = "Always";
  db_.backup_error = Status(Code::kBackupFailed, "pg_dump exited with status 1: disk full");
  RunUntilDone();
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kBackupFailed);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
}

TEST_F(ReconcilerTest, UnreachableDatabaseMidRunKeepsWritersDownAndRetries) {
  db_.migrate_error = Status(Code::kUnreachable, "could not connect to " + kUrl);
  ReconcileResult r = Reconcile();
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(Replicas("backend"), 0);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kDatabaseUnreachable);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(kube_.AllWrittenText().find(kPassword), std::string::npos);
  EXPECT_EQ(r.error.message().find(kPassword), std::string::npos);
  db_.migrate_error.reset();
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
}

// Invariant: a run PostgreSQL ended mid-run (left open in run_log) is not an
// outcome: the writers stay at 0, the reason says ConnectionLost (not
// RolledBack: the controller rolled nothing back), it is counted, and the
// retry finishes the run.
TEST_F(ReconcilerTest, RunEndedByPostgresIsConnectionLostNotRolledBack) {
  db_.migrate_error = Status(Code::kUnreachable,
                             "failed in revision r2: terminating connection due to administrator "
                             "command. The run is still open in schemaop.run_log",
                             core::kRunLeftOpenDetail);
  ReconcileResult r = Reconcile();
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(Replicas("backend"), 0);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kConnectionLost);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(metrics_.connections_lost, 1);
  EXPECT_TRUE(metrics_.runs.empty()) << "no outcome was recorded";
  db_.migrate_error.reset();
  ASSERT_TRUE(r.requeue_after.has_value());
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
}

// Invariant: the writers are never restored onto a database that may be
// between revisions. An interrupted earlier run the engine cannot recover
// (its files changed since it started) keeps them at 0 until it is repaired.
TEST_F(ReconcilerTest, UnrecoverableInterruptedRunKeepsWritersDown) {
  db_.migrate_error = Status(Code::kChecksumMismatch,
                             "cannot recover interrupted run 7: it started with revision x at "
                             "sha256 1234..., but 0002.sql now has sha256 abcd...",
                             kRecoveryDetail);
  ReconcileResult r = Reconcile();
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(Replicas("backend"), 0);
  EXPECT_EQ(Replicas("celery-worker"), 0);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kRecoveryBlocked);
  EXPECT_NE(Cond(ct::kReconciling).message.find("stay at 0"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.requeue_after.has_value());
    clock_.Advance(*r.requeue_after);
    r = Reconcile();
    EXPECT_EQ(Replicas("backend"), 0);
  }
  db_.migrate_error.reset();  // the ConfigMap was restored
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
}

// ------------------------------------------------------------------- crashes

// Counts the side effects of an undisturbed run, then crashes at each one in
// turn (before and after it took effect) and lets a NEW reconciler finish.
// Invariants: the run ends at its start or target with every workload at its
// recorded replicas, and the engine executed it exactly once.
struct CrashCase {
  bool after_effect;
  bool verification_fails;
  bool downgrade;
};

class CrashTest : public ReconcilerTest, public ::testing::WithParamInterface<CrashCase> {
 protected:
  void Prepare() {
    kube_.auto_drain = false;
    if (GetParam().verification_fails) {
      db_.verification_failure = Status(Code::kVerificationFailed, "check seeded failed");
    }
    if (GetParam().downgrade) {
      db_.versions = {"seed_default_schemas"};
      Obj().spec.target_revision = "9bc6a98f1c12";
    }
  }
  std::vector<std::string> start_versions() {
    return GetParam().downgrade ? std::vector<std::string>{"seed_default_schemas"}
                                : std::vector<std::string>{"9bc6a98f1c12"};
  }
  std::vector<std::string> target_versions() {
    return GetParam().downgrade ? std::vector<std::string>{"9bc6a98f1c12"}
                                : std::vector<std::string>{"seed_default_schemas"};
  }
};

TEST_P(CrashTest, ANewReconcilerFinishesFromStatusAfterACrashAtEverySideEffect) {
  // A clean run in a scratch world, to count the side effects.
  int total = 0;
  {
    SideEffects fx;
    FakeKube kube(fx);
    FakeDatabase db(fx);
    kube.objects = kube_.objects;
    kube.secrets = kube_.secrets;
    kube.config_maps = kube_.config_maps;
    kube.workloads = kube_.workloads;
    kube.auto_drain = true;
    if (GetParam().verification_fails) {
      db.verification_failure = Status(Code::kVerificationFailed, "check seeded failed");
    }
    if (GetParam().downgrade) {
      db.versions = {"seed_default_schemas"};
      kube.Object(kNs, kName).spec.target_revision = "9bc6a98f1c12";
    }
    Reconciler r(kube, db, clock_, metrics_);
    for (int i = 0; i < 20 && r.Reconcile(kNs, kName).requeue_after; ++i) {
      kube.Settle();
    }
    total = fx.count();
  }
  ASSERT_GT(total, 8);

  const auto pristine_objects = kube_.objects;
  const auto pristine_workloads = kube_.workloads;
  for (int crash_at = 0; crash_at < total; ++crash_at) {
    SCOPED_TRACE("crash at side effect " + std::to_string(crash_at) +
                 (GetParam().after_effect ? " (after it took effect)" : " (before)"));
    kube_.objects = pristine_objects;
    kube_.workloads = pristine_workloads;
    kube_.events.clear();
    db_ = FakeDatabase(effects_);
    Prepare();
    effects_.Clear();
    effects_.CrashAt(crash_at, GetParam().after_effect);

    std::string crashed_op;
    auto first = std::make_unique<Reconciler>(kube_, db_, clock_, metrics_);
    try {
      for (int i = 0; i < 20; ++i) {
        auto r = first->Reconcile(kNs, kName);
        if (!r.requeue_after) {
          break;
        }
        kube_.Settle();
      }
    } catch (const SimulatedCrash& crash) {
      crashed_op = crash.op;
    }
    ASSERT_FALSE(crashed_op.empty()) << "the crash was not reached";
    first.reset();
    // Right after the crash the database is at the start or the target.
    EXPECT_TRUE(db_.versions == start_versions() || db_.versions == target_versions())
        << crashed_op;

    // A new process: only the stored object and a fresh database read.
    reconciler_ = NewReconciler();
    RunUntilDone();
    EXPECT_FALSE(St().run.has_value()) << crashed_op;
    // Exactly once: a crash at any point never makes the engine execute
    // the run a second time (the engine replays an ended run's outcome).
    EXPECT_EQ(db_.executions, 1) << crashed_op;
    EXPECT_EQ(Replicas("backend"), 2) << crashed_op;
    EXPECT_EQ(Replicas("celery-worker"), 3) << crashed_op;
    for (const auto& w : St().workloads) {
      EXPECT_NE(w.original_replicas, 0) << "recorded replicas overwritten by 0 after " << crashed_op;
    }
    if (GetParam().verification_fails) {
      EXPECT_EQ(db_.versions, start_versions()) << crashed_op;
      EXPECT_EQ(St().phase, Phase::kFailed) << crashed_op;
      EXPECT_EQ(Cond(ct::kStalled).reason, rs::kVerificationFailed) << crashed_op;
    } else {
      EXPECT_EQ(db_.versions, target_versions()) << crashed_op;
      EXPECT_EQ(St().phase, Phase::kSucceeded) << crashed_op;
      EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue) << crashed_op;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, CrashTest,
                         ::testing::Values(CrashCase{false, false, false},
                                           CrashCase{true, false, false},
                                           CrashCase{false, true, false},
                                           CrashCase{true, true, false},
                                           CrashCase{false, false, true},
                                           CrashCase{true, false, true}),
                         [](const auto& info) {
                           return std::string(info.param.after_effect ? "After" : "Before") +
                                  (info.param.verification_fails ? "VerifyFails" : "Ok") +
                                  (info.param.downgrade ? "Downgrade" : "Upgrade");
                         });

}  // namespace
}  // namespace schemaop::reconcile
