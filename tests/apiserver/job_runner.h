#pragma once

// The simulated Job controller and kubelet of the test API server
// (README.md, "Jobs run as local processes"). When a batch/v1 Job is
// created and its first container has a `command`, that command + args run LOCALLY as a child
// process of the server:
//   - the environment is the container's env / envFrom, with secretKeyRef,
//     configMapKeyRef, secretRef and configMapRef resolved from the stored
//     objects (a secret reaches the process only through its environment,
//     never its argv), plus PATH, HOME, LANG, LC_ALL, TMPDIR and PYTHONPATH
//     of the server's own environment (a container image would bring them);
//   - workingDir, when set, is a local directory (it must exist);
//   - a pod `<job>-<5 chars>` is stored with the Job's labels, job-name,
//     batch.kubernetes.io/job-name, controller-uid and an owner reference,
//     phase Running, then Succeeded / Failed with the exit code;
//   - stdout and stderr, interleaved, are the pod's log (pods/log);
//   - the Job's status follows: active 1, then succeeded 1 (conditions
//     SuccessCriteriaMet and Complete, reason CompletionsReached) or failed
//     1 (FailureTarget and Failed, reason BackoffLimitExceeded, or
//     DeadlineExceeded after spec.activeDeadlineSeconds);
//   - spec.ttlSecondsAfterFinished deletes the finished Job (and its pod);
//   - deleting the Job kills the process (its whole process group).
// A Job whose container has no `command` is stored only (tests that play
// the Job controller themselves create those, with the status they want).
// Thread safety: every method may be called from any thread; the runner
// calls into the Store from its own threads, never under its own lock.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "internal.h"

namespace schemaop::apiserver {

class Store;

class JobRunner {
 public:
  explicit JobRunner(Store& store);
  ~JobRunner();  // Shutdown()
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // A Job was created (not a dry run): start its pod's process.
  void Started(const Json& job);
  // A Job was deleted: kill its process (the Store removed the pod).
  void Deleted(const std::string& ns, const std::string& name);
  // SIGKILL to the process group of Job ns/name's pod (the admin hook
  // POST /_test/jobs/kill). False when no process of that Job runs.
  bool KillPod(const std::string& ns, const std::string& job);
  // The log of pod ns/name; nullopt when no simulated Job ran it.
  std::optional<std::string> PodLog(const std::string& ns, const std::string& pod) const;
  // Kills every process and joins every thread.
  void Shutdown();

 private:
  struct Run;
  void StorePod(const Run& run, const Json& tmpl);
  void Watch(std::shared_ptr<Run> run);
  void Finish(const std::shared_ptr<Run>& run, int wait_status);
  void ReaperLoop();

  Store& store_;
  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Run>> runs_;  // "ns/job" -> its run
  std::map<std::string, std::string> logs_;           // "ns/pod" -> log
  std::vector<std::thread> threads_;
  std::thread reaper_;
};

// Pure parts (unit-tested): the log as pods/log serves it for tailLines
// (<0: all) and limitBytes (<=0: no limit): the last tailLines lines, then
// at most limitBytes of them from their start (like the kubelet).
std::string SelectLog(const std::string& log, long long tail_lines, long long limit_bytes);

}  // namespace schemaop::apiserver
