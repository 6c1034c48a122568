#include "core/job_spec.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <tuple>

#include "core/schema_migration.h"  // DigestOf

namespace schemaop::core {
namespace {

using Errors = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kMaxJobNameLength = 63;

std::string Quote(std::string_view text) {
  std::string cut(text.substr(0, 80));
  return "\"" + cut + (text.size() > 80 ? "...\"" : "\"");
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsDnsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 subdomain, as Kubernetes names ServiceAccounts.
bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || !IsDnsLabelChar(label.front()) ||
        !IsDnsLabelChar(label.back()) || !std::all_of(label.begin(), label.end(), [](char c) {
          return IsDnsLabelChar(c) || c == '-';
        })) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

bool IsRevisionToken(std::string_view rev) {
  return !rev.empty() && rev.size() <= 32 && std::all_of(rev.begin(), rev.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsKnownVerb(std::string_view verb) {
  return std::any_of(std::begin(kJobVerbs), std::end(kJobVerbs),
                     [&](const char* v) { return verb == v; });
}

// A '$' starts a placeholder: $FROM or $TARGET, nothing else. "$(" is
// Kubernetes' own expansion of the container's environment in args: it
// would put $(DATABASE_URL) into the process's argv (design §10.2).
std::optional<std::string> ArgProblem(std::string_view arg) {
  if (arg.size() > kMaxArgBytes) {
    return "longer than " + std::to_string(kMaxArgBytes) + " bytes";
  }
  if (HasControl(arg)) {
    return "contains a control character";
  }
  for (std::size_t at = arg.find('$'); at != std::string_view::npos; at = arg.find('$', at + 1)) {
    const std::string_view rest = arg.substr(at);
    if (rest.rfind("$(", 0) == 0) {
      return "contains \"$(\": Kubernetes would expand $(VAR) from the container's environment "
             "into the argument (e.g. the database URL into argv); read the URL from the "
             "environment variable inside the tool instead";
    }
    if (rest.rfind(kPlaceholderFrom, 0) == 0 || rest.rfind(kPlaceholderTarget, 0) == 0) {
      continue;
    }
    if (rest.size() > 1 && ((rest[1] >= 'A' && rest[1] <= 'Z') || rest[1] == '{')) {
      return "unknown placeholder in " + Quote(arg) + ": only $FROM and $TARGET are expanded";
    }
  }
  return std::nullopt;
}

void CheckCommand(const std::string& path, std::string_view verb,
                  const std::vector<std::string>& command, Errors& errors) {
  if (command.empty() || command.size() > kMaxCommandArgs) {
    errors.emplace_back(path, "must have 1 to " + std::to_string(kMaxCommandArgs) +
                                  " arguments (the argv of the tool, no shell)");
    return;
  }
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (auto problem = ArgProblem(command[i])) {
      errors.emplace_back(path + "[" + std::to_string(i) + "]", *problem);
    }
  }
  const bool needs_target = verb != kVerbHeads;
  const bool has_target = std::any_of(command.begin(), command.end(), [](const std::string& a) {
    return a.find(kPlaceholderTarget) != std::string::npos;
  });
  if (needs_target && !has_target) {
    errors.emplace_back(path, "must contain $TARGET (the revision to migrate to)");
  }
}

// A Kubernetes quantity as a container's resources take it (unsigned):
// digits with an optional fraction ("1.5", ".5", "5."), then a binary or
// decimal suffix ("256Mi", "500m", "2G") or a decimal exponent ("1e3").
bool IsQuantity(std::string_view text) {
  static const char* const kSuffixes[] = {"",  "m",  "k",  "M",  "G",  "T",  "P",
                                          "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  const auto digits = [&text](std::size_t& i) {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
    }
    return i - start;
  };
  if (text.empty() || text.size() > 32) {
    return false;
  }
  std::size_t i = 0;
  std::size_t mantissa = digits(i);
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits(i);
  }
  if (mantissa == 0) {
    return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E') && i + 1 < text.size()) {
    std::size_t j = i + 1;
    if (text[j] == '+' || text[j] == '-') {
      ++j;
    }
    if (digits(j) > 0 && j == text.size()) {
      return true;
    }
  }
  const std::string_view suffix = text.substr(i);
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes),
                     [&](const char* s) { return suffix == s; });
}

// spec.job.env, envFrom and resources. Invariant (design §10.2, §10.9):
// the database's URL reaches the container only as urlEnv, so no entry
// may reference the URL's Secret, set urlEnv or PGAPPNAME.
void CheckJobPod(const JobSpec& job, std::string_view url_secret_name, Errors& errors) {
  const std::string url_secret_rule =
      "may not reference the database URL's Secret " + Quote(std::string(url_secret_name)) +
      ": the operator gives the URL only as spec.job.urlEnv (a rehearsal gives the copy's); put "
      "the application's other settings in another Secret or ConfigMap";
  std::set<std::string> names;
  for (std::size_t i = 0; i < job.env.size(); ++i) {
    const JobEnvVar& var = job.env[i];
    const std::string path = "spec.job.env[" + std::to_string(i) + "]";
    if (!IsEnvName(var.name)) {
      errors.emplace_back(path + ".name", "invalid environment variable name " +
                                              Quote(var.name) + ": use [A-Za-z_][A-Za-z0-9_]*");
    } else if (var.name == job.url_env || var.name == "PGAPPNAME") {
      errors.emplace_back(path + ".name", Quote(var.name) +
                                              " is set by the operator (the URL, or the Job's "
                                              "name by which it finds the tool's sessions)");
    } else if (!names.insert(var.name).second) {
      errors.emplace_back(path + ".name", "duplicate name " + Quote(var.name));
    }
    const int sources = (var.secret_name.empty() ? 0 : 1) + (var.config_map_name.empty() ? 0 : 1);
    if (sources > 1 || (sources == 1 && !var.value.empty())) {
      errors.emplace_back(path, "set one of value, valueFrom.secretKeyRef, "
                                "valueFrom.configMapKeyRef");
    } else if (sources == 1 && (var.key.empty() || HasControl(var.key) || var.key.size() > 253)) {
      errors.emplace_back(path + ".valueFrom", "needs the key to read (at most 253 characters)");
    } else if (var.value.size() > 4096 || HasControl(var.value)) {
      errors.emplace_back(path + ".value", "at most 4096 characters, no control characters");
    }
    for (const std::string* ref : {&var.secret_name, &var.config_map_name}) {
      if (!ref->empty() && !IsDnsName(*ref)) {
        errors.emplace_back(path + ".valueFrom",
                            "invalid name " + Quote(*ref) + ": must be a DNS subdomain");
      }
    }
    if (!url_secret_name.empty() && var.secret_name == url_secret_name) {
      errors.emplace_back(path + ".valueFrom.secretKeyRef.name", url_secret_rule);
    }
  }
  for (std::size_t i = 0; i < job.env_from.size(); ++i) {
    const JobEnvFrom& from = job.env_from[i];
    const std::string path = "spec.job.envFrom[" + std::to_string(i) + "]";
    const std::string& name = from.secret_name.empty() ? from.config_map_name : from.secret_name;
    if (from.secret_name.empty() == from.config_map_name.empty()) {
      errors.emplace_back(path, "set one of configMapRef, secretRef");
    } else if (!IsDnsName(name)) {
      errors.emplace_back(path, "invalid name " + Quote(name) + ": must be a DNS subdomain");
    } else if (!url_secret_name.empty() && from.secret_name == url_secret_name) {
      errors.emplace_back(path + ".secretRef.name", url_secret_rule);
    }
  }
  for (const auto* resources : {&job.resource_requests, &job.resource_limits}) {
    const std::string path = std::string("spec.job.resources.") +
                             (resources == &job.resource_requests ? "requests" : "limits");
    for (const auto& [resource, quantity] : *resources) {
      if (resource != "cpu" && resource != "memory" && resource != "ephemeral-storage") {
        errors.emplace_back(path + "." + resource,
                            "unsupported resource: use cpu, memory or ephemeral-storage");
      } else if (!IsQuantity(quantity)) {
        errors.emplace_back(path + "." + resource, "invalid quantity " + Quote(quantity) +
                                                       ": use e.g. 500m, 2, 256Mi, 1Gi");
      }
    }
  }
}

void CheckJob(const JobSpec& job, Errors& errors) {
  const bool generic = job.preset == kPresetGeneric;
  if (job.preset != kPresetAlembic && !generic) {
    errors.emplace_back("spec.job.preset",
                        "unsupported value " + Quote(job.preset) + ": use Alembic or Generic");
  }
  if (job.image.empty()) {
    errors.emplace_back("spec.job.image", "required (the application image that holds the tool)");
  } else if (job.image.size() > 512 || !std::all_of(job.image.begin(), job.image.end(),
                                                    [](char c) { return c >= '!' && c <= '~'; })) {
    errors.emplace_back("spec.job.image", "invalid image " + Quote(job.image) +
                                              ": at most 512 printable ASCII characters, no "
                                              "spaces (e.g. registry.example/app:1.4.2)");
  }
  if (!IsEnvName(job.url_env)) {
    errors.emplace_back("spec.job.urlEnv", "invalid environment variable name " +
                                               Quote(job.url_env) + ": use [A-Za-z_][A-Za-z0-9_]*");
  } else if (job.url_env == "PGAPPNAME") {
    errors.emplace_back("spec.job.urlEnv",
                        "PGAPPNAME is set by the operator (the Job's name, by which it finds "
                        "the tool's sessions): use another name, e.g. DATABASE_URL");
  }
  if (!job.working_dir.empty() && (job.working_dir.front() != '/' || HasControl(job.working_dir) ||
                                   job.working_dir.size() > 4096)) {
    errors.emplace_back("spec.job.workingDir",
                        "invalid path " + Quote(job.working_dir) + ": must be absolute");
  }
  if (!job.service_account_name.empty() && !IsDnsName(job.service_account_name)) {
    errors.emplace_back(
        "spec.job.serviceAccountName",
        "invalid name " + Quote(job.service_account_name) + ": must be a DNS subdomain");
  }
  if (job.ttl_seconds_after_finished < kMinJobTtlSeconds ||
      job.ttl_seconds_after_finished > kMaxJobTtlSeconds) {
    errors.emplace_back("spec.job.ttlSecondsAfterFinished",
                        "must be between " + std::to_string(kMinJobTtlSeconds) + " and " +
                            std::to_string(kMaxJobTtlSeconds) +
                            " (the operator reads a finished Job and its log before the cluster "
                            "deletes it), got " +
                            std::to_string(job.ttl_seconds_after_finished));
  }
  if (job.active_deadline_seconds < 1 || job.active_deadline_seconds > kMaxJobDeadlineSeconds) {
    errors.emplace_back("spec.job.activeDeadlineSeconds",
                        "must be between 1 and " + std::to_string(kMaxJobDeadlineSeconds) +
                            ", got " + std::to_string(job.active_deadline_seconds));
  }
  for (const auto& [verb, command] : job.commands) {
    const std::string path = "spec.job.commands." + verb;
    if (!IsKnownVerb(verb)) {
      errors.emplace_back(path,
                          "unknown command: use upgrade, downgrade, upgradeSql, "
                          "downgradeSql, heads or history");
      continue;
    }
    CheckCommand(path, verb, command, errors);
  }
  if (generic) {
    for (const char* verb : {kVerbUpgrade, kVerbDowngrade}) {
      if (job.commands.count(verb) == 0) {
        errors.emplace_back(std::string("spec.job.commands.") + verb,
                            "required with preset Generic (the tool's command line, with $TARGET)");
      }
    }
  }
}

}  // namespace

bool JobEnvVar::operator==(const JobEnvVar& o) const {
  return std::tie(name, value, secret_name, config_map_name, key) ==
         std::tie(o.name, o.value, o.secret_name, o.config_map_name, o.key);
}

bool JobEnvFrom::operator==(const JobEnvFrom& o) const {
  return std::tie(config_map_name, secret_name) == std::tie(o.config_map_name, o.secret_name);
}

bool JobSpec::operator==(const JobSpec& o) const {
  return std::tie(preset, image, url_env, working_dir, service_account_name,
                  ttl_seconds_after_finished, active_deadline_seconds, env, env_from,
                  resource_requests, resource_limits, commands) ==
         std::tie(o.preset, o.image, o.url_env, o.working_dir, o.service_account_name,
                  o.ttl_seconds_after_finished, o.active_deadline_seconds, o.env, o.env_from,
                  o.resource_requests, o.resource_limits, o.commands);
}

std::vector<std::string> PresetCommand(std::string_view preset, std::string_view verb) {
  if (preset != kPresetAlembic) {
    return {};
  }
  if (verb == kVerbUpgrade) {
    return {"alembic", "upgrade", kPlaceholderTarget};
  }
  if (verb == kVerbDowngrade) {
    return {"alembic", "downgrade", kPlaceholderTarget};
  }
  if (verb == kVerbUpgradeSql) {
    return {"alembic", "upgrade", std::string(kPlaceholderFrom) + ":" + kPlaceholderTarget,
            "--sql"};
  }
  if (verb == kVerbDowngradeSql) {
    return {"alembic", "downgrade", std::string(kPlaceholderFrom) + ":" + kPlaceholderTarget,
            "--sql"};
  }
  if (verb == kVerbHeads) {
    return {"alembic", "heads"};
  }
  if (verb == kVerbHistory) {
    return {"alembic", "history", "-r",
            std::string(kPlaceholderFrom) + ":" + kPlaceholderTarget};
  }
  return {};
}

std::vector<std::string> CommandFor(const JobSpec& job, std::string_view verb) {
  if (auto it = job.commands.find(std::string(verb)); it != job.commands.end()) {
    return it->second;
  }
  return PresetCommand(job.preset, verb);
}

std::vector<std::pair<std::string, std::string>> CheckExecutor(std::string_view executor,
                                                               const std::optional<JobSpec>& job,
                                                               std::string_view url_secret_name) {
  Errors errors;
  if (executor == kExecutorJob) {
    if (!job) {
      errors.emplace_back("spec.job", "required with executor Job (the image and the tool)");
    } else {
      CheckJob(*job, errors);
      CheckJobPod(*job, url_secret_name, errors);
    }
  } else if (executor == kExecutorFiles) {
    if (job) {
      errors.emplace_back("spec.job",
                          "only used with executor Job: set spec.executor: Job, or "
                          "remove spec.job");
    }
  } else {
    errors.emplace_back("spec.executor",
                        "unsupported value " + Quote(executor) + ": use Files or Job");
  }
  return errors;
}

std::vector<std::pair<std::string, std::string>> CheckJobRunSpec(std::string_view executor,
                                                                 std::string_view target_revision,
                                                                 std::string_view backup_when) {
  Errors errors;
  if (executor != kExecutorJob) {
    return errors;
  }
  if (!IsRevisionToken(target_revision) || target_revision == "heads" ||
      target_revision == "base") {
    errors.emplace_back("spec.targetRevision",
                        "with executor Job this must be head or one revision id of the tool "
                        "([A-Za-z0-9_], at most 32 characters), got " + Quote(target_revision) +
                            ": heads, base and relative targets are not resolved for a Job; "
                            "write head or the revision id (e.g. from `alembic heads`)");
  }
  if (backup_when == "Never") {
    errors.emplace_back("spec.backup.when",
                        "Never is refused with executor Job: the tool commits on its own, so "
                        "the backup is the last way back after a failed or lossy Job; use "
                        "Downgrade or Always (with Job both back up before every run)");
  }
  return errors;
}

Result<std::string> ParseHeads(std::string_view output) {
  std::vector<std::string> heads;
  std::size_t start = 0;
  while (start <= output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string_view::npos) {
      end = output.size();
    }
    std::string_view line = output.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    // "<id>" or "<id> (<note>)", e.g. Alembic's "seed_default_schemas (head)".
    const std::size_t space = line.find(' ');
    const std::string_view id = line.substr(0, space);
    if (!IsRevisionToken(id)) {
      continue;
    }
    if (space != std::string_view::npos) {
      std::string_view rest = line.substr(space);
      while (!rest.empty() && rest.front() == ' ') {
        rest.remove_prefix(1);
      }
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        continue;
      }
    }
    if (std::find(heads.begin(), heads.end(), id) == heads.end()) {
      heads.emplace_back(id);
    }
  }
  if (heads.empty()) {
    return Status(Code::kInvalidArgument,
                  "no head revision in the output (expected a line \"<revision id>\" or "
                  "\"<revision id> (head)\")");
  }
  if (heads.size() > 1) {
    std::string list;
    for (const std::string& h : heads) {
      list += (list.empty() ? "" : ", ") + h;
    }
    return Status(Code::kInvalidArgument,
                  "the tool has several heads (" + list +
                      "): set spec.targetRevision to one of them, or merge them in the tool");
  }
  return heads.front();
}

Result<std::vector<std::string>> ExpandCommand(const std::vector<std::string>& command,
                                               std::string_view from, std::string_view target) {
  for (std::string_view rev : {from, target}) {
    if (!IsRevisionToken(rev)) {
      return Status(Code::kInvalidArgument,
                    "the Job executor takes one revision id ([A-Za-z0-9_], at most 32 "
                    "characters), base or head; got " +
                        Quote(rev));
    }
  }
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const std::string& arg : command) {
    std::string expanded;
    for (std::size_t i = 0; i < arg.size();) {
      const std::string_view rest = std::string_view(arg).substr(i);
      if (rest.rfind(kPlaceholderFrom, 0) == 0) {
        expanded += from;
        i += std::string_view(kPlaceholderFrom).size();
      } else if (rest.rfind(kPlaceholderTarget, 0) == 0) {
        expanded += target;
        i += std::string_view(kPlaceholderTarget).size();
      } else {
        expanded += arg[i++];
      }
    }
    out.push_back(std::move(expanded));
  }
  return out;
}

std::string JobName(std::string_view owner, std::string_view verb, std::string_view run_key) {
  std::string part = "job";
  if (verb == kVerbUpgrade) {
    part = "up";
  } else if (verb == kVerbDowngrade) {
    part = "down";
  } else if (verb == kVerbUpgradeSql) {
    part = "plan-up";
  } else if (verb == kVerbDowngradeSql) {
    part = "plan-down";
  } else if (verb == kVerbHeads) {
    part = "heads";
  } else if (verb == kVerbHistory) {
    part = "history";
  } else if (verb == kScratchUrlSecret) {
    part = "scratch-url";
  }
  const std::string hash =
      DigestOf({{"run", std::string(run_key)}, {"verb", std::string(verb)}}).substr(0, 10);
  const std::string suffix = "-" + part + "-" + hash;
  std::string head(owner.substr(0, kMaxJobNameLength - suffix.size()));
  while (!head.empty() && (head.back() == '-' || head.back() == '.')) {
    head.pop_back();
  }
  return (head.empty() ? "schemaop" : head) + suffix;
}

}  // namespace schemaop::core
