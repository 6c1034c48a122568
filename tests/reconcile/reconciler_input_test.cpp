// The reconciler outside a run (design §6.2): bad input is reported with
// its reason and touches nothing; the CA Secret reaches the engine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

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

// Invariant: a stall whose fix may be outside the spec is re-checked. An
// engine refusal of a setting from the Secret (an unparseable URL, a CA that
// is not PEM) has reason InvalidSpec, but a Secret is not watched: the
// object must come back after stalled_recheck and pick up the fixed Secret,
// and the message must point at the Secret.
TEST_F(ReconcilerTest, SecretRefusedByTheEngineIsRecheckedAndNamed) {
  db_.inspect_error = Status(Code::kInvalidArgument, "cannot parse the database URL postgresql://app:xxxxx@db");
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_NE(Cond(ct::kStalled).message.find("Secret " + kube_.Object(kNs, kName).spec.url_secret_ref.name),
            std::string::npos)
      << Cond(ct::kStalled).message;
  ASSERT_TRUE(r.requeue_after.has_value()) << "a Secret fix would never be seen";
  db_.inspect_error.reset();  // the Secret was fixed
  clock_.Advance(*r.requeue_after);
  Reconcile();
  EXPECT_NE(St().phase, Phase::kFailed);
  EXPECT_NE(Cond(ct::kStalled).status, ConditionStatus::kTrue);
}

// Invariant: a spec that fails validation is not polled (only an edit,
// which is watched, can fix it).
TEST_F(ReconcilerTest, InvalidSpecFieldsAreNotPolled) {
  kube_.Object(kNs, kName).spec.drain_timeout_seconds = -1;
  ReconcileResult r = Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_FALSE(r.requeue_after.has_value());
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
         k.Object(kNs, kName).spec.workloads.push_back({"StatefulSet", "ghost", ""});
       },
       rs::kWorkloadNotFound, true},
      {"InvalidSpec",
       [](FakeKube& k, FakeDatabase&) {
         k.Object(kNs, kName).spec.workloads.push_back({"Deployment", "backend", ""});
       },
       rs::kInvalidSpec, true},
      // spec.executor Job needs the backup (design §10.4): refused before
      // anything is read, scaled or created.
      {"ExecutorJobWithoutBackup",
       [](FakeKube& k, FakeDatabase&) {
         core::SchemaMigrationSpec& spec = k.Object(kNs, kName).spec;
         spec.executor = core::kExecutorJob;
         spec.job.emplace().image = "registry.example/drawing:1.4.2";
         spec.backup_when = "Never";
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
  Obj().spec.workloads.push_back({"Deployment", "backend", ""});
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

// ------------------------------------------------------- caSecretRef (TLS)

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


// Invariant (design §6.3, any scalable kind): the writers recorded and
// scaled are exactly the listed ones, each restored to its recorded
// replicas, whatever the kind; a custom kind goes through the same port
// (its scale subresource) with its apiVersion.
TEST_F(ReconcilerTest, AnyScalableKindIsRecordedScaledAndRestored) {
  kube_.Object(kNs, kName).spec.workloads.push_back({"Rollout", "editor", "argoproj.io/v1alpha1"});
  kube_.workloads["drawing/Rollout/editor"] = {4, 4};
  kube_.served_api_versions["drawing/Rollout/editor"] = "argoproj.io/v1alpha1";
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_EQ(St().workloads.size(), 3u);
  EXPECT_EQ(St().workloads[2], (core::WorkloadStatus{"Rollout", "editor", 4, "argoproj.io/v1alpha1"}));
  const int recorded = effects_.IndexOf("status:ScalingDown");
  const int down = effects_.IndexOf("scale:Rollout/editor=0");
  const int migrate = effects_.IndexOf("db:migrate");
  const int up = effects_.IndexOf("scale:Rollout/editor=4");
  ASSERT_GE(recorded, 0);
  EXPECT_LT(recorded, down);
  EXPECT_LT(down, migrate);
  EXPECT_LT(migrate, up);
  EXPECT_EQ(kube_.Workload(kNs, "Rollout", "editor").spec_replicas, 4);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
}

// A kind the cluster cannot scale (not served under the apiVersion, no scale
// subresource) is refused before anything is recorded or scaled, with the
// port's message naming the kind, and re-checked (a CRD may be installed).
TEST_F(ReconcilerTest, AKindThatCannotBeScaledIsRefusedAndRechecked) {
  kube_.Object(kNs, kName).spec.workloads.push_back({"Worker", "importer", "example.com/v1"});
  kube_.workloads["drawing/Worker/importer"] = {1, 1};
  kube_.served_api_versions["drawing/Worker/importer"] = "example.com/v2";
  ReconcileResult r = Reconcile();
  ExpectNothingTouched();
  EXPECT_TRUE(St().workloads.empty());
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  const std::string message = Cond(ct::kStalled).message;
  EXPECT_NE(message.find("spec.workloads[2] importer"), std::string::npos) << message;
  EXPECT_NE(message.find("kind Worker is not served under apiVersion example.com/v1"),
            std::string::npos)
      << message;
  ASSERT_TRUE(r.requeue_after.has_value()) << "an installed CRD would never be seen";

  kube_.served_api_versions["drawing/Worker/importer"] = "example.com/v1";  // CRD installed
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(kube_.Workload(kNs, "Worker", "importer").spec_replicas, 1);
  EXPECT_GE(effects_.IndexOf("scale:Worker/importer=0"), 0);
}

}  // namespace
}  // namespace schemaop::reconcile
