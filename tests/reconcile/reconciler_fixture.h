#pragma once
// The fixture of the reconciler's unit tests (reconciler*_test.cpp): one
// SchemaMigration drawing/drawing-db with two Deployments, its Secret and
// ConfigMap, against the in-memory fakes of fakes.h and a fake clock. Not
// in an anonymous namespace: gtest wants one fixture type per test suite
// across the files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/fakes.h"
#include "reconcile/reconciler.h"

namespace schemaop::reconcile {

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

inline constexpr char kNs[] = "drawing";
inline constexpr char kName[] = "drawing-db";
inline constexpr char kPassword[] = "S3cr3t-P4ssw0rd";
inline const std::string kUrl = std::string("postgresql://app:") + kPassword + "@db.drawing.svc:5432/drawing";

class ReconcilerTest : public ::testing::Test {
 protected:
  // Every status the reconciler wrote in the test keeps the kstatus
  // invariant (FakeKube::kstatus_violations, docs/gitops.md).
  void TearDown() override {
    EXPECT_THAT(kube_.kstatus_violations(), ::testing::IsEmpty());
  }

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
    obj.spec.workloads = {{"Deployment", "backend", ""}, {"Deployment", "celery-worker", ""}};
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

}  // namespace schemaop::reconcile
