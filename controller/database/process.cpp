#include "database/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace schemaop::database::internal {

ProcessResult RunProcess(const std::string& program, const std::vector<std::string>& arguments,
                         const std::map<std::string, std::string>& extra_environment,
                         int stdout_fd, std::chrono::milliseconds timeout, int stdin_fd) {
  ProcessResult result;
  // Everything the child needs is prepared before fork: only async-signal-safe
  // calls happen in the child.
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    auto eq = text.find('=');
    if (eq != std::string::npos && extra_environment.count(text.substr(0, eq)) != 0) {
      continue;
    }
    env_strings.push_back(std::move(text));
  }
  for (const auto& [key, value] : extra_environment) {
    if (!value.empty()) {
      env_strings.push_back(key + "=" + value);
    }
  }
  std::vector<char*> envp;
  for (auto& entry : env_strings) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings;
  argv_strings.push_back(program);
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe failed: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.output = std::string("fork failed: ") + std::strerror(errno);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) {
    dup2(stdout_fd >= 0 ? stdout_fd : pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    int input = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (input >= 0) {
      dup2(input, STDIN_FILENO);
    }
    if (program.find('/') != std::string::npos) {
      execve(argv[0], argv.data(), envp.data());
    } else {
      execvpe(argv[0], argv.data(), envp.data());
    }
    const char* message = "exec failed: program not found or not executable\n";
    (void)!write(STDERR_FILENO, message, std::strlen(message));
    _exit(127);
  }
  close(pipe_fds[1]);
  char buffer[4096];
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  bool terminated = false;
  for (;;) {
    if (timeout.count() > 0) {
      const auto now = Clock::now();
      if (now >= deadline + std::chrono::seconds(5)) {
        kill(pid, SIGKILL);  // did not stop on SIGTERM
      } else if (now >= deadline && !terminated) {
        kill(pid, SIGTERM);
        terminated = true;
        result.timed_out = true;
      }
      pollfd fd{pipe_fds[0], POLLIN, 0};
      const int ready = poll(&fd, 1, 200);
      if (ready == 0 || (ready < 0 && errno == EINTR)) {
        continue;
      }
    }
    ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    if (result.output.size() < 65536) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.started = true;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace schemaop::database::internal
