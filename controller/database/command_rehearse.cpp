// The command layer, rehearsal (design §4.10): the plan run forward and back
// on a scratch copy of the database. The database itself is only read
// (planning, pg_dump); every change happens in the scratch database, which
// is dropped on every path.
#include <memory>
#include <optional>

#include "database/migrator.h"
#include "database/migrator_impl.h"
#include "database/rehearsal.h"
#include "database/run_cancel.h"
#include "database/schema_fingerprint.h"
#include "database/scratch_database.h"

namespace schemaop::database {

using core::Code;
using core::Status;

namespace {

using std::chrono::milliseconds;

milliseconds ToMillis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<milliseconds>(d);
}

// Per-step SQL time of one run on the scratch database: the engine's SQL
// clock (Runtime::sql_time) read when each forward step starts.
struct StepClock {
  const internal::Runtime* rt = nullptr;
  std::vector<RehearsalStepTime> steps;
  std::vector<std::chrono::nanoseconds> started;

  void Observe(const ProgressEvent& event) {
    if (rt == nullptr || event.phase != "migrating" || event.step_index < 0 ||
        event.message.rfind("undoing", 0) == 0) {
      return;
    }
    if (!steps.empty() && static_cast<int>(steps.size()) - 1 == event.step_index) {
      return;
    }
    steps.push_back({event.revision, event.direction, milliseconds(0)});
    started.push_back(rt->sql_time);
  }
  void Finish() {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto end = i + 1 < steps.size() ? started[i + 1] : rt->sql_time;
      steps[i].sql = ToMillis(end - started[i]);
    }
  }
};

// The options of the Migrator on the scratch database: the caller's
// verification, no backup, no run identity, no fencing, and the plan pinned
// to the digest planned on the database.
MigratorOptions ScratchOptions(const MigratorOptions& base, const std::string& digest,
                               bool other_server, StepClock* clock) {
  MigratorOptions options = base;
  options.backup_policy = BackupPolicy::kNever;
  options.run_key.clear();
  options.expected_plan_digest = digest;
  options.fence_prefix.clear();
  options.actor = base.actor + " (rehearsal)";
  if (other_server) {
    options.ca_certificate_pem.clear();  // --rehearsal-url decides its own TLS
  }
  options.on_progress = [clock, forward = base.on_progress](const ProgressEvent& event) {
    clock->Observe(event);
    if (forward) {
      ProgressEvent shown = event;
      shown.message = "rehearsal: " + event.message;
      forward(shown);
    }
  };
  return options;
}

Status RunOutcomeStatus(const core::Result<RunReport>& run, const char* what) {
  if (!run.ok()) {
    return run.status();
  }
  if (run->outcome == RunOutcome::kSucceeded || run->outcome == RunOutcome::kNothingToDo) {
    return Status::Ok();
  }
  return Status(run->status.code(),
                std::string(what) + " " + RunOutcomeName(run->outcome) + ": " +
                    run->status.message(),
                run->status.detail());
}

std::string ReverseTarget(const std::vector<std::string>& from) {
  return from.empty() ? "base" : from.front();
}

// The rehearsal's connections: the admin session on the rehearsal server
// (CREATE/DROP DATABASE), its connection info, and the scratch database.
struct RehearsalScene {
  internal::ConnInfo admin_info;
  std::unique_ptr<internal::Session> admin;
  std::unique_ptr<internal::ScratchDatabase> scratch;
};

core::Result<RehearsalScene> OpenScene(internal::Runtime& rt, const RehearsalOptions& options,
                                       RehearsalReport* report) {
  RehearsalScene scene;
  auto info = options.rehearsal_url.empty() ? core::Result<internal::ConnInfo>(rt.info)
                                            : internal::ParseConnInfo(options.rehearsal_url);
  if (!info.ok()) {
    return Status(info.status().code(), "--rehearsal-url: " + info.status().message());
  }
  scene.admin_info = *info;
  auto admin = internal::Session::Open(scene.admin_info, internal::SessionSettings{
                                                             rt.options.lock_timeout,
                                                             rt.options.statement_timeout,
                                                             SessionName(rt.options)});
  if (!admin.ok()) {
    return admin.status();
  }
  scene.admin = std::move(admin).value();
  try {
    if (Status may = internal::CheckCreateDatabase(scene.admin->conn(),
                                                   !options.rehearsal_url.empty());
        !may.ok()) {
      return may;
    }
    report->removed_leftovers = internal::RemoveLeftoverScratchDatabases(scene.admin->conn());
    for (const auto& name : report->removed_leftovers) {
      rt.Emit("rehearsal-cleanup", "dropped the scratch database " + name +
                                       " left by an interrupted rehearsal");
    }
    auto scratch = internal::ScratchDatabase::Create(
        *scene.admin, scene.admin_info,
        options.rehearsal_url.empty() ? &rt.session->conn() : nullptr);
    if (!scratch.ok()) {
      return scratch.status();
    }
    scene.scratch = std::move(scratch).value();
  } catch (const std::exception& error) {
    return internal::StatusFromException(error, "cannot create the scratch database",
                                         scene.admin_info.password, Code::kMigrationFailed);
  }
  report->scratch_database = scene.scratch->name();
  return scene;
}

}  // namespace

namespace {

core::Result<internal::SchemaFingerprint> ScratchFingerprint(const internal::ConnInfo& scratch,
                                                             const std::string& version_table) {
  auto session = internal::Session::Open(scratch, internal::SessionSettings{});
  if (!session.ok()) {
    return session.status();
  }
  try {
    pqxx::read_transaction tx((*session)->conn());
    return internal::ReadSchemaFingerprint(tx, version_table);
  } catch (const std::exception& error) {
    return internal::StatusFromException(error, "cannot read the scratch database's schema",
                                         scratch.password, Code::kInternal);
  }
}

void Fail(RehearsalReport* report, const char* stage, Status status) {
  report->succeeded = false;
  report->failed_stage = stage;
  report->status = std::move(status);
}

// Forward to `target`, then back to where the copy started, each verified
// by the engine; then the schema compared with the copy's start.
// `scratch_options` (the scratch Migrator's own) pin the forward run to the
// plan made on the database. The reverse path is not pinned and runs
// without the user checks, which describe the target (a check on a column
// the upgrade adds fails at the start); the row guard and the schema
// fingerprint verify it.
void RunBothWays(Migrator& scratch, const internal::ConnInfo& scratch_info,
                 const std::string& version_table, MigratorOptions* scratch_options,
                 StepClock& clock,
                 std::string_view target, core::PlanMode mode, RehearsalReport* report) {
  auto start = ScratchFingerprint(scratch_info, version_table);
  if (!start.ok()) {
    return Fail(report, "copy", start.status());
  }
  auto forward = scratch.Run(target, mode);
  clock.Finish();
  report->forward_steps = std::move(clock.steps);
  if (forward.ok()) {
    report->forward_sql = forward->sql_duration;
    report->forward_total = forward->total_duration;
  }
  if (Status ok = RunOutcomeStatus(forward, "the rehearsed run"); !ok.ok()) {
    return Fail(report, "forward", ok);
  }
  clock = StepClock{clock.rt, {}, {}};
  scratch_options->expected_plan_digest.clear();
  scratch_options->checks.clear();
  const std::string back = ReverseTarget(report->plan.from_versions);
  auto reverse = scratch.Run(back, core::PlanMode::kAuto);
  clock.Finish();
  report->reverse_steps = std::move(clock.steps);
  if (reverse.ok()) {
    report->reverse_sql = reverse->sql_duration;
  }
  if (Status ok = RunOutcomeStatus(reverse, ("the reverse path to " + back).c_str()); !ok.ok()) {
    return Fail(report, "reverse", ok);
  }
  auto end = ScratchFingerprint(scratch_info, version_table);
  if (!end.ok()) {
    return Fail(report, "fingerprint", end.status());
  }
  if (end->digest != start->digest) {
    std::string lines;
    for (const auto& line : internal::DescribeDrift(*end, *start, back)) {
      lines += (lines.empty() ? "" : "; ") + line;
    }
    return Fail(report, "fingerprint",
                Status(Code::kSchemaDrift, "after the reverse path the schema differs from the "
                                           "copy's start: " + lines +
                                               " (a down section does not undo its up section)"));
  }
  report->succeeded = true;
}

}  // namespace

namespace {

class ScratchCopyImpl final : public Migrator::ScratchCopy {
 public:
  ScratchCopyImpl(std::unique_ptr<internal::Session> admin,
                  std::unique_ptr<internal::ScratchDatabase> scratch)
      : admin_(std::move(admin)), scratch_(std::move(scratch)) {}
  const std::string& name() const override { return scratch_->name(); }
  Status Drop() override { return scratch_->Drop(); }

 private:
  // Declared first, destroyed last: scratch_ drops itself through it.
  std::unique_ptr<internal::Session> admin_;
  std::unique_ptr<internal::ScratchDatabase> scratch_;
};

}  // namespace

core::Result<std::unique_ptr<Migrator::ScratchCopy>> Migrator::CopyToScratch() {
  internal::Runtime& rt = *impl_;
  RehearsalReport report;
  auto scene = OpenScene(rt, RehearsalOptions{}, &report);
  if (!scene.ok()) {
    return scene.status();
  }
  // On failure the scene's scratch database drops itself (its destructor).
  if (Status copied = internal::CopyDatabase(rt, rt.info, scene->scratch->info(),
                                             &report.dump_duration, &report.copy_duration);
      !copied.ok()) {
    return copied;
  }
  rt.Emit("scratch-copy", "copied the database into the scratch database " +
                              scene->scratch->name() + " for a rehearsal Job");
  return std::unique_ptr<ScratchCopy>(
      new ScratchCopyImpl(std::move(scene->admin), std::move(scene->scratch)));
}

core::Result<RehearsalReport> Migrator::Rehearse(std::string_view target, core::PlanMode mode,
                                                 const RehearsalOptions& options) {
  internal::Runtime& rt = *impl_;
  RehearsalReport report;
  auto planned = PlanAndDigest(target, mode);
  if (!planned.ok()) {
    return planned.status();
  }
  report.plan = planned->plan;
  report.plan_digest = planned->digest;
  if (report.plan.empty()) {
    report.succeeded = true;
    report.scratch_dropped = true;
    return report;
  }
  if (report.plan.from_versions.size() > 1) {
    return Status(Code::kInvalidArgument,
                  "the database is at several heads (" +
                      internal::VersionsText(report.plan.from_versions) +
                      "); a rehearsal returns to its start through one revision, so merge the "
                      "heads first; nothing was changed");
  }
  auto scene = OpenScene(rt, options, &report);
  if (!scene.ok()) {
    return scene.status();
  }
  StepClock clock;
  // A cancel request (the controller's shutdown grace, design §6.5) stops
  // the rehearsal at the next stage; inside the scratch runs the engine's
  // own cancel (ScratchOptions keeps it) interrupts the statement. Either
  // way the scratch database is dropped below.
  auto cancelled = [&rt]() -> std::optional<Status> {
    return rt.options.cancel ? rt.options.cancel->requested() : std::nullopt;
  };
  Status copied = cancelled().value_or(Status::Ok());
  if (copied.ok()) {
    copied = internal::CopyDatabase(rt, rt.info, scene->scratch->info(), &report.dump_duration,
                                    &report.copy_duration);
  }
  if (copied.ok()) {
    copied = cancelled().value_or(Status::Ok());
  }
  if (!copied.ok()) {
    Fail(&report, "copy", copied);
  } else {
    auto opened = Open(internal::ConnectionStringFor(scene->scratch->info(), report.scratch_database),
                       migrations(),
                       ScratchOptions(rt.options, report.plan_digest,
                                      !options.rehearsal_url.empty(), &clock));
    if (!opened.ok()) {
      Fail(&report, "copy", opened.status());
    } else {
      clock.rt = (*opened)->impl_.get();
      RunBothWays(**opened, scene->scratch->info(), rt.options.version_table,
                  &(*opened)->impl_->options, clock, target, mode, &report);
    }
  }
  report.backup_counted =
      options.backup == core::BackupWhen::kAlways ||
      (options.backup == core::BackupWhen::kDowngrade && report.plan.HasDowngrade());
  report.predicted_downtime =
      report.forward_total + (report.backup_counted ? report.dump_duration : milliseconds(0));
  Status dropped = scene->scratch->Drop();
  report.scratch_dropped = dropped.ok();
  if (!dropped.ok() && report.succeeded) {
    Fail(&report, "drop", dropped);
  }
  rt.Emit(report.succeeded ? "rehearsed" : "rehearsal-failed",
          report.succeeded ? "rehearsal succeeded" : "rehearsal failed: " + report.status.message());
  return report;
}

}  // namespace schemaop::database
