#include "kube/informer.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace schemaop::kube {
namespace {

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const Json& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains("resourceVersion") ||
      !meta["resourceVersion"].is_string()) {
    return "";
  }
  return meta["resourceVersion"].get<std::string>();
}

// A packed cache entry: [resourceVersion, CBOR bytes]. Objects are never
// arrays, so the two forms cannot be confused.
bool IsPacked(const Json& stored) {
  return stored.is_array() && stored.size() == 2 && stored[1].is_binary();
}

Json Pack(bool compact, Json object) {
  if (!compact) return object;
  std::vector<std::uint8_t> bytes = Json::to_cbor(object);
  bytes.shrink_to_fit();
  return Json::array({ResourceVersionOf(object), Json::binary(std::move(bytes))});
}

Json Unpack(const Json& stored) {
  if (!IsPacked(stored)) return stored;
  return Json::from_cbor(stored[1].get_binary());
}

std::string StoredVersion(const Json& stored) {
  return IsPacked(stored) ? stored[0].get<std::string>() : ResourceVersionOf(stored);
}

}  // namespace

std::string KeyOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const Json& meta = object["metadata"];
  std::string name = meta.value("name", "");
  std::string ns = meta.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

Informer::Informer(Client& client, ResourceRef ref, InformerOptions options, Clock& clock)
    : client_(client), ref_(std::move(ref)), options_(std::move(options)), clock_(clock) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(ResourceEventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  std::shared_ptr<Cancellation> watch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    watch = current_watch_;
    cv_.notify_all();
  }
  if (watch) watch->Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::HasSynced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return synced_ || stopping_; }) && synced_;
}

std::optional<Json> Informer::Get(const std::string& ns, const std::string& name) const {
  return GetByKey(ns.empty() ? name : ns + "/" + name);
}

std::optional<Json> Informer::GetByKey(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return Unpack(it->second);
}

std::vector<Json> Informer::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Json> out;
  out.reserve(cache_.size());
  for (const auto& [key, object] : cache_) out.push_back(Unpack(object));
  return out;
}

std::vector<Json> Informer::ListNamespace(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Json> out;
  const std::string prefix = ns + "/";
  for (auto it = cache_.lower_bound(prefix); it != cache_.end() && it->first.rfind(prefix, 0) == 0;
       ++it) {
    out.push_back(Unpack(it->second));
  }
  return out;
}

std::vector<std::string> Informer::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(cache_.size());
  for (const auto& [key, object] : cache_) out.push_back(key);
  return out;
}

size_t Informer::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

std::string Informer::LastResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

Informer::Stats Informer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

core::Status Informer::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool Informer::Backoff(Clock::Duration delay) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = clock_.Now() + delay;
  while (!stopping_ && clock_.Now() < deadline) clock_.WaitUntil(cv_, lock, deadline);
  return !stopping_;
}

core::Status Informer::ListAndReplace() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  auto list = client_.ListAll(ref_, options_.namespace_name, list_options);
  if (!list.ok()) return list.status();

  std::map<std::string, Json> fresh;
  for (auto& item : list->items) {
    if (options_.transform) options_.transform(item);
    std::string key = KeyOf(item);
    fresh.emplace(std::move(key), Pack(options_.compact, std::move(item)));
  }
  list->items.clear();
  // Swap, then diff without copying objects: only this thread writes the
  // cache, other threads only read it, so reading it here without the lock
  // is safe. (Copying the old cache and the added objects tripled the peak
  // memory of a first sync or a re-list, and the allocator keeps the peak.)
  std::map<std::string, Json> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(cache_);
    cache_ = std::move(fresh);
    resource_version_ = list->resource_version;
    ++stats_.lists;
  }
  for (const auto& h : handlers_) {
    for (const auto& [key, object] : cache_) {
      auto it = old.find(key);
      if (it == old.end()) {
        if (h.on_add) h.on_add(Unpack(object));
      } else if (StoredVersion(it->second) != StoredVersion(object)) {
        if (h.on_update) h.on_update(Unpack(it->second), Unpack(object));
      }
    }
    for (const auto& [key, object] : old) {
      if (cache_.count(key) == 0 && h.on_delete) h.on_delete(Unpack(object));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_ = true;
    cv_.notify_all();
  }
  return core::Status::Ok();
}

void Informer::Apply(const WatchEvent& watched) {
  std::string rv = ResourceVersionOf(watched.object);
  if (watched.type == WatchEventType::kBookmark) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!rv.empty()) resource_version_ = rv;
    ++stats_.bookmarks;
    return;
  }
  WatchEvent event = watched;
  if (options_.transform) options_.transform(event.object);
  std::string key = KeyOf(event.object);
  std::optional<Json> previous;
  bool changed = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.events;
    if (!rv.empty()) resource_version_ = rv;
    auto it = cache_.find(key);
    if (it != cache_.end()) previous = Unpack(it->second);
    if (event.type == WatchEventType::kDeleted) {
      if (it != cache_.end()) cache_.erase(it);
    } else {
      if (previous && ResourceVersionOf(*previous) == rv) changed = false;
      cache_[key] = Pack(options_.compact, event.object);
    }
  }
  for (const auto& h : handlers_) {
    if (event.type == WatchEventType::kDeleted) {
      if (h.on_delete) h.on_delete(previous ? *previous : event.object);
    } else if (!previous) {
      if (h.on_add) h.on_add(event.object);
    } else if (changed) {
      if (h.on_update) h.on_update(*previous, event.object);
    }
  }
}

void Informer::Run() {
  std::mt19937_64 random(std::random_device{}());
  bool need_list = true;
  Clock::Duration backoff = options_.initial_backoff;
  auto next_backoff = [&] {
    // Full jitter on top of doubling, capped.
    std::uniform_real_distribution<double> jitter(1.0, 1.5);
    auto delay = std::chrono::duration_cast<Clock::Duration>(backoff * jitter(random));
    backoff = std::min<Clock::Duration>(backoff * 2, options_.max_backoff);
    return delay;
  };
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (need_list) {
      core::Status listed = ListAndReplace();
      if (!listed.ok()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.errors;
          last_error_ = listed;
        }
        if (!Backoff(next_backoff())) return;
        continue;
      }
      need_list = false;
      backoff = options_.initial_backoff;
    }
    auto cancel = std::make_shared<Cancellation>();
    WatchOptions watch_options;
    watch_options.label_selector = options_.label_selector;
    watch_options.field_selector = options_.field_selector;
    std::uniform_int_distribution<int64_t> spread(0, std::max<int64_t>(0, options_.watch_timeout.count() - 1));
    watch_options.timeout = options_.watch_timeout + std::chrono::seconds(spread(random));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      current_watch_ = cancel;
      watch_options.resource_version = resource_version_;
      ++stats_.watches;
    }
    core::Status watched = client_.Watch(ref_, options_.namespace_name, watch_options,
                                         [this](const WatchEvent& e) {
                                           Apply(e);
                                           return true;
                                         },
                                         *cancel);
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_watch_.reset();
      if (stopping_) return;
      last_error_ = watched;
      if (IsGone(watched)) ++stats_.relists_on_gone;
      else if (!watched.ok()) ++stats_.errors;
    }
    if (IsGone(watched)) {
      need_list = true;  // history compacted: only a fresh list is consistent
      client_.ReportFault({FaultKind::kWatchRelist, 410, "watch " + ref_.CollectionPath(options_.namespace_name),
                           watched.message(), "re-listing"});
      continue;
    }
    if (!watched.ok()) {
      if (!Backoff(next_backoff())) return;
      continue;
    }
    backoff = options_.initial_backoff;
  }
}

}  // namespace schemaop::kube
