#pragma once
// Progress of runs in progress (design §6.8): one thread of its own samples
// each run's progress from the database every `interval` (the same reading
// as `schemaop current --progress`, database::Migrator::Progress) and hands
// it to the RunPool, whose tickets carry it to the reconcile passes that
// write status.progress. The run threads never wait for it: a sample that
// fails or hangs (bounded by its session's statement_timeout) delays only
// the next sample, and a failure is logged at debug level and ignored.
//
// Thread-safe.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/run_progress.h"
#include "core/status.h"

namespace schemaop::manager {

class ProgressSampler {
 public:
  // One run's reading; called only on the sampler's thread.
  using Probe = std::function<core::Result<std::optional<core::RunProgress>>()>;
  // `runs()`: the runs this process knows now, by key, true for those on a
  // run thread (RunPool::Runs); `publish(key, p)` hands a sample over
  // (RunPool::SetProgress).
  ProgressSampler(std::chrono::milliseconds interval,
                  std::function<std::map<std::string, bool>()> runs,
                  std::function<void(const std::string&, core::RunProgress)> publish);
  ~ProgressSampler();
  ProgressSampler(const ProgressSampler&) = delete;
  ProgressSampler& operator=(const ProgressSampler&) = delete;

  // Samples run `run_key` with `probe` while it is running (a key already
  // tracked keeps its probe). Forgotten once the pool no longer knows it.
  void Track(const std::string& run_key, Probe probe);
  // One round now (tests); the thread calls it every interval.
  void SampleOnce();

 private:
  void Loop();

  const std::chrono::milliseconds interval_;
  std::function<std::map<std::string, bool>()> runs_;
  std::function<void(const std::string&, core::RunProgress)> publish_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Probe>> probes_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace schemaop::manager
