#pragma once
// Runs off the workers (design §6.5): each migration runs on a thread of its
// own, at most `max_concurrent` at a time, so a reconcile worker only starts
// a run and later passes observe it; the workers stay free for the other
// SchemaMigrations. What a run is and how it ends stays the engine's (run
// identity in status before the run, run_log in the database): the pool
// holds only what this process is doing now, so a crash loses nothing a
// fresh controller needs (design §7 rule 2).
//
// Cancels (design §4.7): a run's downtime deadline is watched here (every
// 200 ms) and a cancel request is handed to the engine's RunCancel.
//
// Thread-safe.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "database/run_cancel.h"
#include "reconcile/ports.h"

namespace schemaop::manager {

class RunPool {
 public:
  using Work = std::function<core::Result<reconcile::MigrateResult>(
      std::shared_ptr<database::RunCancel>)>;
  // `on_finished(object_key)` is called (on the run's thread, no lock held)
  // when a run ended, so its object is reconciled at once.
  RunPool(int max_concurrent, std::function<void(const std::string&)> on_finished);
  ~RunPool();
  RunPool(const RunPool&) = delete;
  RunPool& operator=(const RunPool&) = delete;

  // The run under `run_key`, with `control` applied; nullopt when unknown.
  // A finished run is handed out once and forgotten.
  std::optional<reconcile::RunTicket> Find(const std::string& run_key,
                                           const reconcile::RunControl& control);
  // Starts (or queues) `work` under `run_key`; a known run is Find's.
  reconcile::RunTicket Start(const std::string& run_key, const std::string& object_key,
                             const reconcile::RunControl& control, Work work);
  // Shutdown (SIGTERM): no run starts any more (queued ones end without
  // running); runs in progress get `grace` to end, then are cancelled with
  // `why` and waited for (the engine rolls them back).
  void Shutdown(std::chrono::milliseconds grace, const core::Status& why);
  int running() const;
  // Progress (design §6.8): the runs known now by key, true for those on a
  // run thread; and the latest progress of one (handed out with its
  // tickets). SetProgress on a key that is not running is ignored.
  std::map<std::string, bool> Runs() const;
  void SetProgress(const std::string& run_key, core::RunProgress progress);

 private:
  struct Entry;
  // Cancel requests to make once mu_ is released: a request may open a
  // database session (pg_cancel_backend), which must not hold up the pool.
  using Requests = std::vector<std::pair<std::shared_ptr<database::RunCancel>, core::Status>>;
  static void Send(const Requests& requests);
  void Apply(Entry& entry, const reconcile::RunControl& control, Requests& requests);
  reconcile::RunTicket TicketLocked(const std::string& run_key);
  void RunEntry(const std::string& run_key, const std::shared_ptr<Entry>& entry, Work work);
  void Watch();

  const int max_concurrent_;
  std::function<void(const std::string&)> on_finished_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::string> waiting_;  // run keys, first come first served
  std::map<std::string, std::thread> threads_;  // by run key; joined when handed out
  int running_ = 0;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace schemaop::manager
