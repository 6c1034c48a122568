// The inputs of a run (the Secret(s) and the ConfigMap, design §6.2 step 4)
// and the problems the reconciler reports, worded for the user: each names
// the field, Secret or ConfigMap to fix (conventions §2). The URL read here
// is registered with the scrubber before it can reach any text.
#include <string>
#include <utility>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

bool IsTransient(core::Code code) {
  switch (code) {
    case core::Code::kUnreachable:
    case core::Code::kLockHeld:
    case core::Code::kTimeout:
    case core::Code::kHttpError:
    case core::Code::kConflict:
    case core::Code::kInternal:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------- inputs

// Every Secret, ConfigMap and key spec.job.env and envFrom name exists
// before anything is scaled: a missing one would hold the Job's pod in
// CreateContainerConfigError, and the writers at zero, until the Job's
// deadline. Values are not kept (a Secret's is never in a message).
std::optional<Problem> Reconciler::Pass::CheckJobEnvReferences() {
  const core::JobSpec& job = *obj_.spec.job;
  const auto missing = [&](const std::string& field, const std::string& what,
                           const Status& status) {
    if (status.code() != Code::kNotFound) {
      return KubeProblem(status, "Reading " + what + " named in " + field);
    }
    return Problem{rs::kSecretNotFound,
                   field + " names " + what + ", which is not in namespace " + ns() +
                       ": create it, or fix " + field + ". Nothing was scaled or migrated.",
                   false, status};
  };
  for (std::size_t i = 0; i < job.env.size(); ++i) {
    const core::JobEnvVar& var = job.env[i];
    const std::string field = "spec.job.env[" + std::to_string(i) + "] (" + var.name + ")";
    if (!var.secret_name.empty()) {
      auto value = r_.kube_.GetSecretValue(ns(), var.secret_name, var.key);
      if (!value.ok()) {
        return missing(field, "key " + var.key + " of Secret " + var.secret_name, value.status());
      }
    } else if (!var.config_map_name.empty()) {
      auto data = r_.kube_.GetConfigMapData(ns(), var.config_map_name);
      if (!data.ok() || data->count(var.key) == 0) {
        return missing(field, "key " + var.key + " of ConfigMap " + var.config_map_name,
                       data.ok() ? Status(Code::kNotFound, "no such key") : data.status());
      }
    }
  }
  for (std::size_t i = 0; i < job.env_from.size(); ++i) {
    const core::JobEnvFrom& from = job.env_from[i];
    const std::string field = "spec.job.envFrom[" + std::to_string(i) + "]";
    if (!from.secret_name.empty()) {
      auto exists = r_.kube_.SecretExists(ns(), from.secret_name);
      if (!exists.ok() || !exists.value()) {
        return missing(field, "Secret " + from.secret_name,
                       exists.ok() ? Status(Code::kNotFound, "not found") : exists.status());
      }
    } else {
      auto data = r_.kube_.GetConfigMapData(ns(), from.config_map_name);
      if (!data.ok()) {
        return missing(field, "ConfigMap " + from.config_map_name, data.status());
      }
    }
  }
  return std::nullopt;
}

std::optional<Problem> Reconciler::Pass::LoadInputs(Inputs& out) {
  const auto& spec = obj_.spec;
  if (auto changed = ExecutorChangedMidRun()) {
    return changed;
  }
  auto url = r_.kube_.GetSecretValue(ns(), spec.url_secret_ref.name, spec.url_secret_ref.key);
  if (!url.ok()) {
    if (url.status().code() == Code::kNotFound) {
      return Problem{rs::kSecretNotFound,
                     "Secret " + ns() + "/" + spec.url_secret_ref.name + " with key " +
                         spec.url_secret_ref.key + " not found (" + url.status().message() +
                         "). Create it with the database URL under that key, or fix "
                         "spec.database.urlSecretRef.",
                     false, url.status()};
    }
    return KubeProblem(url.status(), "Reading Secret " + spec.url_secret_ref.name);
  }
  if (url.value().empty()) {
    return Problem{rs::kSecretNotFound,
                   "Key " + spec.url_secret_ref.key + " of Secret " + ns() + "/" +
                       spec.url_secret_ref.name + " is empty. Put the database URL under that key.",
                   false, Status(Code::kNotFound, "empty secret value")};
  }
  scrubber_.AddDatabaseUrl(url.value());

  std::string ca_pem;
  if (auto problem = ReadCaCertificate(ca_pem)) {
    return problem;
  }

  if (spec.executor == core::kExecutorJob) {
    if (auto problem = CheckJobEnvReferences()) {
      return problem;
    }
    // The tool in the Job's image holds the migrations (design §10).
    out.target.url = std::move(url).value();
    out.target.ca_certificate_pem = std::move(ca_pem);
    FillTarget(out.target);
    out.digest = JobInputsDigest();
    return std::nullopt;
  }
  auto files = r_.kube_.GetConfigMapData(ns(), spec.migrations_config_map);
  if (!files.ok()) {
    if (files.status().code() == Code::kNotFound) {
      return Problem{rs::kConfigMapNotFound,
                     "ConfigMap " + ns() + "/" + spec.migrations_config_map +
                         " with the migration files not found. Create it (one key per "
                         "migration file) or fix spec.migrations.configMapRef.name.",
                     false, files.status()};
    }
    return KubeProblem(files.status(), "Reading ConfigMap " + spec.migrations_config_map);
  }
  if (files.value().empty()) {
    return Problem{rs::kInvalidMigrations,
                   "ConfigMap " + ns() + "/" + spec.migrations_config_map +
                       " has no migration files. Add one key per migration file.",
                   false, Status(Code::kParseError, "empty ConfigMap")};
  }

  DatabaseTarget& t = out.target;
  t.url = std::move(url).value();
  t.ca_certificate_pem = std::move(ca_pem);
  t.migration_files.assign(files.value().begin(), files.value().end());  // std::map: sorted
  FillTarget(t);
  out.digest = core::DigestOf(t.migration_files);
  return std::nullopt;
}

// spec.database.caSecretRef, when set: `pem` (empty otherwise).
std::optional<Problem> Reconciler::Pass::ReadCaCertificate(std::string& pem) {
  const auto& ref = obj_.spec.ca_secret_ref;
  if (ref.name.empty()) {
    return std::nullopt;
  }
  auto ca = r_.kube_.GetSecretValue(ns(), ref.name, ref.key);
  if (!ca.ok() && ca.status().code() != Code::kNotFound) {
    return KubeProblem(ca.status(), "Reading Secret " + ref.name);
  }
  if (!ca.ok() || ca.value().empty()) {
    return Problem{rs::kSecretNotFound,
                   "Secret " + ns() + "/" + ref.name + " with key " + ref.key +
                       (ca.ok() ? " is empty" : " not found (" + ca.status().message() + ")") +
                       ". Put the database server's CA certificate (PEM) under that key, or "
                       "fix spec.database.caSecretRef.",
                   false, ca.ok() ? Status(Code::kNotFound, "empty secret value") : ca.status()};
  }
  pem = std::move(ca).value();
  return std::nullopt;
}

// Everything of the target that comes from the spec.
void Reconciler::Pass::FillTarget(DatabaseTarget& t) const {
  const auto& spec = obj_.spec;
  t.version_table = spec.version_table;
  t.version_layout = spec.version_layout;
  t.actor = r_.options_.actor_prefix + " " + ns() + "/" + obj_.metadata.name;
  t.owner_namespace = ns();
  t.owner_name = obj_.metadata.name;
  t.backup_when = core::BackupWhenOf(spec);
  t.verify_row_counts = core::PreserveRowCountsOf(spec);
  t.verify_schema = core::EnforceSchemaOf(spec);
  t.allow_row_loss = spec.verify_allow_row_loss;
  t.checks = spec.verify_checks;
  t.failure_policy = core::FailurePolicyOf(spec);
  if (!spec.lock_timeout.empty()) {
    if (auto d = core::ParseDuration(spec.lock_timeout); d.ok()) {
      t.lock_timeout = d.value();
    }
  }
  if (!spec.statement_timeout.empty()) {
    if (auto d = core::ParseDuration(spec.statement_timeout); d.ok()) {
      t.statement_timeout = d.value();
    }
  }
}

// Loads the inputs of a resumed run once per Pass.
std::optional<Problem> Reconciler::Pass::EnsureInputs() {
  if (inputs_) {
    return std::nullopt;
  }
  Inputs inputs;
  if (auto problem = LoadInputs(inputs)) {
    return problem;
  }
  inputs_ = std::move(inputs);
  return std::nullopt;
}

// -------------------------------------------------------------- problems

Problem Reconciler::Pass::KubeProblem(const Status& status, const std::string& what) const {
  return Problem{rs::kKubernetesError, what + " failed: " + status.message() + " (retrying)", true,
                 status};
}

Problem Reconciler::Pass::DatabaseProblem(const Status& status, const std::string& action) const {
  const std::string reason = core::ReasonForCode(status.code(), rs::kDatabaseError);
  const auto& spec = obj_.spec;
  std::string message;
  if (reason == rs::kUnknownRevision) {
    const core::ResolvedTargetStatus* pinned = PinnedTarget();
    message = "spec.targetRevision '" + spec.target_revision + "'" +
              (pinned != nullptr
                   ? " (resolved earlier to " + pinned->revision + ", status.resolvedTarget)"
                   : std::string()) +
              " cannot be resolved: " + status.message() +
              ". Set spec.targetRevision to a revision defined in ConfigMap " +
              spec.migrations_config_map + " (or head, base, +N, -N).";
  } else if (reason == rs::kInvalidMigrations) {
    message = "The migration files in ConfigMap " + spec.migrations_config_map +
              " are invalid: " + status.message() + ". Fix the files in the ConfigMap.";
  } else if (reason == rs::kChecksumMismatch) {
    message = status.message() +
              ". An already applied migration file was changed; restore its original text in "
              "ConfigMap " +
              spec.migrations_config_map + ".";
  } else if (reason == rs::kDatabaseUnreachable) {
    message = "Cannot connect to the database of Secret " + spec.url_secret_ref.name + " key " +
              spec.url_secret_ref.key + ": " + status.message() + ". Check the URL in the Secret" +
              (spec.ca_secret_ref.name.empty()
                   ? std::string()
                   : ", the CA in Secret " + spec.ca_secret_ref.name + " key " +
                         spec.ca_secret_ref.key + " (spec.database.caSecretRef)") +
              " and that the database accepts connections; retrying with backoff.";
  } else if (reason == rs::kLockHeld) {
    message = "Another migration run holds the database's migration lock: " + status.message() +
              ". Retrying with backoff.";
  } else if (reason == rs::kInvalidSpec) {
    // ValidateSpec passed, so the engine refused a setting that comes from
    // the Secret (URL, CA), the files, or the spec's meaning.
    message = action + " refused the database settings: " + status.message() +
              ". Fix what it names: the URL in Secret " + spec.url_secret_ref.name + " key " +
              spec.url_secret_ref.key +
              (spec.ca_secret_ref.name.empty()
                   ? std::string()
                   : ", the CA in Secret " + spec.ca_secret_ref.name + " key " +
                         spec.ca_secret_ref.key) +
              ", or the spec; a Secret is re-checked every minute.";
  } else if (reason == rs::kBackupFailed) {
    message = "Backup failed: " + status.message() +
              ". Check pg_dump and the backup volume, or set spec.backup.when: Never.";
  } else {
    message =
        action + " failed: " + status.message() + (IsTransient(status.code()) ? " (retrying)" : "");
  }
  return Problem{reason, std::move(message), IsTransient(status.code()), status};
}

}  // namespace schemaop::reconcile
