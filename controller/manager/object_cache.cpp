#include "manager/object_cache.h"

namespace schemaop::manager {

const kube::Informer* NamespacedCache::For(const std::string& ns) const {
  auto all = by_ns_.find("");
  if (all != by_ns_.end()) {
    return all->second;
  }
  auto it = by_ns_.find(ns);
  return it == by_ns_.end() ? nullptr : it->second;
}

std::optional<Json> NamespacedCache::Get(const std::string& ns, const std::string& name) const {
  const kube::Informer* informer = For(ns);
  if (informer == nullptr || !informer->HasSynced()) {
    return std::nullopt;
  }
  std::optional<Json> object = informer->Get(ns, name);
  return object ? std::move(*object) : Json();
}

std::optional<std::vector<Json>> NamespacedCache::List(const std::string& ns) const {
  if (ns.empty()) {
    // Every watched namespace.
    std::vector<Json> all;
    for (const auto& [watched, informer] : by_ns_) {
      if (!informer->HasSynced()) {
        return std::nullopt;
      }
      std::vector<Json> part = informer->List();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  const kube::Informer* informer = For(ns);
  if (informer == nullptr || !informer->HasSynced()) {
    return std::nullopt;
  }
  return informer->ListNamespace(ns);
}

}  // namespace schemaop::manager
