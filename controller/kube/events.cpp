#include "kube/events.h"

#include <cstdio>
#include <ctime>
#include <random>

namespace schemaop::kube {

std::string FormatTime(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  auto since_epoch = t.time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - secs).count();
  if (micros < 0) micros = 0;
  std::time_t seconds = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", static_cast<long>(micros));  // NOLINT
  return buf;
}

std::optional<std::chrono::system_clock::time_point> ParseTime(const std::string& text) {
  std::tm tm{};
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  const char* rest = text.c_str() + consumed;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 6) {
        frac = frac * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    while (digits++ < 6) frac *= 10;
    t += std::chrono::microseconds(frac);
  }
  if (*rest != 'Z') return std::nullopt;  // the API always writes UTC
  return t;
}

EventRecorder::EventRecorder(Client& client, std::string component, std::string instance,
                             Clock& clock, std::chrono::seconds aggregation_window)
    : client_(client),
      component_(std::move(component)),
      instance_(std::move(instance)),
      clock_(clock),
      window_(aggregation_window) {}

int EventRecorder::created() const {
  std::lock_guard<std::mutex> lock(mu_);
  return created_;
}

int EventRecorder::aggregated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return aggregated_;
}

core::Status EventRecorder::Record(const Json& involved, EventType type,
                                   const std::string& reason, const std::string& message_in) {
  const Json meta = involved.value("metadata", Json::object());
  const std::string ns = meta.value("namespace", "default");
  const std::string name = meta.value("name", "");
  if (name.empty()) {
    return core::Status(core::Code::kInvalidArgument,
                        "event '" + reason + "': the involved object has no metadata.name");
  }
  std::string message = message_in;
  if (message.size() > 1024) {
    // Cut on a UTF-8 character boundary, never inside a multi-byte sequence.
    std::size_t cut = 1021;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message.resize(cut);
    message += "...";
  }
  const std::string type_name = type == EventType::kWarning ? "Warning" : "Normal";
  const Json ref = {{"apiVersion", involved.value("apiVersion", "")},
                    {"kind", involved.value("kind", "")},
                    {"namespace", ns},
                    {"name", name},
                    {"uid", meta.value("uid", "")},
                    {"resourceVersion", meta.value("resourceVersion", "")}};
  const std::string key = ref["apiVersion"].get<std::string>() + "|" +
                          ref["kind"].get<std::string>() + "|" + ns + "|" + name + "|" +
                          ref["uid"].get<std::string>() + "|" + type_name + "|" + reason + "|" +
                          message;
  const auto now = clock_.Now();
  const std::string timestamp = FormatTime(clock_.WallNow());

  std::unique_lock<std::mutex> lock(mu_);
  auto it = seen_.find(key);
  if (it != seen_.end() && now - it->second.last < window_) {
    Seen seen = it->second;
    lock.unlock();
    Json patch = {{"count", seen.count + 1}, {"lastTimestamp", timestamp}};
    auto patched = client_.Patch(resources::kEvents, seen.namespace_name, seen.event_name,
                                 PatchType::kMerge, patch);
    lock.lock();
    if (patched.ok()) {
      auto& entry = seen_[key];
      entry.count = patched->value("count", seen.count + 1);
      entry.last = now;
      ++aggregated_;
      return core::Status::Ok();
    }
    if (!IsNotFound(patched.status())) return patched.status();
    seen_.erase(key);  // the Event expired (TTL): create a new one
  }
  // Unique, valid name: <object>.<hex>, as kubectl shows them.
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "%llx%04llx",  // NOLINT
                static_cast<unsigned long long>(  // NOLINT
                    std::chrono::duration_cast<std::chrono::nanoseconds>(
                        clock_.WallNow().time_since_epoch())
                        .count()),
                static_cast<unsigned long long>(++sequence_ & 0xFFFF));  // NOLINT
  lock.unlock();
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name + "." + suffix}, {"namespace", ns}}},
                {"involvedObject", ref},
                {"reason", reason},
                {"message", message},
                {"type", type_name},
                {"count", 1},
                {"firstTimestamp", timestamp},
                {"lastTimestamp", timestamp},
                {"eventTime", nullptr},
                {"source", {{"component", component_}, {"host", instance_}}},
                {"reportingComponent", component_},
                {"reportingInstance", instance_}};
  auto created = client_.Create(resources::kEvents, ns, event);
  if (!created.ok()) return created.status();
  lock.lock();
  seen_[key] = Seen{ns, (*created)["metadata"].value("name", ""), 1, now};
  ++created_;
  // Bound the memory of the correlation cache.
  if (seen_.size() > 4096) {
    for (auto i = seen_.begin(); i != seen_.end();) {
      i = (now - i->second.last >= window_) ? seen_.erase(i) : std::next(i);
    }
  }
  return core::Status::Ok();
}

}  // namespace schemaop::kube
