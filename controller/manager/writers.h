#pragma once
// Pure helpers of KubePortImpl for the writers besides Deployments and
// StatefulSets and for their autoscalers (design §6.8): which Jobs of a
// CronJob still run, which autoscalers target a workload, and who last wrote
// a field according to metadata.managedFields. Data in, data out (conventions §1).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconcile/ports.h"

namespace schemaop::manager {

// The names of the Jobs in `jobs` (items of a JobList) owned by the object
// with uid `owner_uid` that have not finished: no condition Complete or
// Failed with status True. A Job being deleted still runs until it is gone.
std::vector<std::string> RunningJobsOf(const nlohmann::json& jobs, const std::string& owner_uid);

// The autoscalers among `hpas` (HorizontalPodAutoscaler items) and
// `scaled_objects` (KEDA ScaledObject items) whose spec.scaleTargetRef names
// workload kind/name (a ScaledObject's kind defaults to Deployment).
std::vector<reconcile::AutoscalerInfo> AutoscalersTargeting(const nlohmann::json& hpas,
                                                            const nlohmann::json& scaled_objects,
                                                            const std::string& kind,
                                                            const std::string& name);

// Who owns `field` (e.g. {"spec", "replicas"}) of `object` according to its
// metadata.managedFields: the latest entry whose fieldsV1 holds it, as
// `manager "M" (operation Update, subresource scale, at TIME)`; a sentence
// saying so when no entry does.
std::string DescribeFieldOwner(const nlohmann::json& object, const std::vector<std::string>& field);

}  // namespace schemaop::manager
