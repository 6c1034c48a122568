#include "manager/progress_sampler.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace schemaop::manager {

ProgressSampler::ProgressSampler(
    std::chrono::milliseconds interval, std::function<std::map<std::string, bool>()> runs,
    std::function<void(const std::string&, core::RunProgress)> publish)
    : interval_(interval), runs_(std::move(runs)), publish_(std::move(publish)) {
  thread_ = std::thread([this] { Loop(); });
}

ProgressSampler::~ProgressSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void ProgressSampler::Track(const std::string& run_key, Probe probe) {
  std::lock_guard<std::mutex> lock(mu_);
  if (probes_.count(run_key) == 0) {
    probes_[run_key] = std::make_shared<Probe>(std::move(probe));
  }
}

void ProgressSampler::SampleOnce() {
  const std::map<std::string, bool> runs = runs_();
  std::vector<std::pair<std::string, std::shared_ptr<Probe>>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = probes_.begin(); it != probes_.end();) {
      auto run = runs.find(it->first);
      if (run == runs.end()) {
        it = probes_.erase(it);  // ended and handed out
        continue;
      }
      if (run->second) {  // on a run thread (not queued)
        due.emplace_back(it->first, it->second);
      }
      ++it;
    }
  }
  // No lock held while a probe reads the database.
  for (const auto& [key, probe] : due) {
    auto sample = (*probe)();
    if (!sample.ok()) {
      spdlog::debug("progress of run {}: {}", key, sample.status().message());
      continue;
    }
    if (*sample) {
      publish_(key, std::move(**sample));
    }
  }
}

void ProgressSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.unlock();
    SampleOnce();
    lock.lock();
  }
}

}  // namespace schemaop::manager
