#pragma once
// The batch/v1 Job of one verb of the Job executor (spec.executor Job,
// design §10), built purely from the SchemaMigration and the expanded
// command line. What every such Job holds (design §10.2, §10.3):
// - the SchemaMigration as its controller owner reference, so deleting the
//   SchemaMigration deletes its Jobs and a Job is never orphaned;
// - the database URL ONLY as an environment variable filled by Kubernetes
//   from spec.database.urlSecretRef (valueFrom.secretKeyRef): it is in no
//   argument, annotation or label, and the operator never reads it into
//   the object;
// - backoffLimit 0 and restartPolicy Never: the tool commits on its own, so
//   a failed or killed pod is a failed migration, never run a second time;
// - activeDeadlineSeconds and ttlSecondsAfterFinished from spec.job (the
//   cluster's TTL controller deletes the finished Job);
// - a deterministic name (core::JobName of the run key and verb) and the
//   labels that find it again after a restart;
// - PGAPPNAME set to that name, so the tool's sessions can be found.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/schema_migration.h"

namespace schemaop::reconcile {

inline constexpr char kJobLabelOwner[] = "schemaop.dev/schemamigration";
inline constexpr char kJobLabelVerb[] = "schemaop.dev/verb";
inline constexpr char kJobAnnotationRun[] = "schemaop.dev/run";
inline constexpr char kJobContainerName[] = "migrate";
// Set to the Job's name in its container: libpq (psql, psycopg2, ...) uses
// it as application_name, by which the operator ends the sessions a killed
// tool left behind before it judges the database (design §10.4).
inline constexpr char kJobApplicationNameEnv[] = "PGAPPNAME";

struct JobRequest {
  std::string verb;               // core::kVerbUpgrade, ...
  std::string run_key;            // RunIdentity::Key() of the run
  std::vector<std::string> argv;  // core::ExpandCommand of core::CommandFor(job, verb)
  // The Secret the URL comes from, under spec.database.urlSecretRef.key;
  // empty: spec.database.urlSecretRef.name. A rehearsal Job's is the
  // operator's Secret of the scratch copy's URL (BuildScratchSecret).
  std::string url_secret_name;
};

// The Job for `request`. `obj` must have passed core::ValidateSpec with
// executor Job (spec.job set).
nlohmann::json BuildJob(const core::SchemaMigration& obj, const JobRequest& request);

// spec.job's env, envFrom and resources in the shape of a container's
// fields (arrays, possibly empty; an object, null when none): the spec's
// JSON and the Job's container carry them alike.
nlohmann::json JobEnvJson(const core::JobSpec& job);
nlohmann::json JobEnvFromJson(const core::JobSpec& job);
nlohmann::json JobResourcesJson(const core::JobSpec& job);

// The Secret a rehearsal's Jobs get the scratch copy's URL from (design
// §10.9): named `name`, the URL under spec.database.urlSecretRef.key (so the
// Job's env is built as for the database), the SchemaMigration as its
// controller owner (deleting the object deletes it), and labels that mark
// it as the operator's. `url` is SECRET: the manifest goes to the API
// server only.
nlohmann::json BuildScratchSecret(const core::SchemaMigration& obj, const std::string& name,
                                  const std::string& url);

}  // namespace schemaop::reconcile
