#pragma once
// Process-wide logging for `schemaop controller`: spdlog to stderr, as text
// or one JSON object per line, with the namespace/name of the object the
// logging thread is working on (LogObjectScope). Callers log redacted
// messages (the reconciler's and the engine's messages already are); as a
// last line of defence every line is scrubbed again (ScrubLogMessage).
#include <string>

#include "core/status.h"

namespace schemaop::manager {

// format: "text" | "json"; level: trace|debug|info|warn|error. Installs the
// default spdlog logger. kInvalidArgument naming the bad value.
[[nodiscard]] core::Status SetUpLogging(const std::string& format, const std::string& level);

// While alive, log lines written by this thread carry namespace/name.
class LogObjectScope {
 public:
  LogObjectScope(const std::string& ns, const std::string& name);
  ~LogObjectScope();
  LogObjectScope(const LogObjectScope&) = delete;
  LogObjectScope& operator=(const LogObjectScope&) = delete;
};

// Every log line passes through ScrubLogMessage before it is written: URLs'
// passwords and password=/sslpassword= values are redacted whatever they
// are, and every secret registered here is removed (core::SecretScrubber
// rules). The database port registers each database URL it is handed, so a
// driver or exception text that echoes it cannot reach the log. Thread-safe;
// keeps the most recent 1024 URLs.
void RegisterLogSecrets(const std::string& database_url);
std::string ScrubLogMessage(std::string message);

// Renders one log line as the JSON formatter would (for tests).
std::string FormatJsonLogLine(const std::string& level, const std::string& message,
                              const std::string& ns, const std::string& name,
                              const std::string& time);

}  // namespace schemaop::manager
