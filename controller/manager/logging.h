#pragma once
// Process-wide logging for `schemaop controller`: spdlog to stderr, as text
// or one JSON object per line, with the namespace/name of the object the
// logging thread is working on (LogObjectScope). Nothing logged here may
// contain a secret: callers log only redacted messages (the reconciler's
// and the engine's messages already are).
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

// Renders one log line as the JSON formatter would (for tests).
std::string FormatJsonLogLine(const std::string& level, const std::string& message,
                              const std::string& ns, const std::string& name,
                              const std::string& time);

}  // namespace schemaop::manager
