#pragma once
// Pure helpers of the controller loop (unit-tested in
// tests/manager/manager_unit_test.cpp): which SchemaMigrations reference
// which objects (ReferenceIndex, kept by the SchemaMigration informer), which
// updates need a reconcile, and what the caches keep of an object.
#include <initializer_list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "manager/object_cache.h"

namespace schemaop::manager {

// The string at `path` in `object` ("" when absent or not a string).
std::string StringAt(const Json& object, std::initializer_list<const char*> path);

// Keys ("ns/name") of the SchemaMigrations among `objects` (all in the
// namespace of the changed object) that reference the object of `kind`
// ("Secret" | "ConfigMap" | "Deployment" | "StatefulSet") named `name`,
// through the spec or through the workloads recorded in status: the rule
// ReferenceIndex files references by, applied to a list.
std::vector<std::string> SchemaMigrationsReferencing(const std::vector<Json>& objects,
                                                     const std::string& kind,
                                                     const std::string& name);

// True when `before` and `after` differ only in status, resourceVersion and
// managedFields (our own status writes): such an update needs no reconcile.
bool IsStatusOnlyChange(const Json& before, const Json& after);

// The pseudo-kind under which ReferenceIndex files a SchemaMigration's
// status.databaseIdentity (namespace "": an identity is cluster-wide), so
// Referencing(kDatabaseIdentityKind, "", identity) lists the objects that
// manage one database, whatever namespace or Secret they reach it through.
inline constexpr char kDatabaseIdentityKind[] = "DatabaseIdentity";

// Which SchemaMigrations reference which Secrets, ConfigMaps and workloads
// (the same references as SchemaMigrationsReferencing), and which database
// identity they recorded, kept up to date by the SchemaMigration informer's
// handlers. A change of any Secret,
// ConfigMap or Deployment in the cluster is looked up here in O(log n)
// instead of copying every SchemaMigration of its namespace. Thread-safe.
class ReferenceIndex {
 public:
  // Replaces the references of SchemaMigration `sm`.
  void Set(const Json& sm);
  void Remove(const std::string& sm_key);
  // Keys ("ns/name") of the SchemaMigrations referencing `kind` ns/name.
  std::vector<std::string> Referencing(const std::string& kind, const std::string& ns,
                                       const std::string& name) const;

 private:
  // Drops `sm_key` from the entries of `refs` (mu_ held).
  void Unfile(const std::string& sm_key, const std::vector<std::string>& refs);

  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> refs_by_sm_;
  std::map<std::string, std::set<std::string>> sms_by_ref_;
};

// The informer transform of the controller's caches (kube::InformerOptions::
// transform). Never kept: metadata.managedFields and the
// kubectl last-applied-configuration annotation. Deployments and
// StatefulSets keep only apiVersion, kind and metadata identity (their
// handlers need namespace/name; the scale is always read from the API).
// ConfigMaps (and Secrets, which the controller no longer caches) keep their
// data only when `referenced` by a SchemaMigration; otherwise
// data/binaryData/stringData are dropped and kTrimmedCacheField
// (object_cache.h) is set. Watching all namespaces then costs a few hundred
// bytes per unrelated object.
void TrimForCache(const std::string& kind, Json& object, bool referenced);

}  // namespace schemaop::manager
