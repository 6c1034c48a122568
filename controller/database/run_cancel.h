#pragma once
// Cancelling a run from another thread (design §4.7 "Cancelling a run"):
// the operator's downtime budget and schemaop.dev/abort, and the CLI's
// --max-duration. Light header (no libpq types): the controller's run pool
// and the CLI hold one per run and pass it in MigratorOptions::cancel.
//
// What a request does: the engine's forward pass (Executor, phase
// "forward") checks it before every statement and before the last COMMIT,
// and while a statement runs the request interrupts it with
// pg_cancel_backend from a connection of its own (the run's session found
// by its backend pid and application_name). The forward pass then fails
// with the requested Status and the engine's failure handling applies:
// nothing committed -> ROLLBACK; committed segments -> the undo (or, with
// failurePolicy Halt, left as committed). The undo and the final COMMIT are
// never interrupted: a request after the forward pass ended has no effect,
// so a run that committed stays committed.
//
// Thread-safe.
#include <functional>
#include <mutex>
#include <optional>

#include "core/status.h"

namespace schemaop::database {

// Status::detail() of a cancel request whose run, once rolled back to its
// start, may execute again under the same run key (the controller's
// shutdown: it counts as an interrupted attempt, design §4.4).
inline constexpr char kCancelRetryableDetail[] = "cancelled-retryable";

class RunCancel {
 public:
  // The first request wins; later ones are ignored. `why` is the failure the
  // run reports (core::Code::kDowntimeExceeded, kAborted), one line.
  void Request(core::Status why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (why_) {
      return;
    }
    why_ = std::move(why);
    if (interrupt_) {
      interrupt_();  // under the lock: Disarm waits for it to finish
    }
  }
  std::optional<core::Status> requested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return why_;
  }
  // Called by the engine around its forward pass only. `interrupt` cancels
  // the statement running now; it must not throw.
  void Arm(std::function<void()> interrupt) {
    std::lock_guard<std::mutex> lock(mu_);
    interrupt_ = std::move(interrupt);
  }
  void Disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    interrupt_ = nullptr;
  }

 private:
  mutable std::mutex mu_;
  std::optional<core::Status> why_;
  std::function<void()> interrupt_;
};

}  // namespace schemaop::database
