#include "manager/run_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace schemaop::manager {

using reconcile::RunTicket;

struct RunPool::Entry {
  std::string object_key;
  RunTicket::State state = RunTicket::State::kWaiting;
  std::shared_ptr<database::RunCancel> cancel = std::make_shared<database::RunCancel>();
  std::optional<core::Timestamp> deadline;
  core::Status deadline_status;
  std::optional<core::Result<reconcile::MigrateResult>> result;
  std::optional<core::RunProgress> progress;
};

namespace {

std::int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RunPool::RunPool(int max_concurrent, std::function<void(const std::string&)> on_finished)
    : max_concurrent_(max_concurrent < 1 ? 1 : max_concurrent),
      on_finished_(std::move(on_finished)) {
  watchdog_ = std::thread([this] { Watch(); });
}

RunPool::~RunPool() {
  Shutdown(std::chrono::milliseconds(0),
           core::Status(core::Code::kAborted, "the controller is stopping",
                        database::kCancelRetryableDetail));
}

void RunPool::Send(const Requests& requests) {
  for (const auto& [cancel, why] : requests) {
    cancel->Request(why);
  }
}

void RunPool::Apply(Entry& entry, const reconcile::RunControl& control, Requests& requests) {
  if (control.deadline) {
    entry.deadline = control.deadline;
    entry.deadline_status = control.deadline_status;
  }
  if (control.cancel) {
    requests.emplace_back(entry.cancel, *control.cancel);
  }
}

RunTicket RunPool::TicketLocked(const std::string& run_key) {
  auto it = entries_.find(run_key);
  RunTicket ticket;
  ticket.state = it->second->state;
  ticket.runs_in_progress = running_;
  ticket.max_runs = max_concurrent_;
  if (ticket.state == RunTicket::State::kRunning) {
    ticket.progress = it->second->progress;
  }
  if (ticket.state == RunTicket::State::kFinished) {
    ticket.result = std::move(it->second->result);
    entries_.erase(it);
    auto thread = threads_.find(run_key);
    if (thread != threads_.end()) {
      // It has set its result; only its return is left.
      thread->second.join();
      threads_.erase(thread);
    }
  }
  return ticket;
}

std::optional<RunTicket> RunPool::Find(const std::string& run_key,
                                       const reconcile::RunControl& control) {
  Requests requests;
  std::optional<RunTicket> ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(run_key);
    if (it == entries_.end()) {
      return std::nullopt;
    }
    Apply(*it->second, control, requests);
    ticket = TicketLocked(run_key);
  }
  Send(requests);
  return ticket;
}

RunTicket RunPool::Start(const std::string& run_key, const std::string& object_key,
                         const reconcile::RunControl& control, Work work) {
  Requests requests;
  RunTicket ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(run_key) == 0) {
      auto entry = std::make_shared<Entry>();
      entry->object_key = object_key;
      entries_[run_key] = entry;
      waiting_.push_back(run_key);
      threads_[run_key] =
          std::thread([this, run_key, entry, work = std::move(work)]() mutable {
            RunEntry(run_key, entry, std::move(work));
          });
    }
    Apply(*entries_[run_key], control, requests);
    ticket = TicketLocked(run_key);
  }
  // A cancel known now reaches the run before or while it starts (the
  // engine stops at its first check point).
  Send(requests);
  return ticket;
}

void RunPool::RunEntry(const std::string& run_key, const std::shared_ptr<Entry>& entry,
                       Work work) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      return stopping_ || (running_ < max_concurrent_ && waiting_.front() == run_key);
    });
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), run_key));
    if (stopping_) {
      // Nothing ran: the next controller starts the run.
      entry->result = core::Status(core::Code::kUnreachable, "the controller is stopping");
      entry->state = RunTicket::State::kFinished;
      cv_.notify_all();
      return;
    }
    entry->state = RunTicket::State::kRunning;
    ++running_;
    cv_.notify_all();
  }
  core::Result<reconcile::MigrateResult> result =
      core::Status(core::Code::kInternal, "the run raised an exception");
  try {
    result = work(entry->cancel);
  } catch (const std::exception& e) {
    spdlog::error("run {} raised an exception: {}", entry->object_key, e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    entry->result = std::move(result);
    entry->state = RunTicket::State::kFinished;
    --running_;
  }
  cv_.notify_all();
  if (on_finished_) {
    on_finished_(entry->object_key);
  }
}

void RunPool::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ || running_ > 0) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    const std::int64_t now = NowUnixMillis();
    Requests requests;
    for (auto& [key, entry] : entries_) {
      if (entry->state != RunTicket::State::kFinished && entry->deadline &&
          entry->deadline->unix_millis <= now && !entry->cancel->requested()) {
        requests.emplace_back(entry->cancel, entry->deadline_status);
      }
    }
    if (!requests.empty()) {
      lock.unlock();
      Send(requests);
      lock.lock();
    }
  }
}

void RunPool::Shutdown(std::chrono::milliseconds grace, const core::Status& why) {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  if (running_ > 0) {
    spdlog::info("shutting down: waiting up to {} ms for {} run(s) to end", grace.count(),
                 running_);
  }
  if (!cv_.wait_for(lock, grace, [this] { return running_ == 0; })) {
    spdlog::warn("shutting down: cancelling {} run(s) still in progress; the engine rolls them "
                 "back",
                 running_);
    Requests requests;
    for (auto& [key, entry] : entries_) {
      if (entry->state == RunTicket::State::kRunning) {
        requests.emplace_back(entry->cancel, why);
      }
    }
    lock.unlock();
    Send(requests);
    lock.lock();
    cv_.wait(lock, [this] { return running_ == 0; });
  }
  std::vector<std::thread> threads;
  for (auto& [key, thread] : threads_) {
    threads.push_back(std::move(thread));
  }
  threads_.clear();
  lock.unlock();
  for (std::thread& thread : threads) {
    if (thread.joinable()) thread.join();
  }
  if (watchdog_.joinable()) {
    cv_.notify_all();
    watchdog_.join();
  }
}

std::map<std::string, bool> RunPool::Runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, bool> runs;
  for (const auto& [key, entry] : entries_) {
    runs[key] = entry->state == RunTicket::State::kRunning;
  }
  return runs;
}

void RunPool::SetProgress(const std::string& run_key, core::RunProgress progress) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(run_key);
  if (it != entries_.end() && it->second->state == RunTicket::State::kRunning) {
    it->second->progress = std::move(progress);
  }
}

int RunPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

}  // namespace schemaop::manager
