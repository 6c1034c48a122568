#include "reconcile/fakes.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/conditions.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::reconcile::testing {

using core::Code;
using core::Status;
namespace ct = core::condition_types;

// ------------------------------------------------------------- SideEffects

int SideEffects::Hit(const std::string& op, const std::function<void()>& apply) {
  const int index = static_cast<int>(ops_.size());
  ops_.push_back(op);
  bool crash = index == crash_at_;
  if (!crash_on_.empty() && op.rfind(crash_on_, 0) == 0) {
    crash = true;
  }
  if (crash) {
    crash_at_ = -1;
    crash_on_.clear();
  }
  if (crash && !crash_after_) {
    throw SimulatedCrash{op};
  }
  apply();
  if (crash && crash_after_) {
    throw SimulatedCrash{op};
  }
  return index;
}

int SideEffects::IndexOf(const std::string& prefix, int from) const {
  for (int i = from; i < static_cast<int>(ops_.size()); ++i) {
    if (ops_[i].rfind(prefix, 0) == 0) {
      return i;
    }
  }
  return -1;
}

int SideEffects::Count(const std::string& prefix) const {
  return static_cast<int>(std::count_if(ops_.begin(), ops_.end(), [&](const std::string& op) {
    return op.rfind(prefix, 0) == 0;
  }));
}

// ---------------------------------------------------------------- FakeKube

core::SchemaMigration& FakeKube::Object(const std::string& ns, const std::string& name) {
  return objects.at(ns + "/" + name);
}

void FakeKube::EditSpec(const std::string& ns, const std::string& name,
                        const std::function<void(core::SchemaMigrationSpec&)>& edit) {
  core::SchemaMigration& obj = Object(ns, name);
  edit(obj.spec);
  ++obj.metadata.generation;
  obj.metadata.resource_version = NextResourceVersion();
}

void FakeKube::MarkDeleted(const std::string& ns, const std::string& name, core::Timestamp when) {
  core::SchemaMigration& obj = Object(ns, name);
  obj.metadata.deletion_timestamp = when;
  obj.metadata.resource_version = NextResourceVersion();
}

void FakeKube::Settle() {
  for (auto& [key, w] : workloads) {
    w.status_replicas = w.spec_replicas;
  }
  for (const std::string& job : deleting_jobs) {
    effects_.Hit("job-gone:" + job.substr(job.find('/') + 1), [&] { jobs.erase(job); });
  }
  deleting_jobs.clear();
}

FakeWorkload& FakeKube::Workload(const std::string& ns, const std::string& kind,
                                 const std::string& name) {
  return workloads.at(ns + "/" + kind + "/" + name);
}

std::string FakeKube::AllWrittenText() const {
  std::string out;
  for (const std::string& text : written_texts_) {
    out += text + "\n";
  }
  for (const RecordedEvent& e : events) {
    out += e.reason + ": " + e.message + "\n";
  }
  return out;
}

core::Result<core::SchemaMigration> FakeKube::GetSchemaMigration(const std::string& ns,
                                                                 const std::string& name) {
  if (auto lagging = stale.find(ns + "/" + name); lagging != stale.end()) {
    return lagging->second;
  }
  auto it = objects.find(ns + "/" + name);
  if (it == objects.end()) {
    return Status(Code::kNotFound, "schemamigrations " + name + " not found");
  }
  return it->second;
}

core::Result<std::vector<core::SchemaMigration>> FakeKube::ListSchemaMigrationsReferencing(
    const std::string& ns, const std::string& kind, const std::string& name) {
  std::vector<core::SchemaMigration> out;
  for (const auto& [key, obj] : objects) {
    if (obj.metadata.namespace_ == ns && ReferencesObject(obj, kind, name)) {
      out.push_back(obj);
    }
  }
  return out;
}

core::Result<std::vector<core::SchemaMigration>> FakeKube::ListSchemaMigrationsByDatabaseIdentity(
    const std::string& identity) {
  std::vector<core::SchemaMigration> out;
  for (const auto& [key, obj] : objects) {
    if (obj.status.database_identity == identity) {
      out.push_back(obj);
    }
  }
  return out;
}

namespace {

// What kstatus (and the Argo CD health check) make of `status` written for
// `generation`, judged against the invariant; empty when it holds.
std::string KstatusViolation(std::int64_t generation, const core::SchemaMigrationStatus& status) {
  if (status.conditions.empty() || status.observed_generation != generation) {
    return "";  // kstatus: no conditions yet, or an older generation (InProgress)
  }
  const core::Condition* ready = core::FindCondition(status.conditions, ct::kReady);
  const bool ready_now = ready != nullptr && ready->status == core::ConditionStatus::kTrue &&
                         ready->observed_generation == generation;
  const bool reconciling = core::IsConditionTrue(status.conditions, ct::kReconciling);
  const bool stalled = core::IsConditionTrue(status.conditions, ct::kStalled);
  const std::string where = std::string(" (phase ") + core::PhaseName(status.phase) + ", Ready " +
                            (ready != nullptr ? ready->reason : std::string("absent")) + ")";
  if (ready_now && (reconciling || stalled)) {
    return "Ready=True together with " + std::string(reconciling ? "Reconciling" : "Stalled") +
           "=True" + where;
  }
  if (!ready_now && !reconciling && !stalled) {
    return "not Ready for generation " + std::to_string(generation) +
           ", yet neither Reconciling nor Stalled: kstatus says Current" + where;
  }
  return "";
}

}  // namespace

core::Result<std::string> FakeKube::UpdateStatus(const core::SchemaMigration& obj) {
  const std::string key = obj.metadata.namespace_ + "/" + obj.metadata.name;
  auto it = objects.find(key);
  if (it == objects.end()) {
    return Status(Code::kNotFound, "schemamigrations " + obj.metadata.name + " not found");
  }
  if (update_status_error) {
    return *update_status_error;
  }
  if (conflicts_to_inject > 0) {
    --conflicts_to_inject;
    it->second.metadata.resource_version = NextResourceVersion();
    return Status(Code::kConflict, "the object has been modified");
  }
  if (it->second.metadata.resource_version != obj.metadata.resource_version) {
    return Status(Code::kConflict, "the object has been modified");
  }
  std::string rv;
  effects_.Hit(std::string("status:") + core::PhaseName(obj.status.phase), [&] {
    it->second.status = obj.status;
    rv = NextResourceVersion();
    it->second.metadata.resource_version = rv;
    ++status_writes_;
    written_texts_.push_back(StatusToJson(obj.status).dump());
    if (std::string v = KstatusViolation(it->second.metadata.generation, obj.status); !v.empty()) {
      kstatus_violations_.push_back(v);
    }
  });
  return rv;
}

core::Result<std::string> FakeKube::AddFinalizer(const core::SchemaMigration& obj,
                                                 const std::string& finalizer) {
  auto it = objects.find(obj.metadata.namespace_ + "/" + obj.metadata.name);
  if (it == objects.end()) {
    return Status(Code::kNotFound, "not found");
  }
  if (it->second.metadata.resource_version != obj.metadata.resource_version) {
    return Status(Code::kConflict, "the object has been modified");
  }
  std::string rv;
  effects_.Hit("finalizer+", [&] {
    if (!it->second.metadata.HasFinalizer(finalizer)) {
      it->second.metadata.finalizers.push_back(finalizer);
    }
    rv = NextResourceVersion();
    it->second.metadata.resource_version = rv;
    ++finalizer_writes_;
  });
  return rv;
}

core::Result<std::string> FakeKube::RemoveFinalizer(const core::SchemaMigration& obj,
                                                    const std::string& finalizer) {
  const std::string key = obj.metadata.namespace_ + "/" + obj.metadata.name;
  auto it = objects.find(key);
  if (it == objects.end()) {
    return Status(Code::kNotFound, "not found");
  }
  if (it->second.metadata.resource_version != obj.metadata.resource_version) {
    return Status(Code::kConflict, "the object has been modified");
  }
  std::string rv;
  effects_.Hit("finalizer-", [&] {
    auto& f = it->second.metadata.finalizers;
    f.erase(std::remove(f.begin(), f.end(), finalizer), f.end());
    ++finalizer_writes_;
    if (f.empty() && it->second.metadata.deletion_timestamp) {
      objects.erase(it);  // the API server deletes it now
    } else {
      rv = NextResourceVersion();
      it->second.metadata.resource_version = rv;
    }
  });
  return rv;
}

core::Result<std::string> FakeKube::GetSecretValue(const std::string& ns, const std::string& name,
                                                   const std::string& key) {
  auto it = secrets.find(ns + "/" + name);
  if (it == secrets.end()) {
    return Status(Code::kNotFound, "secrets \"" + name + "\" not found");
  }
  auto value = it->second.find(key);
  if (value == it->second.end()) {
    return Status(Code::kNotFound, "Secret " + name + " has no key " + key);
  }
  return value->second;
}

core::Result<std::map<std::string, std::string>> FakeKube::GetConfigMapData(
    const std::string& ns, const std::string& name) {
  auto it = config_maps.find(ns + "/" + name);
  if (it == config_maps.end()) {
    return Status(Code::kNotFound, "configmaps \"" + name + "\" not found");
  }
  return it->second;
}

namespace {

// kInvalidArgument when `w` names its kind under another apiVersion than the
// one the fake workload is served under (what discovery would answer).
core::Status CheckServed(const core::WorkloadRef& w, const std::map<std::string, std::string>& served,
                        const std::string& key) {
  auto it = served.find(key);
  if (core::WorkloadApiVersion(w.api_version, w.kind) ==
      core::WorkloadApiVersion(it == served.end() ? "" : it->second, w.kind)) {
    return Status::Ok();
  }
  return Status(Code::kInvalidArgument,
                "kind " + w.kind + " is not served under apiVersion " + w.api_version);
}

}  // namespace

core::Result<WorkloadScale> FakeKube::GetScale(const std::string& ns, const core::WorkloadRef& w) {
  if (get_scale_error) {
    return *get_scale_error;
  }
  auto it = workloads.find(ns + "/" + w.kind + "/" + w.name);
  if (it == workloads.end()) {
    return Status(Code::kNotFound, w.kind + " " + w.name + " not found");
  }
  if (Status s = CheckServed(w, served_api_versions, it->first); !s.ok()) {
    return s;
  }
  return WorkloadScale{it->second.spec_replicas, it->second.status_replicas};
}

core::Status FakeKube::SetReplicas(const std::string& ns, const core::WorkloadRef& w,
                                   std::int32_t replicas) {
  if (set_replicas_error) {
    return *set_replicas_error;
  }
  auto it = workloads.find(ns + "/" + w.kind + "/" + w.name);
  if (it == workloads.end()) {
    return Status(Code::kNotFound, w.kind + " " + w.name + " not found");
  }
  if (Status s = CheckServed(w, served_api_versions, it->first); !s.ok()) {
    return s;
  }
  effects_.Hit("scale:" + w.kind + "/" + w.name + "=" + std::to_string(replicas), [&] {
    it->second.spec_replicas = replicas;
    if (auto_drain) {
      it->second.status_replicas = replicas;
    }
    ++scale_calls_;
  });
  return Status::Ok();
}

core::Result<std::vector<AutoscalerInfo>> FakeKube::ListAutoscalersOf(const std::string& ns,
                                                                      const std::string& kind,
                                                                      const std::string& name) {
  auto it = autoscalers.find(ns + "/" + kind + "/" + name);
  return it == autoscalers.end() ? std::vector<AutoscalerInfo>{} : it->second;
}

core::Status FakeKube::SetScaledObjectPausedReplicas(const std::string& ns,
                                                     const std::string& name,
                                                     const std::optional<std::string>& value) {
  for (auto& [target, list] : autoscalers) {
    if (target.rfind(ns + "/", 0) != 0) {
      continue;
    }
    for (AutoscalerInfo& a : list) {
      if (a.kind == core::kKindScaledObject && a.name == name) {
        effects_.Hit("keda-paused:" + name + "=" + value.value_or("<none>"),
                     [&] { a.paused_replicas = value; });
        return Status::Ok();
      }
    }
  }
  return Status(Code::kNotFound, "ScaledObject " + name + " not found");
}

std::optional<std::string> FakeKube::PausedReplicasOf(const std::string& ns,
                                                      const std::string& name) const {
  for (const auto& [target, list] : autoscalers) {
    for (const AutoscalerInfo& a : list) {
      if (target.rfind(ns + "/", 0) == 0 && a.kind == core::kKindScaledObject && a.name == name) {
        return a.paused_replicas;
      }
    }
  }
  return std::nullopt;
}

core::Status FakeKube::DeleteRunningJobsOf(const std::string& ns, const std::string& name) {
  auto it = workloads.find(ns + "/" + std::string(core::kKindCronJob) + "/" + name);
  if (it == workloads.end()) {
    return Status(Code::kNotFound, "CronJob " + name + " not found");
  }
  effects_.Hit("delete-jobs:CronJob/" + name, [&] { it->second.status_replicas = 0; });
  return Status::Ok();
}

core::Result<std::string> FakeKube::ReplicasWriterOf(const std::string& ns,
                                                     const core::WorkloadRef& w) {
  const std::string& kind = w.kind;
  const std::string& name = w.name;
  const std::string key = ns + "/" + kind + "/" + name;
  if (workloads.find(key) == workloads.end()) {
    return Status(Code::kNotFound, kind + " " + name + " not found");
  }
  auto it = writers.find(key);
  return it != writers.end() ? it->second
                             : std::string("manager \"schemaop\" (operation Update, subresource scale)");
}

void FakeKube::RecordEvent(const core::SchemaMigration& obj, EventType type,
                           const std::string& reason, const std::string& message) {
  effects_.Hit("event:" + reason, [&] {
    events.push_back(RecordedEvent{obj.metadata.namespace_ + "/" + obj.metadata.name, type,
                                   reason, message});
  });
}

// ------------------------------------------------------------ FakeDatabase

int FakeDatabase::IndexOf(const std::vector<std::string>& v) const {
  if (v.empty()) {
    return -1;
  }
  auto it = std::find(chain.begin(), chain.end(), v.front());
  return it == chain.end() ? -2 : static_cast<int>(it - chain.begin());
}

core::Result<std::vector<std::string>> FakeDatabase::Resolve(const std::string& target) const {
  // Relative: +N / -N from the current version, REV+N / REV-N from REV
  // (core::ResolveTarget on a linear chain).
  const std::size_t sign = target.find_last_of("+-");
  if (sign != std::string::npos) {
    const std::string name = target.substr(0, sign);
    int at = -1;  // base
    if (name.empty()) {
      at = IndexOf(versions);
    } else if (name != "base") {
      auto start = Resolve(name);
      if (!start.ok()) {
        return start.status();
      }
      at = IndexOf(start.value());
    }
    const int n = std::stoi(target.substr(sign + 1));
    at += target[sign] == '+' ? n : -n;
    if (at < -1 || at >= static_cast<int>(chain.size())) {
      return Status(Code::kRangeError, "relative target '" + target + "' goes past the chain");
    }
    return at < 0 ? std::vector<std::string>{} : std::vector<std::string>{chain[at]};
  }
  if (target == "head" || target == "heads") {
    return std::vector<std::string>{chain.back()};
  }
  if (target == "base") {
    return std::vector<std::string>{};
  }
  std::vector<std::string> matches;
  for (const std::string& rev : chain) {
    if (rev == target) {
      return std::vector<std::string>{rev};
    }
    if (rev.rfind(target, 0) == 0) {
      matches.push_back(rev);
    }
  }
  if (matches.size() == 1) {
    return matches;
  }
  if (matches.size() > 1) {
    return Status(Code::kAmbiguousRevision, "revision prefix '" + target + "' is ambiguous");
  }
  return Status(Code::kUnknownRevision, "Can't locate revision identified by '" + target + "'");
}

std::vector<core::PlanStepStatus> FakeDatabase::Steps(int from, int to) const {
  std::vector<core::PlanStepStatus> steps;
  for (int i = from + 1; i <= to; ++i) {
    steps.push_back({chain[i], core::MigrationDirection::kUpgrade});
  }
  for (int i = from; i > to; --i) {
    steps.push_back({chain[i], core::MigrationDirection::kDowngrade});
  }
  return steps;
}

core::Result<InspectResult> FakeDatabase::Inspect(const DatabaseTarget& target,
                                                  const std::string& target_revision) {
  ++inspect_calls;
  targets_seen.push_back(target);
  inspected_targets.push_back(target_revision);
  if (inspect_error) {
    return *inspect_error;
  }
  auto resolved = Resolve(target_revision);
  if (!resolved.ok()) {
    return resolved.status();
  }
  InspectResult result;
  result.current_versions = versions;
  result.target_versions = resolved.value();
  result.steps = Steps(IndexOf(versions), IndexOf(resolved.value()));
  for (core::PlanStepStatus& step : result.steps) {
    step.phases = step_phases;
  }
  result.has_downgrade =
      std::any_of(result.steps.begin(), result.steps.end(), [](const core::PlanStepStatus& s) {
        return s.direction == core::MigrationDirection::kDowngrade;
      });
  result.plan_digest = PlanDigest(target.migration_files, versions, resolved.value());
  if (result.steps.empty()) {
    result.pending_contract = pending_contract;
  }
  result.database_identity = database_identity;
  return result;
}

std::string FakeDatabase::PlanDigest(const std::vector<std::pair<std::string, std::string>>& files,
                                     const std::vector<std::string>& from,
                                     const std::vector<std::string>& to) {
  std::vector<std::pair<std::string, std::string>> fields = files;
  fields.emplace_back("from", core::FormatVersions(from));
  fields.emplace_back("to", core::FormatVersions(to));
  // 64 hex digits like the engine's sha256, so it can be approved
  // (spec.approvedPlanHash).
  std::string digest;
  for (const char* salt : {"a", "b", "c", "d"}) {
    fields.emplace_back("salt", salt);
    digest += core::DigestOf(fields);
  }
  return digest;
}

core::Result<BackupResult> FakeDatabase::Backup(const DatabaseTarget& target) {
  ++backup_calls;
  targets_seen.push_back(target);
  if (on_backup) {
    on_backup();
  }
  if (backup_error) {
    return *backup_error;
  }
  BackupResult result;
  effects_->Hit("db:backup", [&] {
    ++backups_;
    result.path = "/backups/drawing-" + std::to_string(backups_) + ".dump";
    result.bytes = 4096;
    result.sha256 = std::string(64, 'a');
  });
  return result;
}

void FakeDatabase::FinishHeld() {
  for (auto& [key, run] : held) {
    if (!run.result) {
      run.result = Migrate(run.target, run.target_versions, run.identity);
    }
  }
}

std::optional<RunTicket> FakeDatabase::FindRun(const RunIdentity& identity,
                                               const RunControl& control) {
  auto it = held.find(identity.Key());
  if (it == held.end()) {
    return std::nullopt;
  }
  HeldRun& run = it->second;
  run.control = control;
  RunTicket ticket;
  if (!run.result && control.cancel) {
    if (run.cancel_seen) {
      MigrateResult cancelled;
      cancelled.outcome = MigrateOutcome::kRolledBack;
      cancelled.final_versions = versions;
      cancelled.failure = *control.cancel;
      ended_runs[identity.Key()] = cancelled;
      run.result = cancelled;
    }
    run.cancel_seen = true;
  }
  if (!run.result) {
    ticket.state = slots_full ? RunTicket::State::kWaiting : RunTicket::State::kRunning;
    ticket.runs_in_progress = 4;
    ticket.max_runs = 4;
    if (ticket.state == RunTicket::State::kRunning) {
      ticket.progress = held_progress;
    }
    return ticket;
  }
  ticket.result = std::move(*run.result);
  held.erase(it);
  return ticket;
}

RunTicket FakeDatabase::StartMigrate(const DatabaseTarget& target,
                                     const std::vector<std::string>& target_versions,
                                     const RunIdentity& identity, const RunControl& control,
                                     const std::string& object_key) {
  if (!hold_runs) {
    return DatabasePort::StartMigrate(target, target_versions, identity, control, object_key);
  }
  if (held.count(identity.Key()) == 0) {
    held[identity.Key()] = HeldRun{target, target_versions, identity, control, false, {}};
  }
  return *FindRun(identity, control);
}

void FakeDatabase::FinishHeldRehearsals() {
  for (auto& [key, r] : held_rehearsals) {
    if (!r.result) {
      r.result = Rehearse(r.target, r.target_versions, r.plan_digest, r.with_backup);
    }
  }
}

std::optional<RehearsalTicket> FakeDatabase::FindRehearsal(const RunIdentity& identity) {
  auto it = held_rehearsals.find(identity.Key());
  if (it == held_rehearsals.end()) {
    return std::nullopt;
  }
  RehearsalTicket ticket;
  if (!it->second.result) {
    ticket.state = RunTicket::State::kRunning;
    return ticket;
  }
  ticket.result = std::move(it->second.result);
  held_rehearsals.erase(it);
  return ticket;
}

RehearsalTicket FakeDatabase::StartRehearse(const DatabaseTarget& target,
                                            const std::vector<std::string>& target_versions,
                                            const RunIdentity& identity, bool with_backup,
                                            const std::string& object_key) {
  if (!hold_rehearsals) {
    return DatabasePort::StartRehearse(target, target_versions, identity, with_backup,
                                       object_key);
  }
  held_rehearsals[identity.Key()] =
      HeldRehearsal{target, target_versions, identity.plan_digest, with_backup, std::nullopt};
  return *FindRehearsal(identity);
}

core::Result<RehearseResult> FakeDatabase::Rehearse(const DatabaseTarget& target,
                                                    const std::vector<std::string>& target_versions,
                                                    const std::string& plan_digest,
                                                    bool with_backup) {
  ++rehearse_calls;
  targets_seen.push_back(target);
  if (on_rehearse) {
    on_rehearse();
  }
  if (rehearse_error) {
    return *rehearse_error;
  }
  RehearseResult result;
  effects_->Hit("db:rehearse", [&] {
    result.plan_digest = plan_digest;
    result.sql_seconds = 1.5 * static_cast<double>(target_versions.size());
    result.predicted_downtime_seconds = result.sql_seconds + (with_backup ? 2.0 : 0.0);
    result.succeeded = !rehearsal_failure;
    if (rehearsal_failure) {
      result.failure = *rehearsal_failure;
    }
  });
  return result;
}

core::Result<MigrateResult> FakeDatabase::Migrate(const DatabaseTarget& target,
                                                  const std::vector<std::string>& target_versions,
                                                  const RunIdentity& identity) {
  ++migrate_calls;
  targets_seen.push_back(target);
  identities_seen.push_back(identity);
  if (on_migrate) {
    on_migrate();
  }
  if (migrate_error) {
    return *migrate_error;
  }
  if (auto ended = ended_runs.find(identity.Key()); ended != ended_runs.end()) {
    MigrateResult replayed = ended->second;
    replayed.replayed = true;
    replayed.recovered.reset();
    return replayed;
  }
  if (identity.phase == core::RunPhase::kExpand || identity.phase == core::RunPhase::kContract) {
    const bool expand = identity.phase == core::RunPhase::kExpand;
    MigrateResult result;
    effects_->Hit(expand ? "db:expand" : "db:contract", [&] {
      ++executions;
      phases_run.push_back(core::RunPhaseName(identity.phase));
      const std::optional<core::Status>& failure = expand ? expand_failure : contract_failure;
      result.outcome = failure ? MigrateOutcome::kFailed : MigrateOutcome::kSucceeded;
      if (failure) {
        result.failure = *failure;
      }
      result.final_versions = versions;
      result.sql_seconds = 1;
      result.total_seconds = expand ? 1.5 : 0.5;
      if (!expand) {
        pending_contract = failure ? identity.plan_digest : std::string();
      }
      ended_runs[identity.Key()] = result;
    });
    result.final_versions = versions;
    return result;
  }
  if (!identity.plan_digest.empty() && !Steps(IndexOf(versions), IndexOf(target_versions)).empty() &&
      identity.plan_digest != PlanDigest(target.migration_files, versions, target_versions)) {
    return Status(Code::kMigrationsChanged,
                  "the plan from " + core::FormatVersions(versions) + " to " +
                      core::FormatVersions(target_versions) +
                      " is not the one recorded at planning (plan digest differs)");
  }
  MigrateResult result;
  effects_->Hit("db:migrate", [&] {
    const int from = IndexOf(versions);
    const int to = IndexOf(target_versions);
    const auto steps = Steps(from, to);
    result.sql_seconds = 0.25 * static_cast<double>(steps.size());
    if (!steps.empty()) {
      ++executions;
      phases_run.push_back(core::RunPhaseName(identity.phase));
      result.total_seconds = 0.5 * static_cast<double>(steps.size());
    }
    if (steps.empty()) {
      result.outcome = MigrateOutcome::kNothingToDo;
    } else if (verification_failure) {
      result.outcome = MigrateOutcome::kRolledBack;
      result.failure = *verification_failure;
    } else if (fail_at_step && *fail_at_step < static_cast<int>(steps.size())) {
      result.failure = Status(Code::kMigrationFailed,
                              "step " + steps[*fail_at_step].revision + ": division by zero");
      if (target.failure_policy == core::FailurePolicy::kHalt && *fail_at_step > 0) {
        const auto& done = steps[*fail_at_step - 1];
        const int at = done.direction == core::MigrationDirection::kUpgrade
                           ? static_cast<int>(std::find(chain.begin(), chain.end(),
                                                        done.revision) - chain.begin())
                           : static_cast<int>(std::find(chain.begin(), chain.end(),
                                                        done.revision) - chain.begin()) - 1;
        versions = at < 0 ? std::vector<std::string>{} : std::vector<std::string>{chain[at]};
        result.outcome = MigrateOutcome::kFailed;
      } else {
        result.outcome = MigrateOutcome::kRolledBack;
      }
    } else {
      versions = target_versions;
      result.outcome = MigrateOutcome::kSucceeded;
    }
    result.final_versions = versions;
    if (result.outcome != MigrateOutcome::kNothingToDo) {
      ended_runs[identity.Key()] = result;  // in the run's own transaction
    }
  });
  result.final_versions = versions;
  return result;
}

}  // namespace schemaop::reconcile::testing
