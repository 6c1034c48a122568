// The maintenance window gate (spec.maintenanceWindow, issue 15 item 3;
// design §6.6): the last check of phase Planning before anything is scaled.
// Order of a run: plan -> (Rehearsing) -> (approval) -> this gate -> scale
// down -> ...
//
// Invariant (design §6.6): no run starts outside a window. A run "starts"
// when its scale-down intent is recorded (RecordWorkloads, plan.cpp); until
// then the gate is evaluated on every pass, so a window that closed while
// the run waited for something else (a workload held by another run) holds
// it again. Once started, a run is never stopped by the window's end.
#include <cmath>
#include <string>

#include "core/civil_time.h"
#include "core/cron.h"
#include "core/maintenance_window.h"
#include "core/time_zone.h"
#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

core::Result<core::TimeZone> LoadZone(const ReconcilerOptions& options, const std::string& name) {
  if (options.time_zones) {
    return options.time_zones(name);
  }
  if (name == core::kDefaultWindowTimeZone) {
    return core::TimeZone::Fixed(name, 0);
  }
  return core::Status(core::Code::kNotFound, "no time zone database configured");
}

std::string WindowText(const core::MaintenanceWindowSpec& w) {
  return "schedule \"" + w.schedule + "\", duration " + w.duration + ", " + w.time_zone;
}

std::string WhenText(std::int64_t utc, const core::TimeZone& zone) {
  return core::FormatRfc3339(core::Timestamp::FromSeconds(utc)) + " (" +
         core::FormatLocal(utc, zone) + ")";
}

}  // namespace

// Checked in Start (start.cpp) with the spec's validation: a zone the
// controller's tzdata does not have is a spec error, refused before a run.
std::optional<Problem> Reconciler::Pass::UnknownTimeZone() const {
  const auto& window = obj_.spec.maintenance_window;
  if (!window || core::CheckZoneName(window->time_zone)) {
    return std::nullopt;  // none, or misspelt (ValidateSpec names that)
  }
  auto zone = LoadZone(r_.options_, window->time_zone);
  if (zone.ok()) {
    return std::nullopt;
  }
  return Problem{rs::kInvalidSpec,
                 "Invalid spec: spec.maintenanceWindow.timeZone: unknown time zone \"" +
                     window->time_zone + "\" (" + zone.status().message() +
                     "). Use an IANA zone name such as Europe/Berlin or UTC.",
                 false, Status(Code::kInvalidArgument, "invalid spec", kSpecFieldsDetail)};
}

// The downtime a run of this plan is expected to take: the predicted
// downtime of a successful rehearsal of this very plan (status.rehearsal,
// same plan digest; design §6.7); else the last run of the same plan (same
// from and to revisions, same migration files) in status.lastRun, whatever
// its outcome (a rolled-back run's downtime includes its rollback, an upper
// bound); otherwise none (0), and the run may start at any moment inside a
// window.
Reconciler::Pass::DowntimeEstimate Reconciler::Pass::EstimateDowntime() const {
  const auto& last = obj_.status.last_run;
  const core::RunStatus& run = *obj_.status.run;
  const auto& rehearsal = obj_.status.rehearsal;
  if (rehearsal && rehearsal->outcome == core::kOutcomeSucceeded &&
      rehearsal->plan_digest == run.plan_digest && rehearsal->predicted_downtime_seconds > 0) {
    const auto seconds = static_cast<std::int64_t>(std::ceil(rehearsal->predicted_downtime_seconds));
    return {seconds, "the predicted downtime " + core::FormatSeconds(seconds) +
                         " (the rehearsal of this plan, status.rehearsal)"};
  }
  if (last && last->downtime_seconds > 0 && last->from == core::FormatVersions(run.from_versions) &&
      last->to == core::FormatVersions(run.target_versions) &&
      last->migrations_digest == run.migrations_digest) {
    const auto seconds = static_cast<std::int64_t>(std::ceil(last->downtime_seconds));
    return {seconds, "the estimated downtime " + core::FormatSeconds(seconds) +
                         " (the last run of this plan, status.lastRun)"};
  }
  return {0, "no downtime estimate (no earlier run of this plan)"};
}

// A run that has touched nothing yet is dropped when the spec changed under
// it (a new target, a new window) and planned again: Replan (approval.cpp).
// One whose expand committed has touched the database and goes on.

// nullopt: the run may start now. Otherwise what Planning returns: a wait,
// or the Continue of a Replan, after which the Planning handler (and this
// gate) runs again for the new run; never a fall-through to the scale-down.
std::optional<Next> Reconciler::Pass::MaintenanceWindowGate() {
  // Invariant (design §3.1, "A plan change after the expand"): a run whose
  // expand committed is never dropped for a new plan; the database holds
  // that plan's expand, which only its own window (or its undo) may
  // follow. The spec change takes effect when this run has ended.
  if (obj_.status.run->generation != generation() && !obj_.status.run->expanded) {
    return Replan();
  }
  const auto& window = obj_.spec.maintenance_window;
  if (!window) {
    obj_.status.next_window.reset();  // written with the run's next transition
    return std::nullopt;
  }
  auto cron = core::CronSchedule::Parse(window->schedule);
  auto duration = core::ParseWindowDuration(window->duration);
  auto zone = LoadZone(r_.options_, window->time_zone);
  if (!cron.ok() || !duration.ok() || !zone.ok()) {
    return Replan();  // Start refuses the spec with the reason
  }
  const DowntimeEstimate estimate = EstimateDowntime();
  const core::Timestamp now = Now();
  const std::int64_t now_s = core::FloorDiv(now.unix_millis, 1000);
  const core::WindowDecision d =
      core::DecideWindow(cron.value(), zone.value(), duration.value(), now_s, estimate.seconds);
  if (d.open) {
    obj_.status.next_window.reset();
    return std::nullopt;
  }
  return WaitForWindow(d, zone.value(), estimate);
}

// Waiting for a window is progress, not a stall (kstatus: Reconciling=True,
// Stalled=False, so tools report InProgress); only an estimate longer than
// every window stalls, as only a change of the spec can help then.
Next Reconciler::Pass::WaitForWindow(const core::WindowDecision& d, const core::TimeZone& zone,
                                     const DowntimeEstimate& estimate) {
  const core::MaintenanceWindowSpec& window = *obj_.spec.maintenance_window;
  const core::Timestamp now = Now();
  std::string message;
  if (d.inside) {
    message = "Inside the maintenance window (" + WindowText(window) + ") until " +
              WhenText(d.window_end, zone) + ", but " + estimate.source +
              " does not fit in what is left of it. ";
  } else {
    message = "Outside the maintenance window (" + WindowText(window) + "). ";
  }
  SchemaMigrationStatus next = obj_.status;
  next.observed_generation = generation();
  const bool never = !d.next_start;
  if (never) {
    next.next_window.reset();
    message += "No window within a year is long enough for " + estimate.source +
               ": lengthen spec.maintenanceWindow.duration (at most 168h) or remove "
               "spec.maintenanceWindow. Nothing was touched.";
  } else {
    next.next_window = core::Timestamp::FromSeconds(*d.next_start);
    message += "The run waits for the next window, starting " + WhenText(*d.next_start, zone) +
               (estimate.seconds > 0 ? " (long enough for " + estimate.source + ")" : "") +
               "; the workloads and the database are not touched until then.";
  }
  SetKstatus(next, ConditionStatus::kFalse,
             never ? ConditionStatus::kFalse : ConditionStatus::kTrue,
             never ? ConditionStatus::kTrue : ConditionStatus::kFalse,
             rs::kOutsideMaintenanceWindow, message);
  bool changed = false;
  if (Status s = Write(std::move(next), &changed); !s.ok()) {
    return WriteFailed(s);
  }
  if (changed) {
    Event(never ? EventType::kWarning : EventType::kNormal, rs::kOutsideMaintenanceWindow, message);
  }
  if (never) {
    return Finished("stalled");
  }
  r_.backoff_.Reset(Key());
  // Back at the window's start (not polling): a watch event or a resync in
  // between only re-evaluates the gate, which reads neither the database
  // nor the workloads.
  const std::int64_t wait_ms = *d.next_start * 1000 - now.unix_millis;
  return Requeue(std::chrono::milliseconds(std::max<std::int64_t>(wait_ms, 1000)), "requeue");
}

}  // namespace schemaop::reconcile
