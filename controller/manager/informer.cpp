#include "manager/informer.h"

#include <algorithm>
#include <utility>

namespace schemaop::manager {

namespace {
constexpr std::chrono::milliseconds kInitialBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30000};

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object()) {
    return "";
  }
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return "";
  }
  auto rv = meta->find("resourceVersion");
  return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : "";
}
}  // namespace

std::string KeyOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const Json& meta = object["metadata"];
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

Informer::Informer(kube::Client& client, kube::ResourceRef ref, std::string ns)
    : client_(client), ref_(std::move(ref)), ns_(std::move(ns)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandler(ChangeHandler handler) { handlers_.push_back(std::move(handler)); }

void Informer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  cancel_ = std::make_unique<kube::Cancellation>();
  thread_ = std::thread([this] { Loop(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (cancel_) {
      cancel_->Cancel();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Informer::WaitForSync(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return synced_.load() || stopping_; });
  return synced_.load();
}

std::string Informer::Describe() const {
  return ref_.resource + (ns_.empty() ? " in all namespaces" : " in namespace " + ns_);
}

std::string Informer::LastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::optional<Json> Informer::Get(const std::string& ns, const std::string& name) const {
  if (!synced_.load()) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = store_.find(ns + "/" + name);
  if (it == store_.end()) {
    return Json();  // known absent
  }
  return it->second;
}

std::optional<std::vector<Json>> Informer::List(const std::string& ns) const {
  if (!synced_.load()) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Json> out;
  const std::string prefix = ns + "/";
  for (const auto& [key, object] : store_) {
    if (ns.empty() || key.compare(0, prefix.size(), prefix) == 0) {
      out.push_back(object);
    }
  }
  return out;
}

void Informer::SetError(const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = error;
}

bool Informer::WaitOrStop(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

void Informer::Notify(ChangeType type, const Json& object, const Json& old_object) {
  for (const auto& handler : handlers_) {
    handler(type, object, old_object);
  }
}

core::Result<std::string> Informer::Relist() {
  auto list = client_.ListAll(ref_, ns_);
  if (!list.ok()) {
    return list.status();
  }
  std::map<std::string, Json> fresh;
  for (Json& item : list->items) {
    std::string key = KeyOf(item);
    fresh.emplace(std::move(key), std::move(item));
  }
  // Diff against what handlers saw before, outside the lock.
  std::map<std::string, Json> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = store_;
    store_ = fresh;
  }
  if (!synced_.exchange(true)) {
    cv_.notify_all();
  }
  for (const auto& [key, object] : fresh) {
    auto it = previous.find(key);
    if (it == previous.end()) {
      Notify(ChangeType::kAdded, object, Json());
    } else if (ResourceVersionOf(it->second) != ResourceVersionOf(object)) {
      Notify(ChangeType::kUpdated, object, it->second);
    }
  }
  for (const auto& [key, object] : previous) {
    if (fresh.find(key) == fresh.end()) {
      Notify(ChangeType::kDeleted, object, object);
    }
  }
  return list->resource_version;
}

void Informer::Apply(const kube::WatchEvent& event, std::string& resource_version) {
  const std::string rv = ResourceVersionOf(event.object);
  if (!rv.empty()) {
    resource_version = rv;
  }
  if (event.type == kube::WatchEventType::kBookmark) {
    return;
  }
  const std::string key = KeyOf(event.object);
  Json old_object;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = store_.find(key);
    if (it != store_.end()) {
      old_object = it->second;
    }
    if (event.type == kube::WatchEventType::kDeleted) {
      store_.erase(key);
    } else {
      store_[key] = event.object;
    }
  }
  if (event.type == kube::WatchEventType::kDeleted) {
    Notify(ChangeType::kDeleted, event.object, old_object.is_null() ? event.object : old_object);
  } else if (old_object.is_null()) {
    Notify(ChangeType::kAdded, event.object, Json());
  } else {
    Notify(ChangeType::kUpdated, event.object, old_object);
  }
}

void Informer::Loop() {
  std::chrono::milliseconds backoff = kInitialBackoff;
  std::string resource_version;
  bool need_list = true;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return;
      }
    }
    if (need_list) {
      auto listed = Relist();
      if (!listed.ok()) {
        SetError("listing " + Describe() + ": " + listed.status().ToString());
        if (!WaitOrStop(backoff)) {
          return;
        }
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      resource_version = listed.value();
      need_list = false;
    }
    kube::WatchOptions options;
    options.resource_version = resource_version;
    options.allow_bookmarks = true;
    options.timeout = std::chrono::seconds(300);
    core::Status status = client_.Watch(
        ref_, ns_, options,
        [&](const kube::WatchEvent& event) {
          Apply(event, resource_version);
          return true;
        },
        *cancel_);
    if (status.ok()) {
      SetError("");
      backoff = kInitialBackoff;
      continue;  // server closed the stream (timeout) or we were cancelled
    }
    if (kube::IsGone(status)) {
      need_list = true;  // our resourceVersion is too old: start over
      continue;
    }
    SetError("watching " + Describe() + ": " + status.ToString());
    need_list = true;
    if (!WaitOrStop(backoff)) {
      return;
    }
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

const Informer* NamespacedCache::For(const std::string& ns) const {
  auto all = by_ns_.find("");
  if (all != by_ns_.end()) {
    return all->second;
  }
  auto it = by_ns_.find(ns);
  return it == by_ns_.end() ? nullptr : it->second;
}

std::optional<Json> NamespacedCache::Get(const std::string& ns, const std::string& name) const {
  const Informer* informer = For(ns);
  return informer == nullptr ? std::nullopt : informer->Get(ns, name);
}

std::optional<std::vector<Json>> NamespacedCache::List(const std::string& ns) const {
  const Informer* informer = For(ns);
  return informer == nullptr ? std::nullopt : informer->List(ns);
}

}  // namespace schemaop::manager
