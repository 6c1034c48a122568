#pragma once
// A reflector + cache for one resource type (client-go's SharedInformer,
// reduced): list, then watch from the list's resourceVersion with bookmarks
// and a bounded, jittered timeoutSeconds; reconnect from the last seen
// resourceVersion (bookmarks advance it); re-list on 410 Gone (HTTP or in-stream
// ERROR); exponential back-off on other errors. A re-list diffs against the
// cache: vanished objects fire on_delete, unchanged resourceVersions fire
// nothing.
//
// Threads: Start() runs the loop on its own std::thread (never on the HTTP
// library's pool). Handlers run on that thread, one at a time, without the
// cache lock held (they may call the getters). Getters are thread-safe and
// return copies. Stop() cancels the watch and joins.
//
// Usage:
//   kube::Informer migrations(client, kube::resources::kSchemaMigrations);
//   kube::ResourceEventHandlers handlers;
//   handlers.on_add = [&](const kube::Json& o) { queue.Add(kube::KeyOf(o)); };
//   handlers.on_update = [&](const kube::Json&, const kube::Json& o) { queue.Add(kube::KeyOf(o)); };
//   handlers.on_delete = [&](const kube::Json& o) { queue.Add(kube::KeyOf(o)); };
//   migrations.AddHandlers(handlers);
//   migrations.Start();
//   if (!migrations.WaitForSync(std::chrono::seconds(30))) { /* not synced yet */ }
//   std::optional<kube::Json> obj = migrations.Get("drawing", "drawing-db");
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
#include <utility>
#include <vector>

#include "kube/client.h"
#include "kube/clock.h"

namespace schemaop::kube {

struct ResourceEventHandlers {
  std::function<void(const Json& object)> on_add;
  std::function<void(const Json& old_object, const Json& new_object)> on_update;
  std::function<void(const Json& last_known)> on_delete;
};

struct InformerOptions {
  std::string namespace_name;  // "" = all namespaces (or cluster-scoped)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Server-side watch timeout; each watch uses a random value in [t, 2t) like
  // client-go, so many watches do not reconnect in lock step.
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
  // Applied in place to every listed or watched object before it is cached
  // and handed to the handlers (client-go's SetTransform): drop what the
  // consumer never reads (managedFields, the data of unrelated Secrets) so
  // a cache over a whole cluster stays small. Keep metadata.name,
  // namespace and resourceVersion: the cache is keyed and diffed on them.
  // Runs on the informer's thread.
  std::function<void(Json& object)> transform;
  // Keep cached objects as CBOR bytes instead of parsed trees: about a
  // tenth of the memory (nlohmann::json spends ~10 bytes per byte of JSON),
  // for a parse on every getter call. For caches read a few times per
  // reconcile and holding many objects. Handlers still get parsed objects.
  bool compact = false;
};

// "namespace/name", or "name" for cluster-scoped objects.
std::string KeyOf(const Json& object);
// Inverse of KeyOf: {namespace, name}.
std::pair<std::string, std::string> SplitKey(const std::string& key);

class Informer {
 public:
  Informer(Client& client, ResourceRef ref, InformerOptions options = {},
           Clock& clock = SystemClock::Instance());
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Call before Start().
  void AddHandlers(ResourceEventHandlers handlers);
  void Start();
  // Cancels the watch and joins the thread; idempotent.
  void Stop();

  // True once the first full list has been loaded into the cache.
  bool HasSynced() const;
  // Blocks until synced or `timeout` (real time) elapses.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  std::optional<Json> Get(const std::string& ns, const std::string& name) const;
  std::optional<Json> GetByKey(const std::string& key) const;
  std::vector<Json> List() const;
  std::vector<Json> ListNamespace(const std::string& ns) const;
  std::vector<std::string> Keys() const;
  size_t Size() const;
  // The resourceVersion the next watch resumes from.
  std::string LastResourceVersion() const;

  struct Stats {
    int lists = 0;            // full (re-)lists done
    int relists_on_gone = 0;  // of which caused by 410
    int watches = 0;          // watch requests started
    int errors = 0;           // failed lists/watches (then back-off)
    int64_t events = 0;       // ADDED/MODIFIED/DELETED applied
    int64_t bookmarks = 0;
  };
  Stats stats() const;
  // Status of the last failed list/watch (OK if the last call succeeded).
  core::Status last_error() const;

 private:
  void Run();
  core::Status ListAndReplace();
  void Apply(const WatchEvent& event);
  // Waits up to `delay` or until Stop(); false if stopping.
  bool Backoff(Clock::Duration delay);

  Client& client_;
  const ResourceRef ref_;
  const InformerOptions options_;
  Clock& clock_;
  std::vector<ResourceEventHandlers> handlers_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, Json> cache_;
  std::string resource_version_;
  bool synced_ = false;
  bool stopping_ = false;
  Stats stats_;
  core::Status last_error_;
  std::shared_ptr<Cancellation> current_watch_;
  std::thread thread_;
};

}  // namespace schemaop::kube
