#include "manager/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/database_url.h"

namespace schemaop::manager {

namespace {

thread_local std::string t_namespace;
thread_local std::string t_name;

constexpr std::size_t kMaxRegisteredUrls = 1024;

struct SecretRegistry {
  std::mutex mutex;
  std::deque<std::string> urls;
  core::SecretScrubber scrubber;  // rebuilt when `urls` changes
};

SecretRegistry& Registry() {
  static SecretRegistry registry;
  return registry;
}

std::string Rfc3339Millis(std::chrono::system_clock::time_point time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis % 1000));
  return buffer;
}

std::string LevelName(spdlog::level::level_enum level) {
  const auto view = spdlog::level::to_string_view(level);
  return std::string(view.data(), view.size());
}

class ControllerFormatter final : public spdlog::formatter {
 public:
  explicit ControllerFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string message =
        ScrubLogMessage(std::string(msg.payload.data(), msg.payload.size()));
    const std::string time = Rfc3339Millis(msg.time);
    std::string line;
    if (json_) {
      line = FormatJsonLogLine(LevelName(msg.level), message, t_namespace, t_name, time);
    } else {
      std::string level = LevelName(msg.level);
      for (char& c : level) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      line = time + " " + level + " ";
      if (!t_name.empty()) {
        line += "[" + t_namespace + "/" + t_name + "] ";
      }
      line += message;
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<ControllerFormatter>(json_);
  }

 private:
  bool json_;
};

}  // namespace

void RegisterLogSecrets(const std::string& database_url) {
  if (database_url.empty()) {
    return;
  }
  SecretRegistry& registry = Registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto known = std::find(registry.urls.begin(), registry.urls.end(), database_url);
  if (known != registry.urls.end()) {
    return;
  }
  registry.urls.push_back(database_url);
  if (registry.urls.size() > kMaxRegisteredUrls) {
    registry.urls.pop_front();
  }
  core::SecretScrubber rebuilt;
  for (const auto& url : registry.urls) {
    rebuilt.AddDatabaseUrl(url);
  }
  registry.scrubber = std::move(rebuilt);
}

std::string ScrubLogMessage(std::string message) {
  SecretRegistry& registry = Registry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  return registry.scrubber.Scrub(std::move(message));
}

std::string FormatJsonLogLine(const std::string& level, const std::string& message,
                              const std::string& ns, const std::string& name,
                              const std::string& time) {
  nlohmann::json line = {{"ts", time}, {"level", level}, {"logger", "schemaop"}, {"msg", message}};
  if (!name.empty()) {
    line["namespace"] = ns;
    line["name"] = name;
  }
  // Invalid UTF-8 (e.g. from a database error) is replaced, never thrown on.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

core::Status SetUpLogging(const std::string& format, const std::string& level) {
  if (format != "text" && format != "json") {
    return core::Status(core::Code::kInvalidArgument,
                        "--log-format must be 'text' or 'json', not '" + format + "'");
  }
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return core::Status(core::Code::kInvalidArgument,
                        "--log-level must be one of trace, debug, info, warn, error, not '" +
                            level + "'");
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("schemaop", sink);
  logger->set_formatter(std::make_unique<ControllerFormatter>(format == "json"));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return core::Status::Ok();
}

LogObjectScope::LogObjectScope(const std::string& ns, const std::string& name) {
  t_namespace = ns;
  t_name = name;
}

LogObjectScope::~LogObjectScope() {
  t_namespace.clear();
  t_name.clear();
}

}  // namespace schemaop::manager
