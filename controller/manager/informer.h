#pragma once
// A list+watch cache of one resource type in one namespace (or all), with
// change notifications: the part of client-go's SharedInformer the manager
// needs. Lists, then watches from the list's resourceVersion (bookmarks
// keep it fresh); a watch that ends is resumed from the last version seen;
// 410 Gone (or any other error, after a back-off) re-lists and reports the
// difference to the handlers, so no change is ever missed.
//
// Thread safety: Get/List/HasSynced may be called from any thread. Handlers
// run on the informer's own thread, one at a time; they must be quick (the
// manager's only enqueue keys) and must not call Stop().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"

namespace schemaop::manager {

using Json = nlohmann::json;

// Read access to cached objects. nullopt means "the cache cannot answer"
// (not synced, namespace not watched): the caller asks the API server.
class ObjectCache {
 public:
  virtual ~ObjectCache() = default;
  // The object, or a null Json when the (synced) cache knows it is absent.
  virtual std::optional<Json> Get(const std::string& ns, const std::string& name) const = 0;
  virtual std::optional<std::vector<Json>> List(const std::string& ns) const = 0;
};

enum class ChangeType { kAdded, kUpdated, kDeleted };

// `old_object` is null for kAdded; for kDeleted `object` is the last state seen.
using ChangeHandler =
    std::function<void(ChangeType type, const Json& object, const Json& old_object)>;

class Informer final : public ObjectCache {
 public:
  // `ns` empty = all namespaces. The client must outlive the informer.
  Informer(kube::Client& client, kube::ResourceRef ref, std::string ns);
  ~Informer() override;  // Stop()s
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Add handlers before Start().
  void AddHandler(ChangeHandler handler);
  void Start();
  // Cancels the watch and joins the thread. Idempotent.
  void Stop();

  // True once the first list has been stored.
  bool HasSynced() const { return synced_.load(); }
  // Blocks until synced, stopped, or the deadline.
  bool WaitForSync(std::chrono::steady_clock::time_point deadline) const;
  // "deployments in drawing" / "schemamigrations in all namespaces".
  std::string Describe() const;
  // Last list/watch error (empty when healthy), for logs and /readyz.
  std::string LastError() const;

  std::optional<Json> Get(const std::string& ns, const std::string& name) const override;
  std::optional<std::vector<Json>> List(const std::string& ns) const override;

 private:
  void Loop();
  // Re-lists; returns the list's resourceVersion or an error.
  core::Result<std::string> Relist();
  void Apply(const kube::WatchEvent& event, std::string& resource_version);
  void Notify(ChangeType type, const Json& object, const Json& old_object);
  void SetError(const std::string& error);
  // Sleeps up to `delay` unless stopped; returns false when stopped.
  bool WaitOrStop(std::chrono::milliseconds delay);

  kube::Client& client_;
  const kube::ResourceRef ref_;
  const std::string ns_;
  std::vector<ChangeHandler> handlers_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, Json> store_;  // "ns/name" -> object
  std::string last_error_;
  std::atomic<bool> synced_{false};
  bool stopping_ = false;
  std::unique_ptr<kube::Cancellation> cancel_;
  std::thread thread_;
};

// Routes Get/List to the informer of the object's namespace (or the
// all-namespaces one); nullopt for namespaces nobody watches.
class NamespacedCache final : public ObjectCache {
 public:
  void Add(const std::string& ns, const Informer* informer) { by_ns_[ns] = informer; }
  std::optional<Json> Get(const std::string& ns, const std::string& name) const override;
  std::optional<std::vector<Json>> List(const std::string& ns) const override;

 private:
  const Informer* For(const std::string& ns) const;
  std::map<std::string, const Informer*> by_ns_;  // "" = all namespaces
};

// "namespace/name" of an object.
std::string KeyOf(const Json& object);

}  // namespace schemaop::manager
