// The simulated Job controller and kubelet (job_runner.h, README.md).
#include "job_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "store.h"

namespace schemaop::apiserver {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxLogBytes = 16u << 20;
const char* const kInheritedEnv[] = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH"};

std::string Str(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : std::string();
}

// The value of data[key] of a stored Secret (decoded) or ConfigMap.
std::optional<std::string> ReadKey(Store& store, bool secret, const std::string& ns,
                                   const std::string& name, const std::string& key) {
  auto type = store.FindType("", "v1", secret ? "secrets" : "configmaps");
  Outcome got = store.Get(*type, ns, name, "");
  if (got.error) return std::nullopt;
  const Json data = got.object.value("data", Json::object());
  if (!data.contains(key) || !data[key].is_string()) return std::nullopt;
  return secret ? Base64Decode(data[key].get<std::string>()) : data[key].get<std::string>();
}

// The container's environment; *error names the first reference that
// cannot be resolved (kubelet: CreateContainerConfigError).
std::map<std::string, std::string> EnvOf(Store& store, const std::string& ns, const Json& container,
                                         std::string* error) {
  std::map<std::string, std::string> env;
  for (const char* name : kInheritedEnv) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  for (const Json& from : container.value("envFrom", Json::array())) {
    const bool secret = from.contains("secretRef");
    const Json ref = secret ? from["secretRef"] : from.value("configMapRef", Json::object());
    auto type = store.FindType("", "v1", secret ? "secrets" : "configmaps");
    Outcome got = store.Get(*type, ns, Str(ref, "name"), "");
    if (got.error) {
      *error =
          std::string(secret ? "secret" : "configmap") + " \"" + Str(ref, "name") + "\" not found";
      return env;
    }
    const Json data = got.object.value("data", Json::object());
    for (const auto& [key, value] : data.items()) {
      auto decoded = secret ? Base64Decode(value.get<std::string>()) : value.get<std::string>();
      if (decoded) env[Str(from, "prefix") + key] = *decoded;
    }
  }
  for (const Json& var : container.value("env", Json::array())) {
    const std::string name = Str(var, "name");
    if (var.contains("value")) {
      env[name] = Str(var, "value");
      continue;
    }
    const Json value_from = var.value("valueFrom", Json::object());
    const bool secret = value_from.contains("secretKeyRef");
    const Json ref =
        secret ? value_from["secretKeyRef"] : value_from.value("configMapKeyRef", Json::object());
    auto value = ReadKey(store, secret, ns, Str(ref, "name"), Str(ref, "key"));
    if (!value) {
      *error = "couldn't find key " + Str(ref, "key") + " in " +
               (secret ? "Secret " : "ConfigMap ") + ns + "/" + Str(ref, "name");
      return env;
    }
    env[name] = *value;
  }
  return env;
}

// argv[0] searched in the child's PATH, as the container runtime does.
std::string Resolve(const std::string& program, const std::map<std::string, std::string>& env) {
  if (program.find('/') != std::string::npos) return program;
  auto path = env.find("PATH");
  std::stringstream dirs(path == env.end() ? "/usr/bin:/bin" : path->second);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

Json Condition(const std::string& type, const std::string& reason, const std::string& message) {
  const std::string now = NowRfc3339();
  return {{"type", type},       {"status", "True"},     {"reason", reason},
          {"message", message}, {"lastProbeTime", now}, {"lastTransitionTime", now}};
}

}  // namespace

struct JobRunner::Run {
  std::string ns;
  std::string job;
  std::string uid;
  std::string pod;
  std::string container;
  pid_t pid = -1;
  int out_fd = -1;
  bool running = false;
  bool deleted = false;
  bool deadline_exceeded = false;
  std::optional<SteadyClock::time_point> deadline;  // activeDeadlineSeconds
  std::optional<SteadyClock::time_point> expires;   // ttlSecondsAfterFinished
  long long ttl_seconds = -1;
};

std::string SelectLog(const std::string& log, long long tail_lines, long long limit_bytes) {
  std::string out = log;
  if (tail_lines >= 0) {
    std::size_t start = out.size();
    long long lines = 0;
    // A final newline ends the last line; it does not start another.
    std::size_t pos = out.size() > 0 && out.back() == '\n' ? out.size() - 1 : out.size();
    while (lines < tail_lines && pos > 0) {
      const std::size_t nl = out.rfind('\n', pos - 1);
      ++lines;
      if (nl == std::string::npos) {
        start = 0;
        break;
      }
      start = nl + 1;
      pos = nl;
    }
    if (tail_lines == 0) start = out.size();
    out = out.substr(start);
  }
  if (limit_bytes > 0 && out.size() > static_cast<std::size_t>(limit_bytes)) {
    out.resize(static_cast<std::size_t>(limit_bytes));
  }
  return out;
}

JobRunner::JobRunner(Store& store) : store_(store) {
  reaper_ = std::thread([this] { ReaperLoop(); });
}

JobRunner::~JobRunner() { Shutdown(); }

void JobRunner::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [key, run] : runs_) {
      if (run->running) kill(-run->pid, SIGKILL);
    }
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  if (reaper_.joinable()) reaper_.join();
}

// The pod of `run` (the template's labels plus those of the Job
// controller) and the Job's status, active.
void JobRunner::StorePod(const Run& run, const Json& tmpl) {
  // The pod: the template's labels plus those of the Job controller.
  Json labels = tmpl.value("metadata", Json::object()).value("labels", Json::object());
  labels["job-name"] = run.job;
  labels["batch.kubernetes.io/job-name"] = run.job;
  labels["controller-uid"] = run.uid;
  labels["batch.kubernetes.io/controller-uid"] = run.uid;
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", run.pod},
                {"namespace", run.ns},
                {"labels", labels},
                {"ownerReferences", Json::array({{{"apiVersion", "batch/v1"},
                                                  {"kind", "Job"},
                                                  {"name", run.job},
                                                  {"uid", run.uid},
                                                  {"controller", true},
                                                  {"blockOwnerDeletion", true}}})}}},
              {"spec", tmpl.value("spec", Json::object())},
              {"status", {{"phase", "Running"}, {"startTime", NowRfc3339()}}}};
  store_.Create(*store_.FindType("", "v1", "pods"), run.ns, pod, false);
  store_.Modify(
      *store_.FindType("batch", "v1", "jobs"), run.ns, run.job, "status",
      [](const Json& current, Json& updated) -> std::optional<ApiError> {
        updated = current;
        updated["status"] = {{"startTime", NowRfc3339()}, {"active", 1}, {"ready", 0}};
        return std::nullopt;
      },
      false);
}

void JobRunner::Started(const Json& job) {
  auto run = std::make_shared<Run>();
  const Json meta = job.value("metadata", Json::object());
  run->ns = Str(meta, "namespace");
  run->job = Str(meta, "name");
  run->uid = Str(meta, "uid");
  run->pod = run->job + "-" + RandomSuffix(5);
  const Json spec = job.value("spec", Json::object());
  const Json tmpl = spec.value("template", Json::object());
  const Json containers = tmpl.value("spec", Json::object()).value("containers", Json::array());
  const Json container = containers.empty() ? Json::object() : containers[0];
  run->container = Str(container, "name");
  if (!container.contains("command") || container["command"].empty()) {
    return;  // stored only, as before: tests that play the Job controller themselves
  }
  if (spec.contains("activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number()) {
    run->deadline =
        SteadyClock::now() + std::chrono::seconds(spec["activeDeadlineSeconds"].get<long long>());
  }
  if (spec.contains("ttlSecondsAfterFinished") && spec["ttlSecondsAfterFinished"].is_number()) {
    run->ttl_seconds = spec["ttlSecondsAfterFinished"].get<long long>();
  }
  StorePod(*run, tmpl);

  std::string error;
  const std::map<std::string, std::string> env = EnvOf(store_, run->ns, container, &error);
  std::vector<std::string> argv;
  for (const char* field : {"command", "args"}) {
    for (const Json& a : container.value(field, Json::array()))
      argv.push_back(a.get<std::string>());
  }
  const std::string working_dir = Str(container, "workingDir");
  std::string program = argv.empty() ? std::string() : Resolve(argv[0], env);
  if (error.empty() && program.empty()) error = "executable file not found in $PATH: " + argv[0];
  if (error.empty() && !working_dir.empty() && !std::filesystem::is_directory(working_dir)) {
    error = "workingDir " + working_dir + " is not a local directory";
  }
  std::lock_guard<std::mutex> lock(mu_);
  runs_[run->ns + "/" + run->job] = run;
  if (!error.empty() || stopping_) {
    logs_[run->ns + "/" + run->pod] = "Error: " + error + "\n";
    threads_.emplace_back([this, run] { Finish(run, 127 << 8); });
    return;
  }
  // Everything the child needs is built before fork (only async-signal-safe
  // calls between fork and exec).
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (std::string& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    logs_[run->ns + "/" + run->pod] = "Error: pipe failed\n";
    threads_.emplace_back([this, run] { Finish(run, 127 << 8); });
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    for (int fd = 3; fd < 4096; ++fd) close(fd);
    if (!working_dir.empty() && chdir(working_dir.c_str()) != 0) _exit(127);
    execve(program.c_str(), c_argv.data(), c_env.data());
    _exit(127);
  }
  close(fds[1]);
  run->pid = pid;
  run->out_fd = fds[0];
  run->running = pid > 0;
  if (pid > 0) setpgid(pid, pid);  // also here: no race with an early kill
  threads_.emplace_back([this, run] { Watch(run); });
}

void JobRunner::Watch(std::shared_ptr<Run> run) {
  const std::string key = run->ns + "/" + run->pod;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(run->out_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mu_);
    std::string& log = logs_[key];
    if (log.size() < kMaxLogBytes) log.append(buffer, static_cast<std::size_t>(n));
  }
  close(run->out_fd);
  int status = 0;
  while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
  }
  Finish(run, status);
}

void JobRunner::Finish(const std::shared_ptr<Run>& run, int wait_status) {
  bool deadline = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run->running = false;
    deadline = run->deadline_exceeded;
    if (run->deleted) return;  // the Job and its pod are gone
    if (run->ttl_seconds >= 0) {
      run->expires = SteadyClock::now() + std::chrono::seconds(run->ttl_seconds);
    }
  }
  const bool exited = WIFEXITED(wait_status);
  const int code = exited ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  const bool succeeded = exited && code == 0 && !deadline;
  const std::string now = NowRfc3339();
  store_.Modify(
      *store_.FindType("", "v1", "pods"), run->ns, run->pod, "status",
      [&](const Json& current, Json& updated) -> std::optional<ApiError> {
        updated = current;
        updated["status"]["phase"] = succeeded ? "Succeeded" : "Failed";
        updated["status"]["containerStatuses"] =
            Json::array({{{"name", run->container},
                          {"ready", false},
                          {"restartCount", 0},
                          {"state",
                           {{"terminated",
                             {{"exitCode", code},
                              {"reason", code == 0 ? "Completed" : "Error"},
                              {"finishedAt", now}}}}}}});
        return std::nullopt;
      },
      false);
  store_.Modify(
      *store_.FindType("batch", "v1", "jobs"), run->ns, run->job, "status",
      [&](const Json& current, Json& updated) -> std::optional<ApiError> {
        updated = current;
        Json& s = updated["status"];
        s["active"] = 0;
        s["ready"] = 0;
        if (succeeded) {
          s["succeeded"] = 1;
          s["completionTime"] = now;
          const char* msg = "Reached expected number of succeeded pods";
          s["conditions"] = Json::array({Condition("SuccessCriteriaMet", "CompletionsReached", msg),
                                         Condition("Complete", "CompletionsReached", msg)});
        } else {
          s["failed"] = 1;
          const std::string reason = deadline ? "DeadlineExceeded" : "BackoffLimitExceeded";
          const std::string msg = deadline ? "Job was active longer than specified deadline"
                                           : "Job has reached the specified backoff limit";
          s["conditions"] = Json::array(
              {Condition("FailureTarget", reason, msg), Condition("Failed", reason, msg)});
        }
        return std::nullopt;
      },
      false);
}

void JobRunner::Deleted(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(ns + "/" + name);
  if (it == runs_.end()) return;
  it->second->deleted = true;
  if (it->second->running) kill(-it->second->pid, SIGKILL);
  runs_.erase(it);
}

bool JobRunner::KillPod(const std::string& ns, const std::string& job) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(ns + "/" + job);
  if (it == runs_.end() || !it->second->running) return false;
  return kill(-it->second->pid, SIGKILL) == 0;
}

std::optional<std::string> JobRunner::PodLog(const std::string& ns, const std::string& pod) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logs_.find(ns + "/" + pod);
  if (it == logs_.end()) return std::nullopt;
  return it->second;
}

// activeDeadlineSeconds (kill, then Failed/DeadlineExceeded) and
// ttlSecondsAfterFinished (delete the Job, its pod with it).
void JobRunner::ReaperLoop() {
  for (;;) {
    std::vector<std::shared_ptr<Run>> expired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      const auto now = SteadyClock::now();
      for (auto& [key, run] : runs_) {
        if (run->running && run->deadline && *run->deadline <= now && !run->deadline_exceeded) {
          run->deadline_exceeded = true;
          kill(-run->pid, SIGKILL);
        }
        if (!run->running && run->expires && *run->expires <= now) expired.push_back(run);
      }
    }
    for (const auto& run : expired) {
      store_.Delete(*store_.FindType("batch", "v1", "jobs"), run->ns, run->job,
                    {{"propagationPolicy", "Background"}}, false);
      Deleted(run->ns, run->job);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace schemaop::apiserver
