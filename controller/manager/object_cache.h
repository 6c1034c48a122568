#pragma once
// Read access to the kube::Informer caches for the ports, with one extra
// distinction the ports need: "the cache knows the object is absent" (a
// null Json) versus "the cache cannot answer" (nullopt: not synced yet, or
// a namespace nobody watches), in which case the caller asks the API server.
//
// Thread-safe (the informers' getters are).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kube/informer.h"

namespace schemaop::manager {

using Json = nlohmann::json;

// Set (true) on a cached object whose payload the informer's transform
// dropped (manager.h TrimForCache): for such an object the cache cannot
// answer a read of its data, and the ports ask the API server.
inline constexpr char kTrimmedCacheField[] = "schemaop.dev/trimmed";

class ObjectCache {
 public:
  virtual ~ObjectCache() = default;
  // The object, or a null Json when the (synced) cache knows it is absent.
  virtual std::optional<Json> Get(const std::string& ns, const std::string& name) const = 0;
  // `ns` empty: every cached object.
  virtual std::optional<std::vector<Json>> List(const std::string& ns) const = 0;
};

// Routes to the informer of the object's namespace, or to the one that
// watches all namespaces (registered under "").
class NamespacedCache final : public ObjectCache {
 public:
  void Add(const std::string& ns, const kube::Informer* informer) { by_ns_[ns] = informer; }
  std::optional<Json> Get(const std::string& ns, const std::string& name) const override;
  std::optional<std::vector<Json>> List(const std::string& ns) const override;

 private:
  const kube::Informer* For(const std::string& ns) const;
  std::map<std::string, const kube::Informer*> by_ns_;
};

}  // namespace schemaop::manager
