#pragma once
// Runs a child process (pg_dump, pg_restore) without a shell: fork + execv,
// arguments passed as a vector, extra environment entries (PGPASSWORD) given
// to the child only, so a password never appears in argv, `ps` or a log.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace schemaop::database::internal {

struct ProcessResult {
  bool started = false;  // false: fork/exec failed (see output)
  int exit_code = -1;    // -1 when killed by a signal
  std::string output;    // stdout and stderr, truncated to 64 KiB
  bool timed_out = false;  // killed after `timeout` (SIGTERM, then SIGKILL)
};

// `extra_environment` entries replace inherited ones; an entry with an empty
// value removes that variable from the child's environment. With
// `stdout_fd` >= 0 the child's stdout goes to that descriptor (e.g. the
// backup file schemaop opened itself) and only stderr is captured.
// A `timeout` above zero bounds the child's run: once it passed, the child
// gets SIGTERM, and SIGKILL 5 s later (ProcessResult::timed_out). With
// `stdin_fd` >= 0 the child reads that descriptor (the read end of a pipe
// from another child), else /dev/null. Descriptors given must be O_CLOEXEC
// in this process, so no other child keeps a pipe end open.
ProcessResult RunProcess(const std::string& program, const std::vector<std::string>& arguments,
                         const std::map<std::string, std::string>& extra_environment,
                         int stdout_fd = -1,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                         int stdin_fd = -1);

}  // namespace schemaop::database::internal
