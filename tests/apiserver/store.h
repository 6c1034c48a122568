#pragma once

// The object store of the test API server: resource types (built-in and from
// CRDs), objects, one global resourceVersion, bounded per-type watch history
// and live watchers. One mutex guards everything; every public method takes it.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "internal.h"

namespace schemaop::apiserver {

struct ResourceType {
  std::string group;
  std::string version;
  std::string plural;
  std::string singular;
  std::string kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool has_status = false;
  bool has_scale = false;
  // A custom resource's subresources.scale (custom_scale.cpp); empty for
  // built-in kinds, whose scale is spec.replicas / status.replicas /
  // spec.selector.matchLabels.
  std::string scale_spec_path;
  std::string scale_status_path;
  std::string scale_selector_path;
  bool tracks_generation = false;
  bool is_custom = false;
  Json schema;           // openAPIV3Schema of a custom resource, or null.
  Json printer_columns;  // additionalPrinterColumns of a custom resource.

  std::string bucket() const { return group + "/" + plural; }
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps" / "configmaps", as in error messages.
  std::string list_kind() const { return kind + "List"; }
};

// Result of a store operation: an error, or an object (with HTTP code).
struct Outcome {
  std::optional<ApiError> error;
  Json object;
  int code = 200;
  static Outcome Fail(ApiError e) {
    Outcome o;
    o.error = std::move(e);
    return o;
  }
  static Outcome Ok(Json object, int code = 200) {
    Outcome o;
    o.object = std::move(object);
    o.code = code;
    return o;
  }
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;
  std::string continue_token;
};

struct Watcher {
  ResourceType type;
  std::string namespace_;  // empty: all namespaces
  LabelSelector labels;
  FieldSelector fields;
  std::deque<Json> pending;  // {"type": ..., "object": ...}
  bool closed = false;       // close requested (admin) or server stopping
};

struct WatchStart {
  std::optional<ApiError> error;      // bad request, 404, ...
  std::optional<ApiError> expired;    // resourceVersion too old
  std::shared_ptr<Watcher> watcher;   // set when neither error is
};

class Store {
 public:
  explicit Store(std::size_t history_size);

  // Called (under the store lock) after a Deployment, a StatefulSet or a
  // custom resource with a scale subresource was written, with bucket and
  // "namespace/name".
  void SetWorkloadHook(std::function<void(const std::string&, const std::string&)> hook);

  std::optional<ResourceType> FindType(const std::string& group, const std::string& version,
                                       const std::string& plural) const;
  std::vector<ResourceType> TypesOf(const std::string& group, const std::string& version) const;
  // group -> versions (first one preferred), core group as "".
  std::vector<std::pair<std::string, std::vector<std::string>>> GroupVersions() const;

  Outcome Create(const ResourceType& type, const std::string& ns, Json object, bool dry_run);
  Outcome Get(const ResourceType& type, const std::string& ns, const std::string& name,
              const std::string& subresource);
  Outcome List(const ResourceType& type, const std::string& ns, const ListOptions& options);
  // Read-modify-write of one object (or its status/scale representation)
  // under the lock. `mutate` gets the current representation, or null when
  // the object does not exist and `create_if_missing` is set.
  using Mutation = std::function<std::optional<ApiError>(const Json& current, Json& updated)>;
  Outcome Modify(const ResourceType& type, const std::string& ns, const std::string& name,
                 const std::string& subresource, const Mutation& mutate, bool dry_run,
                 bool create_if_missing = false, const std::string& update_manager = "");
  Outcome Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                 const Json& delete_options, bool dry_run);
  Outcome DeleteCollection(const ResourceType& type, const std::string& ns,
                           const ListOptions& options, bool dry_run);

  // resource_version: "" (synthetic ADDED for current objects), "0" (same),
  // or a specific version to replay history from.
  WatchStart StartWatch(const ResourceType& type, const std::string& ns,
                        const std::string& label_selector, const std::string& field_selector,
                        const std::string& resource_version, bool send_initial_events);
  void StopWatch(const std::shared_ptr<Watcher>& watcher);
  // Waits until the watcher has events, is closed, or the deadline passes;
  // moves pending events out. Returns false when the watcher is closed.
  bool WaitForEvents(const std::shared_ptr<Watcher>& watcher,
                     std::chrono::steady_clock::time_point deadline, std::vector<Json>* out);
  void CloseAllWatches();
  void ExpireHistory();
  void Shutdown();  // closes watches; later watch starts fail
  std::int64_t CurrentResourceVersion() const;

  // Simulated controller step for one workload (see SetWorkloadHook).
  void ReconcileWorkload(const std::string& bucket, const std::string& key);

 private:
  struct Bucket {
    std::map<std::string, Json> objects;  // "namespace/name" -> object
    std::deque<std::pair<std::int64_t, Json>> history;  // rv -> event (with "previous")
    std::int64_t compacted_rv = 0;  // events at or below this rv are gone
  };

  void RegisterBuiltins();
  void RegisterCrdLocked(const Json& crd);
  void UnregisterCrdLocked(const Json& crd);
  std::optional<ResourceType> FindTypeLocked(const std::string& group,
                                             const std::string& version,
                                             const std::string& plural) const;
  Outcome CreateLocked(const ResourceType& type, const std::string& ns, Json object,
                       bool dry_run);
  Outcome DeleteLocked(const ResourceType& type, const std::string& ns,
                       const std::string& name, const Json& delete_options, bool dry_run);
  // Applies defaults/pruning/validation for the type; error on invalid.
  std::optional<ApiError> Admit(const ResourceType& type, Json& object, const Json* old);
  // Stores (or removes, when `object` is null) and emits a watch event.
  void CommitLocked(const ResourceType& type, const std::string& key, const std::string& event,
                    Json object, const Json& previous);
  void RemoveLocked(const ResourceType& type, const std::string& key, Json final_object);
  void Dispatch(const std::string& bucket, const std::string& type, const Json& object,
                const Json& previous);
  void DeliverLocked(Watcher& watcher, const std::string& event, const Json& object,
                     const Json& previous);
  bool NamespaceExistsLocked(const std::string& ns) const;
  Json RenderFor(const ResourceType& type, const Json& object) const;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t history_size_;
  std::int64_t rv_ = 0;
  bool shutdown_ = false;
  std::vector<ResourceType> types_;
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, std::list<std::shared_ptr<Watcher>>> watchers_;
  std::function<void(const std::string&, const std::string&)> workload_hook_;
};

// custom_scale.cpp: the scale subresource of custom resources.
void SetCustomScalePaths(ResourceType& type, const Json& subresources);
std::int64_t CustomSpecReplicas(const ResourceType& type, const Json& object);
// The simulated controller's view: `absent` when the object sets none (a
// Deployment's controller defaults to 1).
std::int64_t CustomSpecReplicasOr(const ResourceType& type, const Json& object,
                                  std::int64_t absent);
Json CustomScaleStatus(const ResourceType& type, const Json& object);
void SetCustomSpecReplicas(const ResourceType& type, Json& object, std::int64_t replicas);
// The object's status after its simulated controller ran: `replicas` at
// statusReplicasPath and `selector` at labelSelectorPath.
Json CustomWorkloadStatus(const ResourceType& type, const Json& object, std::int64_t replicas,
                          const std::string& selector);

std::string RandomSuffix(std::size_t length);
std::string NewUid();

}  // namespace schemaop::apiserver
