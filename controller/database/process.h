#pragma once
// Runs a child process (pg_dump, pg_restore) without a shell: fork + execv,
// arguments passed as a vector, extra environment entries (PGPASSWORD) given
// to the child only, so a password never appears in argv, `ps` or a log.
#include <map>
#include <string>
#include <vector>

namespace schemaop::database::internal {

struct ProcessResult {
  bool started = false;  // false: fork/exec failed (see output)
  int exit_code = -1;    // -1 when killed by a signal
  std::string output;    // stdout and stderr, truncated to 64 KiB
};

ProcessResult RunProcess(const std::string& program, const std::vector<std::string>& arguments,
                         const std::map<std::string, std::string>& extra_environment);

}  // namespace schemaop::database::internal
