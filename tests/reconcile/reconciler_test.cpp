// The reconcile contract (design §6) against in-memory fakes and a fake
// clock: order of side effects, no-op reconciles, bad input, failures,
// crashes at every side effect, deletion, suspend, spec changes mid-run.
#include "reconcile/reconciler.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/fakes.h"

namespace schemaop::reconcile {
namespace {

using core::Code;
using core::ConditionStatus;
using core::Phase;
using core::Status;
using testing::FakeClock;
using testing::FakeDatabase;
using testing::FakeKube;
using testing::FakeMetrics;
using testing::FakeWorkload;
using testing::SideEffects;
using testing::SimulatedCrash;
namespace ct = core::condition_types;
namespace rs = core::reasons;

constexpr char kNs[] = "drawing";
constexpr char kName[] = "drawing-db";
constexpr char kPassword[] = "S3cr3t-P4ssw0rd";
const std::string kUrl = std::string("postgresql://app:") + kPassword + "@db.drawing.svc:5432/drawing";

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::SchemaMigration obj;
    obj.metadata.namespace_ = kNs;
    obj.metadata.name = kName;
    obj.metadata.uid = "uid-1";
    obj.metadata.generation = 1;
    obj.metadata.resource_version = "1";
    obj.metadata.creation_timestamp = clock_.now;
    obj.spec.target_revision = "seed_default_schemas";
    obj.spec.url_secret_ref = {"drawing-db", "DATABASE_URL"};
    obj.spec.migrations_config_map = "drawing-migrations";
    obj.spec.workloads = {{"Deployment", "backend"}, {"Deployment", "celery-worker"}};
    kube_.objects[std::string(kNs) + "/" + kName] = obj;
    kube_.secrets["drawing/drawing-db"] = {{"DATABASE_URL", kUrl}};
    kube_.config_maps["drawing/drawing-migrations"] = {
        {"0001_9bc6a98f1c12.sql", "-- revision: 9bc6a98f1c12\n-- migrate:up\nSELECT 1;\n"},
        {"0002_add_flexible_schemas.sql", "-- revision: add_flexible_schemas\n"},
        {"0003_seed_default_schemas.sql", "-- revision: seed_default_schemas\n"}};
    kube_.workloads["drawing/Deployment/backend"] = {2, 2};
    kube_.workloads["drawing/Deployment/celery-worker"] = {3, 3};
    reconciler_ = NewReconciler();
  }

  std::unique_ptr<Reconciler> NewReconciler() {
    return std::make_unique<Reconciler>(kube_, db_, clock_, metrics_);
  }

  ReconcileResult Reconcile() { return reconciler_->Reconcile(kNs, kName); }

  // Reconciles until nothing is pending, letting pods terminate between
  // passes and time pass as requested. Returns the number of passes.
  int RunUntilDone(int max_passes = 50) {
    for (int pass = 1; pass <= max_passes; ++pass) {
      ReconcileResult r = Reconcile();
      if (!r.requeue_after) {
        return pass;
      }
      kube_.Settle();
      clock_.Advance(*r.requeue_after);
      if (r.requeue_after->count() > 0 && !r.error.ok() && r.error.code() != Code::kConflict) {
        // a transient error: let the test decide what changes
        return pass;
      }
      if (St().phase == Phase::kFailed || (St().phase == Phase::kSucceeded && !St().run &&
                                           kube_.Object(kNs, kName).metadata.generation ==
                                               St().observed_generation)) {
        return pass;
      }
    }
    ADD_FAILURE() << "did not settle in " << max_passes << " passes";
    return max_passes;
  }

  core::SchemaMigration& Obj() { return kube_.Object(kNs, kName); }
  const core::SchemaMigrationStatus& St() { return Obj().status; }
  const core::Condition& Cond(const char* type) {
    const core::Condition* c = core::FindCondition(St().conditions, type);
    if (c == nullptr) {
      static core::Condition missing;
      ADD_FAILURE() << "no condition " << type;
      return missing;
    }
    return *c;
  }
  std::int32_t Replicas(const char* name) {
    return kube_.Workload(kNs, "Deployment", name).spec_replicas;
  }
  void ExpectNothingTouched() {
    EXPECT_EQ(kube_.scale_calls(), 0);
    EXPECT_EQ(db_.migrate_calls, 0);
    EXPECT_EQ(db_.backup_calls, 0);
    EXPECT_EQ(Replicas("backend"), 2);
    EXPECT_EQ(Replicas("celery-worker"), 3);
    EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  }

  SideEffects effects_;
  FakeKube kube_{effects_};
  FakeDatabase db_{effects_};
  FakeClock clock_;
  FakeMetrics metrics_;
  std::unique_ptr<Reconciler> reconciler_;
};

// ---------------------------------------------------------------- happy path

TEST_F(ReconcilerTest, UpgradeRunsPhasesInOrderAndWritesStatusBeforeEachSideEffect) {
  kube_.auto_drain = false;  // pods take time to go away
  ReconcileResult first = Reconcile();
  ASSERT_TRUE(first.requeue_after.has_value());
  EXPECT_EQ(*first.requeue_after, std::chrono::seconds(1));
  EXPECT_EQ(St().phase, Phase::kDraining);
  EXPECT_EQ(db_.migrate_calls, 0);

  // Original replicas were recorded before anything was scaled.
  ASSERT_EQ(St().workloads.size(), 2u);
  EXPECT_EQ(St().workloads[0].original_replicas, 2);
  EXPECT_EQ(St().workloads[1].original_replicas, 3);

  const auto& ops = effects_.ops();
  const int fin = effects_.IndexOf("finalizer+");
  const int planning = effects_.IndexOf("status:Planning");
  const int scaling_down = effects_.IndexOf("status:ScalingDown");
  const int scale_backend = effects_.IndexOf("scale:Deployment/backend=0");
  const int scale_celery = effects_.IndexOf("scale:Deployment/celery-worker=0");
  const int draining = effects_.IndexOf("status:Draining");
  ASSERT_GE(fin, 0);
  EXPECT_LT(fin, planning);
  EXPECT_LT(planning, scaling_down);
  EXPECT_LT(scaling_down, scale_backend);
  EXPECT_LT(scale_backend, draining);
  EXPECT_LT(scale_celery, draining);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kWorkloadsScaledDown).reason, rs::kDraining);

  // Still draining: a poll writes nothing.
  const int writes = kube_.status_writes();
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(Reconcile().requeue_after.has_value());
  EXPECT_EQ(kube_.status_writes(), writes);

  kube_.Settle();
  clock_.Advance(std::chrono::seconds(4));
  ReconcileResult last = Reconcile();
  EXPECT_FALSE(last.requeue_after.has_value());
  EXPECT_TRUE(last.error.ok());

  const int migrating = effects_.IndexOf("status:Migrating");
  const int migrate = effects_.IndexOf("db:migrate");
  const int scaling_up = effects_.IndexOf("status:ScalingUp");
  const int restore = effects_.IndexOf("scale:Deployment/backend=2");
  const int succeeded = effects_.IndexOf("status:Succeeded");
  EXPECT_LT(draining, migrating);
  EXPECT_LT(migrating, migrate);
  EXPECT_LT(migrate, scaling_up);
  EXPECT_LT(scaling_up, restore);
  EXPECT_LT(restore, succeeded);
  EXPECT_EQ(effects_.IndexOf("db:backup"), -1) << "an upgrade needs no backup by default";
  EXPECT_EQ(effects_.IndexOf("status:BackingUp"), -1);

  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  EXPECT_EQ(St().target_revision, "seed_default_schemas");
  EXPECT_EQ(St().observed_generation, 1);
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().plan.has_value());
  EXPECT_EQ(St().plan->direction, "upgrade");
  ASSERT_EQ(St().plan->steps.size(), 2u);
  EXPECT_EQ(St().plan->steps[0].revision, "add_flexible_schemas");
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kVerified).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).observed_generation, 1);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded);
  EXPECT_EQ(St().last_run->from, "9bc6a98f1c12");
  EXPECT_EQ(St().last_run->to, "seed_default_schemas");
  // Scale-down happened at t0, everything restored at t0+5s.
  EXPECT_DOUBLE_EQ(St().last_run->downtime_seconds, 5.0);
  ASSERT_EQ(metrics_.downtime_seconds.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics_.downtime_seconds[0], 5.0);
  EXPECT_EQ(metrics_.runs, std::vector<std::string>{"Succeeded"});
  EXPECT_EQ(metrics_.revisions["drawing/drawing-db"], "seed_default_schemas");

  std::vector<std::string> reasons;
  for (const auto& e : kube_.events) {
    reasons.push_back(e.reason);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{rs::kPlanning, rs::kScalingDown, rs::kScaledDown,
                                               rs::kMigrating, rs::kMigrated, rs::kScaledUp}));
  // The engine got the actor and the files.
  ASSERT_FALSE(db_.targets_seen.empty());
  EXPECT_EQ(db_.targets_seen.back().actor, "schemaop-controller drawing/drawing-db");
  EXPECT_EQ(db_.targets_seen.back().migration_files.size(), 3u);
  EXPECT_EQ(db_.targets_seen.back().url, kUrl);
  (void)ops;
}

TEST_F(ReconcilerTest, DowngradeTakesABackupBeforeMigrating) {
  db_.versions = {"seed_default_schemas"};
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "9bc6a98f1c12"; });
  RunUntilDone();
  const int backing_up = effects_.IndexOf("status:BackingUp");
  const int backup = effects_.IndexOf("db:backup");
  const int migrating = effects_.IndexOf("status:Migrating");
  const int migrate = effects_.IndexOf("db:migrate");
  ASSERT_GE(backing_up, 0);
  EXPECT_LT(effects_.IndexOf("status:Draining"), backing_up);
  EXPECT_LT(backing_up, backup);
  EXPECT_LT(backup, migrating);
  EXPECT_LT(migrating, migrate);
  ASSERT_TRUE(St().backup.has_value());
  EXPECT_EQ(St().backup->file, "/backups/drawing-1.dump");
  EXPECT_EQ(St().backup->bytes, 4096u);
  EXPECT_EQ(Cond(ct::kBackupReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kBackupReady).reason, rs::kBackupCreated);
  EXPECT_EQ(St().plan->direction, "downgrade");
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().observed_generation, 2);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerTest, BackupNeverSkipsItEvenForADowngrade) {
  db_.versions = {"seed_default_schemas"};
  kube_.EditSpec(kNs, kName, [](auto& spec) {
    spec.target_revision = "base";
    spec.backup_when = "Never";
  });
  RunUntilDone();
  EXPECT_EQ(db_.backup_calls, 0);
  EXPECT_TRUE(db_.versions.empty());
  EXPECT_EQ(St().current_revision, "base");
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

// --------------------------------------------------------------------- no-op

TEST_F(ReconcilerTest, ReconcileAtTargetAfterARunWritesNothing) {
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  const int writes = kube_.status_writes();
  const std::size_t events = kube_.events.size();
  const int ops = effects_.count();
  clock_.Advance(std::chrono::minutes(10));
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile();
    EXPECT_FALSE(r.requeue_after.has_value());
  }
  EXPECT_EQ(kube_.status_writes(), writes);
  EXPECT_EQ(kube_.events.size(), events);
  EXPECT_EQ(effects_.count(), ops) << "no side effect of any kind";
}

TEST_F(ReconcilerTest, ObjectAlreadyAtTargetGetsOneStatusWriteThenNone) {
  db_.versions = {"seed_default_schemas"};
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), 1);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  clock_.Advance(std::chrono::minutes(1));
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), 1);
  EXPECT_EQ(kube_.finalizer_writes(), 0);
}

// ----------------------------------------------------------------- bad input

struct BadInputCase {
  std::string name;
  std::function<void(FakeKube&, FakeDatabase&)> break_it;
  std::string reason;
  bool stalled;  // else: retried with backoff
};

class BadInputTest : public ReconcilerTest, public ::testing::WithParamInterface<BadInputCase> {};

TEST_P(BadInputTest, ReportsReasonAndTouchesNothing) {
  const BadInputCase& c = GetParam();
  c.break_it(kube_, db_);
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReady).reason, c.reason);
  if (c.stalled) {
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
    EXPECT_EQ(Cond(ct::kStalled).reason, c.reason);
    EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
    EXPECT_EQ(St().phase, Phase::kFailed);
  } else {
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
    EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
    EXPECT_EQ(Cond(ct::kReconciling).reason, c.reason);
    ASSERT_TRUE(r.requeue_after.has_value());
    EXPECT_FALSE(r.error.ok());
    // Backoff grows.
    clock_.Advance(*r.requeue_after);
    ReconcileResult again = Reconcile();
    ASSERT_TRUE(again.requeue_after.has_value());
    EXPECT_GT(*again.requeue_after, *r.requeue_after);
    ExpectNothingTouched();
  }
  EXPECT_FALSE(Cond(ct::kReady).message.empty());
  EXPECT_EQ(St().observed_generation, 1);
  EXPECT_EQ(kube_.finalizer_writes(), 0);
  EXPECT_EQ(kube_.AllWrittenText().find(kPassword), std::string::npos);
  // A second reconcile with the same problem writes nothing new.
  const int writes = kube_.status_writes();
  if (c.stalled) {
    clock_.Advance(std::chrono::minutes(1));
    Reconcile();
    EXPECT_EQ(kube_.status_writes(), writes);
  }
}

std::vector<BadInputCase> BadInputs() {
  return {
      {"UnknownRevision",
       [](FakeKube& k, FakeDatabase&) {
         k.Object(kNs, kName).spec.target_revision = "no_such_revision";
       },
       rs::kUnknownRevision, true},
      {"BrokenMigrationFiles",
       [](FakeKube&, FakeDatabase& d) {
         d.inspect_error = Status(Code::kParseError, "0002.sql:3: unknown marker option");
       },
       rs::kInvalidMigrations, true},
      {"CycleInFiles",
       [](FakeKube&, FakeDatabase& d) {
         d.inspect_error = Status(Code::kCycleDetected, "cycle a -> b -> a");
       },
       rs::kInvalidMigrations, true},
      {"ChecksumMismatch",
       [](FakeKube&, FakeDatabase& d) {
         d.inspect_error = Status(Code::kChecksumMismatch, "file 0002.sql changed since applied");
       },
       rs::kChecksumMismatch, true},
      {"MissingSecret", [](FakeKube& k, FakeDatabase&) { k.secrets.clear(); },
       rs::kSecretNotFound, true},
      {"MissingSecretKey",
       [](FakeKube& k, FakeDatabase&) { k.secrets["drawing/drawing-db"] = {{"OTHER", "x"}}; },
       rs::kSecretNotFound, true},
      {"MissingConfigMap", [](FakeKube& k, FakeDatabase&) { k.config_maps.clear(); },
       rs::kConfigMapNotFound, true},
      {"EmptyConfigMap",
       [](FakeKube& k, FakeDatabase&) { k.config_maps["drawing/drawing-migrations"].clear(); },
       rs::kInvalidMigrations, true},
      {"UnknownWorkload",
       [](FakeKube& k, FakeDatabase&) {
         k.Object(kNs, kName).spec.workloads.push_back({"StatefulSet", "ghost"});
       },
       rs::kWorkloadNotFound, true},
      {"InvalidSpec",
       [](FakeKube& k, FakeDatabase&) {
         k.Object(kNs, kName).spec.workloads.push_back({"Deployment", "backend"});
       },
       rs::kInvalidSpec, true},
      {"DuplicateDatabase",
       [](FakeKube& k, FakeDatabase&) {
         core::SchemaMigration older = k.Object(kNs, kName);
         older.metadata.name = "aaa-older";
         older.metadata.uid = "uid-0";
         older.metadata.creation_timestamp->unix_millis -= 60'000;
         k.objects["drawing/aaa-older"] = older;
       },
       rs::kDuplicateDatabase, true},
      {"DatabaseUnreachable",
       [](FakeKube&, FakeDatabase& d) {
         d.inspect_error = Status(Code::kUnreachable, "connection to " + kUrl + " refused");
       },
       rs::kDatabaseUnreachable, false},
      {"LockHeld",
       [](FakeKube&, FakeDatabase& d) {
         d.inspect_error = Status(Code::kLockHeld, "migration lock held by pid 42");
       },
       rs::kLockHeld, false},
  };
}

INSTANTIATE_TEST_SUITE_P(All, BadInputTest, ::testing::ValuesIn(BadInputs()),
                         [](const auto& info) { return info.param.name; });

TEST_F(ReconcilerTest, InvalidSpecMessageNamesTheField) {
  Obj().spec.workloads.push_back({"Deployment", "backend"});
  Reconcile();
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.workloads[2].name: duplicate"),
            std::string::npos)
      << Cond(ct::kStalled).message;
}

TEST_F(ReconcilerTest, OlderDuplicateIsNotBlockedByTheYoungerOne) {
  core::SchemaMigration younger = Obj();
  younger.metadata.name = "zzz-younger";
  younger.metadata.creation_timestamp->unix_millis += 60'000;
  kube_.objects["drawing/zzz-younger"] = younger;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  reconciler_->Reconcile(kNs, "zzz-younger");
  const auto& y = kube_.Object(kNs, "zzz-younger").status;
  EXPECT_EQ(core::FindCondition(y.conditions, ct::kStalled)->reason, rs::kDuplicateDatabase);
}

TEST_F(ReconcilerTest, StalledInputRecoversWhenTheSecretAppears) {
  auto secrets = kube_.secrets;
  kube_.secrets.clear();
  ReconcileResult r = Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSecretNotFound);
  ASSERT_TRUE(r.requeue_after.has_value()) << "re-checked, since the fix is outside the spec";
  kube_.secrets = secrets;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
}

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
// writers running: the workload is scaled to 0 and drained again (and the
// backup retaken, since writes may have landed after it), and its recorded
// replicas stay what they were before the run.
TEST_F(ReconcilerTest, WriterScaledUpAfterDrainingIsDrainedAgainBeforeMigrating) {
  Obj().spec.backup_when = "Always";
  db_.on_backup = [this] {
    if (db_.backup_calls == 1) {
      FakeWorkload& w = kube_.Workload(kNs, "Deployment", "backend");
      w.spec_replicas = 2;
      w.status_replicas = 2;
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
  other.status.run->workloads = {{"Deployment", "backend"}};
  other.status.workloads = {core::WorkloadStatus{"Deployment", "backend", 2}};
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

// --------------------------------------------------------- deletion, suspend

TEST_F(ReconcilerTest, DeletionMidRunRestoresWorkloadsThenReleasesTheObject) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  ASSERT_EQ(Replicas("backend"), 0);
  kube_.MarkDeleted(kNs, kName, clock_.now);
  ReconcileResult r = Reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(kube_.objects.count(std::string(kNs) + "/" + kName), 0u) << "finalizer removed";
  EXPECT_LT(effects_.IndexOf("scale:Deployment/backend=2"), effects_.IndexOf("finalizer-"));
}

TEST_F(ReconcilerTest, DeletionWithoutRunOnlyRemovesTheFinalizer) {
  RunUntilDone();
  const int scales = kube_.scale_calls();
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  EXPECT_EQ(kube_.scale_calls(), scales);
  EXPECT_TRUE(kube_.objects.empty());
}

TEST_F(ReconcilerTest, SuspendStartsNoRun) {
  Obj().spec.suspend = true;
  ReconcileResult r = Reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  ExpectNothingTouched();
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kSuspended);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kSuspended);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  const int writes = kube_.status_writes();
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), writes);

  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = false; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerTest, SuspendDuringDrainingFinishesTheRun) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = true; });
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_FALSE(St().run.has_value());
}

// ------------------------------------------------------ spec changes mid-run

TEST_F(ReconcilerTest, TargetChangedMidRunFinishesThenPlansTheNewTarget) {
  kube_.auto_drain = false;
  Obj().spec.target_revision = "add_flexible_schemas";
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "seed_default_schemas"; });
  kube_.Settle();
  ReconcileResult r = Reconcile();
  // The first run finished at its own resolved target and served generation 1.
  EXPECT_EQ(St().last_run->to, "add_flexible_schemas");
  EXPECT_EQ(St().observed_generation, 1);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(r.requeue_after->count(), 0);
  EXPECT_EQ(Replicas("backend"), 2);
  // The next reconcile plans generation 2.
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().observed_generation, 2);
  EXPECT_EQ(St().last_run->from, "add_flexible_schemas");
  EXPECT_EQ(Cond(ct::kReady).observed_generation, 2);
  EXPECT_EQ(db_.migrate_calls, 2);
}

// ------------------------------------------------ conditions, conflicts, secrets

TEST_F(ReconcilerTest, LastTransitionTimeMovesOnlyWhenStatusChanges) {
  kube_.config_maps.clear();
  Reconcile();
  const core::Timestamp stalled_since = Cond(ct::kStalled).last_transition_time;
  clock_.Advance(std::chrono::minutes(3));
  kube_.config_maps["drawing/drawing-migrations"] = {};  // still broken, other reason
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidMigrations);
  EXPECT_EQ(Cond(ct::kStalled).last_transition_time, stalled_since);
  clock_.Advance(std::chrono::minutes(3));
  kube_.config_maps["drawing/drawing-migrations"] = {{"a.sql", "-- revision: a\n"}};
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_NE(Cond(ct::kStalled).last_transition_time, stalled_since);
}

TEST_F(ReconcilerTest, StatusConflictIsRetriedOnAFreshRead) {
  kube_.conflicts_to_inject = 2;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(kube_.conflicts_to_inject, 0);
}

// The worker logs the returned error with Status::ToString(), which
// includes the detail: a detail echoing the URL must be scrubbed as well.
TEST_F(ReconcilerTest, SecretNeverAppearsInTheDetailOfTheReturnedError) {
  db_.inspect_error = Status(Code::kUnreachable, "could not connect to server", "dsn " + kUrl);
  ReconcileResult r = Reconcile();
  ASSERT_FALSE(r.error.ok());
  EXPECT_EQ(r.error.ToString().find(kPassword), std::string::npos) << r.error.ToString();
  db_.inspect_error.reset();
  db_.migrate_error =
      Status(Code::kUnreachable, "lost the connection", std::string("password=") + kPassword);
  clock_.Advance(*r.requeue_after);
  r = Reconcile();
  ASSERT_FALSE(r.error.ok());
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(r.error.ToString().find(kPassword), std::string::npos) << r.error.ToString();
}

TEST_F(ReconcilerTest, SecretNeverAppearsInStatusEventsOrErrors) {
  // Every failure path that echoes the URL.
  db_.inspect_error = Status(Code::kUnreachable, "could not connect to server: " + kUrl +
                                                     " password=" + kPassword);
  ReconcileResult r = Reconcile();
  EXPECT_EQ(r.error.message().find(kPassword), std::string::npos);
  db_.inspect_error.reset();
  db_.verification_failure = Status(Code::kVerificationFailed, "check failed on " + kUrl);
  clock_.Advance(std::chrono::seconds(5));
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kFailed);
  const std::string text = kube_.AllWrittenText();
  EXPECT_NE(text.find("***"), std::string::npos) << "the URL was echoed, and scrubbed";
  EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(kUrl), std::string::npos);
}

// Issue 8: the scrubber knows every form a Secret's URL can take, short
// passwords and quoted keyword values included (the old one skipped
// secrets under 4 characters and `password='a b'`).
TEST_F(ReconcilerTest, ShortAndQuotedSecretsNeverAppearInStatusOrEvents) {
  const std::vector<std::pair<std::string, std::string>> urls = {
      {"postgresql://app:Zq@db.drawing.svc/drawing", "Zq"},
      {"host=db.drawing.svc user=app password='two words' dbname=drawing", "two words"},
      {"postgresql://app@db.drawing.svc/drawing?sslpassword=keyphrase9", "keyphrase9"},
  };
  for (const auto& [url, secret] : urls) {
    reconciler_ = NewReconciler();  // a fresh scrubber that never saw another URL
    kube_.secrets["drawing/drawing-db"] = {{"DATABASE_URL", url}};
    db_.inspect_error = Status(Code::kUnreachable, "could not connect: " + url + " (secret " +
                                                       secret + ")");
    ReconcileResult r = Reconcile();
    ASSERT_FALSE(r.error.ok());
    const std::string text = kube_.AllWrittenText() + r.error.ToString();
    EXPECT_EQ(text.find(" " + secret + ")"), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find("'" + secret + "'"), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find("=" + secret), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find(":" + secret + "@"), std::string::npos) << url << ": " << text;
  }
}

// ------------------------------------------------------------ issue 7: data safety

// Invariant (targets are resolved once): a relative target is resolved
// against the database once, recorded in status.resolvedTarget, and never
// resolved again while spec.targetRevision keeps its text: resyncs,
// restarts and failovers (a new Reconciler) inspect the recorded absolute
// revision, so "-1" moves the database one step, once. Before the fix each
// pass re-resolved "-1" against the revision the previous run left and
// walked the database down to base.
TEST_F(ReconcilerTest, RelativeTargetIsResolvedOnceAndNeverAgainByResyncsOrRestarts) {
  db_.versions = {"seed_default_schemas"};
  Obj().spec.target_revision = "-1";
  RunUntilDone();
  ASSERT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().target_revision, "add_flexible_schemas");
  ASSERT_TRUE(St().resolved_target.has_value());
  EXPECT_EQ(St().resolved_target->target_revision, "-1");
  EXPECT_EQ(St().resolved_target->revision, "add_flexible_schemas");
  EXPECT_EQ(St().resolved_target->generation, 1);
  EXPECT_FALSE(St().resolved_target->migrations_digest.empty());

  for (int i = 0; i < 5; ++i) {  // resyncs
    clock_.Advance(std::chrono::minutes(10));
    Reconcile();
  }
  for (int restart = 0; restart < 3; ++restart) {  // restarts / failovers
    reconciler_ = NewReconciler();
    clock_.Advance(std::chrono::minutes(10));
    Reconcile();
    Reconcile();
  }
  // An unrelated spec edit (a new generation) does not re-resolve it either.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.drain_timeout_seconds = 60; });
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  ASSERT_GE(db_.inspected_targets.size(), 2u);
  EXPECT_EQ(db_.inspected_targets.front(), "-1");
  for (std::size_t i = 1; i < db_.inspected_targets.size(); ++i) {
    EXPECT_EQ(db_.inspected_targets[i], "add_flexible_schemas") << "inspect #" << i;
  }

  // A new target text is resolved anew, once.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "+1"; });
  RunUntilDone();
  reconciler_ = NewReconciler();
  Reconcile();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(db_.executions, 2);
  EXPECT_EQ(St().resolved_target->target_revision, "+1");
  EXPECT_EQ(St().resolved_target->generation, 3);
}

// Exactly once, one case per outcome of the run.
struct ConflictAfterRunCase {
  std::string name;
  std::function<void(FakeDatabase&, core::SchemaMigration&)> arrange;
  std::string outcome;  // lastRun.outcome
  std::vector<std::string> final_versions;
};

void PrintTo(const ConflictAfterRunCase& c, std::ostream* os) { *os << c.name; }

class ConflictAfterRunTest : public ReconcilerTest,
                             public ::testing::WithParamInterface<ConflictAfterRunCase> {};

// Invariant (exactly once): a run is identified by the SchemaMigration's
// UID, the run's generation and the plan digest recorded at planning, and
// the engine executes a run of one identity at most once. When the status
// write that records the run's result is lost to a 409, the next pass calls
// Migrate again with the same identity, the engine replays the recorded
// outcome, and the bookkeeping (outcome, conditions, workloads) finishes
// from it.
TEST_P(ConflictAfterRunTest, StatusConflictAfterTheRunNeverExecutesItAgain) {
  const ConflictAfterRunCase& c = GetParam();
  c.arrange(db_, Obj());
  db_.on_migrate = [this] {
    if (db_.migrate_calls == 1) {
      kube_.conflicts_to_inject = 1;  // the write of the result loses a race
    }
  };
  RunUntilDone();
  EXPECT_EQ(db_.executions, 1);
  ASSERT_EQ(db_.migrate_calls, 2) << "the second call is answered from the run log";
  ASSERT_EQ(db_.identities_seen.size(), 2u);
  const RunIdentity& identity = db_.identities_seen[0];
  EXPECT_EQ(identity.owner_uid, "uid-1");
  EXPECT_EQ(identity.generation, 1);
  std::vector<std::pair<std::string, std::string>> files(
      kube_.config_maps["drawing/drawing-migrations"].begin(),
      kube_.config_maps["drawing/drawing-migrations"].end());
  EXPECT_EQ(identity.plan_digest,
            FakeDatabase::PlanDigest(files, {"9bc6a98f1c12"}, {"seed_default_schemas"}));
  EXPECT_EQ(db_.identities_seen[1].Key(), identity.Key());
  EXPECT_EQ(db_.versions, c.final_versions);
  EXPECT_EQ(St().current_revision, core::FormatVersions(c.final_versions));
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, c.outcome);
  EXPECT_EQ(metrics_.runs, std::vector<std::string>{c.outcome});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(effects_.Count("scale:Deployment/backend=0"), 1);
  EXPECT_GE(effects_.IndexOf("event:Recovered"), 0);
  if (c.outcome == core::kOutcomeSucceeded) {
    EXPECT_EQ(St().phase, Phase::kSucceeded);
    EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  } else {
    EXPECT_EQ(St().phase, Phase::kFailed);
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  }
  // And it stays that way.
  clock_.Advance(std::chrono::minutes(10));
  reconciler_ = NewReconciler();
  Reconcile();
  EXPECT_EQ(db_.executions, 1);
}

INSTANTIATE_TEST_SUITE_P(
    All, ConflictAfterRunTest,
    ::testing::Values(
        ConflictAfterRunCase{"Succeeded", [](FakeDatabase&, core::SchemaMigration&) {},
                             core::kOutcomeSucceeded, {"seed_default_schemas"}},
        ConflictAfterRunCase{"RolledBack",
                             [](FakeDatabase& db, core::SchemaMigration&) {
                               db.verification_failure =
                                   Status(Code::kVerificationFailed, "rows of components lost");
                             },
                             core::kOutcomeRolledBack, {"9bc6a98f1c12"}},
        ConflictAfterRunCase{"Failed",
                             [](FakeDatabase& db, core::SchemaMigration& obj) {
                               obj.spec.failure_policy = "Halt";
                               db.fail_at_step = 1;
                             },
                             core::kOutcomeFailed, {"add_flexible_schemas"}}),
    [](const auto& info) { return info.param.name; });

// Invariant (pinned files): a run executes the plan recorded at planning.
// When the ConfigMap changes between planning and migrating, the engine
// refuses (kMigrationsChanged) and nothing is executed; the run ends with
// reason MigrationsChanged, the workloads restored, not Stalled, and the
// next pass plans a new run from the new files, which then runs once.
TEST_F(ReconcilerTest, ConfigMapChangedAfterPlanningEndsTheRunAndTheNextPassPlansAgain) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  ASSERT_TRUE(St().run.has_value());
  const std::string planned_digest = St().run->plan_digest;
  EXPECT_FALSE(planned_digest.empty());
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] +=
      "DELETE FROM components;\n";
  kube_.Settle();
  ReconcileResult r = Reconcile();
  EXPECT_EQ(db_.executions, 0) << "SQL other than the planned SQL ran";
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->reason, rs::kMigrationsChanged);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kMigrationsChanged);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_NE(Cond(ct::kReady).message.find("drawing-migrations"), std::string::npos);
  EXPECT_NE(Cond(ct::kReady).message.find("restore the ConfigMap"), std::string::npos);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(r.requeue_after->count(), 0);

  RunUntilDone();
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_NE(db_.identities_seen.back().plan_digest, planned_digest);
  EXPECT_EQ(Replicas("backend"), 2);
}

// Invariant: MigrationsChanged never loops. When the engine refuses a plan
// as changed although neither the files nor the database moved since it was
// planned, the reconciler stops (Stalled) instead of scaling the
// application down and up again and again.
TEST_F(ReconcilerTest, PlanRefusedAsChangedWithNothingChangedStallsInsteadOfLooping) {
  db_.migrate_error = Status(Code::kMigrationsChanged, "plan digest differs");
  RunUntilDone();
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kMigrationsChanged);
  const int scales = kube_.scale_calls();
  EXPECT_EQ(scales, 4);
  clock_.Advance(std::chrono::minutes(5));
  Reconcile();
  EXPECT_EQ(kube_.scale_calls(), scales);
  EXPECT_EQ(db_.migrate_calls, 1);
}

// Invariant (one database, one owner): duplicates are found by the identity
// the database server reports (status.databaseIdentity), across namespaces
// and Secrets. Of two SchemaMigrations on one database only the older one
// (creationTimestamp, then namespace/name) runs; the younger waits with
// reason DatabaseInUse naming the older one (Reconciling, not Stalled: it
// resolves when the older one goes away), never calls Migrate and never
// scales its workloads.
TEST_F(ReconcilerTest, SameDatabaseThroughAnotherSecretInAnotherNamespaceWaitsForTheOlderOne) {
  core::SchemaMigration younger = Obj();
  younger.metadata.namespace_ = "analytics";
  younger.metadata.name = "analytics-db";
  younger.metadata.uid = "uid-2";
  younger.metadata.creation_timestamp->unix_millis += 60'000;
  younger.spec.target_revision = "9bc6a98f1c12";  // would move the database back down
  younger.spec.url_secret_ref = {"reporting-db", "URL"};
  younger.spec.migrations_config_map = "reporting-migrations";
  younger.spec.workloads = {{"Deployment", "reporting"}};
  kube_.objects["analytics/analytics-db"] = younger;
  kube_.secrets["analytics/reporting-db"] = {{"URL", "postgresql://reporter@10.0.4.7/drawing"}};
  kube_.config_maps["analytics/reporting-migrations"] = kube_.config_maps["drawing/drawing-migrations"];
  kube_.workloads["analytics/Deployment/reporting"] = {1, 1};
  auto reconcile_younger = [this] { return reconciler_->Reconcile("analytics", "analytics-db"); };

  reconcile_younger();  // first: the database is at its target, nothing to do
  RunUntilDone();       // the older one upgrades
  ASSERT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(1));
    ReconcileResult r = reconcile_younger();
    EXPECT_TRUE(r.requeue_after.has_value());
    EXPECT_TRUE(r.error.ok());
  }
  reconciler_ = NewReconciler();
  reconcile_younger();
  Reconcile();

  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  for (const RunIdentity& identity : db_.identities_seen) {
    EXPECT_EQ(identity.owner_uid, "uid-1") << "the younger one called Migrate";
  }
  EXPECT_EQ(effects_.Count("scale:Deployment/reporting"), 0);
  const auto& y = kube_.Object("analytics", "analytics-db").status;
  EXPECT_EQ(y.database_identity, db_.database_identity);
  EXPECT_EQ(St().database_identity, db_.database_identity);
  const core::Condition* ready = core::FindCondition(y.conditions, ct::kReady);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, ConditionStatus::kFalse);
  EXPECT_EQ(ready->reason, rs::kDatabaseInUse);
  EXPECT_NE(ready->message.find("drawing/drawing-db"), std::string::npos) << ready->message;
  EXPECT_EQ(core::FindCondition(y.conditions, ct::kStalled)->status, ConditionStatus::kFalse);
  EXPECT_EQ(core::FindCondition(y.conditions, ct::kReconciling)->status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue) << "the older one is unaffected";

  // The older one goes away: the younger one now owns the database.
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  ASSERT_EQ(kube_.objects.count(std::string(kNs) + "/" + kName), 0u);
  for (int i = 0; i < 10 && reconcile_younger().requeue_after; ++i) {
    kube_.Settle();
  }
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(db_.identities_seen.back().owner_uid, "uid-2");
}

// Invariant: the older owner does not run over a run of a younger one that
// started before the older one recorded the database's identity; it waits
// (DatabaseInUse naming it) until that run has ended.
TEST_F(ReconcilerTest, OlderOwnerWaitsForARunInProgressOfAYoungerOne) {
  core::SchemaMigration younger = Obj();
  younger.metadata.namespace_ = "analytics";
  younger.metadata.name = "analytics-db";
  younger.metadata.uid = "uid-2";
  younger.metadata.creation_timestamp->unix_millis += 60'000;
  younger.status.database_identity = db_.database_identity;
  younger.status.phase = Phase::kDraining;
  younger.status.run = core::RunStatus{};
  kube_.objects["analytics/analytics-db"] = younger;
  ReconcileResult r = Reconcile();
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kDatabaseInUse);
  EXPECT_NE(Cond(ct::kReady).message.find("analytics/analytics-db"), std::string::npos);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);

  kube_.Object("analytics", "analytics-db").status.run.reset();
  kube_.Object("analytics", "analytics-db").status.phase = Phase::kSucceeded;
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// Intent before action, one case per action.
struct StaleCacheCase {
  std::string name;
  std::string crash_on;  // where the first controller died
  bool after_effect;
  Phase stale_phase;     // what the lagging cache then shows
};

void PrintTo(const StaleCacheCase& c, std::ostream* os) { *os << c.name; }

class StaleCacheTest : public ReconcilerTest,
                       public ::testing::WithParamInterface<StaleCacheCase> {};

// Invariant (intent before action): a scale-down, a restore and a backup
// happen only after a status write that records them succeeded against the
// object's current resourceVersion. A controller that starts after a
// failover and reads a stale copy of the object (mid-run, while the run has
// in fact finished and the application is back) gets 409 on that write and
// never scales or backs up anything.
TEST_P(StaleCacheTest, StaleObjectAfterFailoverNeverScalesOrBacksUp) {
  const StaleCacheCase& c = GetParam();
  kube_.auto_drain = false;
  Obj().spec.backup_when = "Always";
  effects_.CrashOn(c.crash_on, c.after_effect);
  try {
    for (int i = 0; i < 20; ++i) {
      Reconcile();
      kube_.Settle();
    }
    FAIL() << "never reached " << c.crash_on;
  } catch (const SimulatedCrash&) {
  }
  const core::SchemaMigration snapshot = Obj();
  ASSERT_EQ(snapshot.status.phase, c.stale_phase);
  // Another replica took over and finished the run.
  reconciler_ = NewReconciler();
  kube_.Settle();
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_EQ(Replicas("backend"), 2);

  // Failover to a controller whose cache still shows the snapshot.
  kube_.stale[std::string(kNs) + "/" + kName] = snapshot;
  const int scales = kube_.scale_calls();
  const int backups = db_.backup_calls;
  const core::SchemaMigrationStatus finished = St();
  reconciler_ = NewReconciler();
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile();
    EXPECT_EQ(r.error.code(), Code::kConflict) << r.error.ToString();
  }
  EXPECT_EQ(kube_.scale_calls(), scales) << "scaled from a stale object";
  EXPECT_EQ(db_.backup_calls, backups) << "backed up from a stale object";
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St(), finished);

  // Once the cache catches up there is nothing to do.
  kube_.stale.clear();
  EXPECT_FALSE(Reconcile().requeue_after.has_value());
  EXPECT_EQ(kube_.scale_calls(), scales);
}

INSTANTIATE_TEST_SUITE_P(
    All, StaleCacheTest,
    ::testing::Values(
        StaleCacheCase{"ScaleDown", "scale:Deployment/backend=0", false, Phase::kScalingDown},
        StaleCacheCase{"DrainRescale", "status:Draining", true, Phase::kDraining},
        StaleCacheCase{"Backup", "db:backup", false, Phase::kBackingUp},
        StaleCacheCase{"Restore", "scale:Deployment/backend=2", false, Phase::kScalingUp}),
    [](const auto& info) { return info.param.name; });

// Invariant: a run the engine rolled back for schema drift (the schema after
// the run is not the one recorded for the revision reached) is reported
// (Stalled, reason SchemaDrift, naming the way out) and not retried for the
// same input: retrying would scale the application down for the same
// refusal again and again.
TEST_F(ReconcilerTest, SchemaDriftRollbackStallsAndIsNotRetriedForTheSameInput) {
  db_.versions = {"seed_default_schemas"};
  Obj().spec.target_revision = "9bc6a98f1c12";
  db_.verification_failure = Status(
      Code::kSchemaDrift, "column components.dynamic_data exists but did not at 9bc6a98f1c12");
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSchemaDrift);
  EXPECT_NE(Cond(ct::kStalled).message.find("components.dynamic_data"), std::string::npos);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.verify.schema: Ignore"), std::string::npos);
  EXPECT_EQ(Replicas("backend"), 2);
  const int scales = kube_.scale_calls();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(5));
    Reconcile();
  }
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(kube_.scale_calls(), scales);
}

TEST_F(ReconcilerTest, VerifySchemaIgnoreReachesTheEngine) {
  RunUntilDone();
  ASSERT_FALSE(db_.targets_seen.empty());
  EXPECT_TRUE(db_.targets_seen.back().verify_schema) << "Enforce is the default";
  kube_.EditSpec(kNs, kName, [](auto& spec) {
    spec.verify_schema = "Ignore";
    spec.target_revision = "add_flexible_schemas";
  });
  RunUntilDone();
  EXPECT_FALSE(db_.targets_seen.back().verify_schema);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.verify_schema = "Sometimes"; });
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.verify.schema"), std::string::npos);
}

}  // namespace
}  // namespace schemaop::reconcile

// ------------------------------------------------------- caSecretRef (TLS)

namespace schemaop::reconcile {
namespace {

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n";

// Invariant: the CA named by spec.database.caSecretRef reaches the engine
// with every database call; without caSecretRef none does.
TEST_F(ReconcilerTest, CaSecretRefReachesTheDatabaseTarget) {
  Obj().spec.ca_secret_ref = {"drawing-db-ca", "ca.crt"};
  kube_.secrets["drawing/drawing-db-ca"] = {{"ca.crt", kCaPem}};
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_FALSE(db_.targets_seen.empty());
  for (const DatabaseTarget& target : db_.targets_seen) {
    EXPECT_EQ(target.ca_certificate_pem, kCaPem);
    EXPECT_EQ(target.url, kUrl);
  }
}

TEST_F(ReconcilerTest, WithoutCaSecretRefNoCaIsPassed) {
  RunUntilDone();
  ASSERT_FALSE(db_.targets_seen.empty());
  EXPECT_TRUE(db_.targets_seen.back().ca_certificate_pem.empty());
}

// Invariant: a missing CA Secret, key or an empty key stalls before any
// database call, naming the Secret, the key and spec.database.caSecretRef.
TEST_F(ReconcilerTest, MissingCaSecretStallsNamingIt) {
  Obj().spec.ca_secret_ref = {"drawing-db-ca", "ca.crt"};
  for (const auto& secret : std::vector<std::map<std::string, std::string>>{
           {}, {{"other", kCaPem}}, {{"ca.crt", ""}}}) {
    if (secret.empty()) {
      kube_.secrets.erase("drawing/drawing-db-ca");
    } else {
      kube_.secrets["drawing/drawing-db-ca"] = secret;
    }
    Reconcile();
    EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSecretNotFound);
    EXPECT_NE(Cond(ct::kStalled).message.find("drawing/drawing-db-ca with key ca.crt"),
              std::string::npos)
        << Cond(ct::kStalled).message;
    EXPECT_NE(Cond(ct::kStalled).message.find("spec.database.caSecretRef"), std::string::npos)
        << Cond(ct::kStalled).message;
    EXPECT_TRUE(db_.targets_seen.empty());
  }
}

}  // namespace
}  // namespace schemaop::reconcile
