// kubectl-schemaop: the kubectl plugin (issue 9 item 6). kubectl finds an
// executable named kubectl-schemaop on PATH and runs it for
// `kubectl schemaop ...`, passing every argument through (its own flags
// such as -n are not parsed by kubectl for plugins), so the plugin reads
// --kubeconfig, --context and -n/--namespace itself, with $KUBECONFIG and the
// context's namespace as defaults, like kubectl.
//
// It reads and writes only the SchemaMigration (and, for `plan`, the
// migrations ConfigMap it names): what the controller published is shown,
// and approve / retry / abort are the spec field and annotations the
// controller acts on (docs/operations.md §3). Nothing here talks to the
// database.
#include "cmd/kubectl_plugin.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmd/command_registry.h"
#include "core/migration_file.h"
#include "kube/client.h"
#include "kube/config.h"

namespace schemaop::cmd {
namespace {

using kube::Json;

struct PluginOptions {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  std::string name;
};

// A string at `path` in `object`, or "" (missing or not a string).
std::string Str(const Json& object, std::initializer_list<const char*> path) {
  const Json* at = &object;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) {
      return "";
    }
    at = &(*at)[key];
  }
  if (at->is_string()) {
    return at->get<std::string>();
  }
  if (at->is_number() || at->is_boolean()) {
    return at->dump();
  }
  return "";
}

const Json* Condition(const Json& object, const std::string& type) {
  const Json* status = object.contains("status") ? &object["status"] : nullptr;
  if (status == nullptr || !status->contains("conditions") || !(*status)["conditions"].is_array()) {
    return nullptr;
  }
  for (const Json& c : (*status)["conditions"]) {
    if (c.value("type", "") == type) {
      return &c;
    }
  }
  return nullptr;
}

std::string NowRfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

class Plugin {
 public:
  Plugin(std::unique_ptr<kube::Client> client, PluginOptions options)
      : client_(std::move(client)), options_(std::move(options)) {
    if (options_.ns.empty()) {
      options_.ns = client_->default_namespace();
    }
  }

  int Status() {
    auto object = Get();
    if (!object) {
      return kExitFailed;
    }
    const Json& o = *object;
    std::cout << "SchemaMigration " << options_.ns << "/" << options_.name << "\n"
              << "  phase:    " << Or(Str(o, {"status", "phase"}), "(no status yet)") << "\n"
              << "  database: at " << Or(Str(o, {"status", "currentRevision"}), "?")
              << ", target " << Str(o, {"spec", "targetRevision"});
    if (const std::string resolved = Str(o, {"status", "targetRevision"}); !resolved.empty()) {
      std::cout << " (" << resolved << ")";
    }
    std::cout << "\n";
    if (Str(o, {"metadata", "generation"}) != Str(o, {"status", "observedGeneration"})) {
      std::cout << "  the controller has not seen the latest spec yet (generation "
                << Str(o, {"metadata", "generation"}) << ", observed "
                << Or(Str(o, {"status", "observedGeneration"}), "none") << ")\n";
    }
    for (const char* type : {"Ready", "Reconciling", "Stalled"}) {
      if (const Json* c = Condition(o, type)) {
        std::cout << "  " << type << "=" << c->value("status", "?") << " "
                  << c->value("reason", "") << ": " << c->value("message", "") << "\n";
      }
    }
    PrintProgress(o);
    PrintPlan(o, /*with_sql=*/false);
    PrintLastRun(o);
    PrintWorkloads(o);
    return 0;
  }

  int Plan() {
    auto object = Get();
    if (!object) {
      return kExitFailed;
    }
    if (!PrintPlan(*object, /*with_sql=*/true)) {
      std::cout << "No plan published: the database is at the target, or the controller has "
                   "not planned yet (`kubectl schemaop status "
                << options_.name << "`).\n";
    }
    return 0;
  }

  int Approve() {
    auto object = Get();
    if (!object) {
      return kExitFailed;
    }
    const std::string hash = Str(*object, {"status", "plan", "planHash"});
    if (Str(*object, {"spec", "approval"}) != "Manual") {
      std::cerr << "error: " << Name() << " has spec.approval "
                << Or(Str(*object, {"spec", "approval"}), "Automatic")
                << ": its runs need no approval (set spec.approval: Manual to review plans)\n";
      return kExitFailed;
    }
    if (hash.empty()) {
      std::cerr << "error: " << Name() << " publishes no plan to approve (status.plan.planHash "
                << "is empty); `kubectl schemaop status " << options_.name << "` shows why\n";
      return kExitFailed;
    }
    Json patch = {{"spec", {{"approvedPlanHash", hash}}}};
    if (!PatchObject(patch, "approve")) {
      return kExitFailed;
    }
    std::cout << Name() << ": approved plan " << hash << "\n";
    return 0;
  }

  // retry / abort: a new value of the annotation the controller acts on once.
  int Annotate(const std::string& annotation, const std::string& verb) {
    auto object = Get();
    if (!object) {
      return kExitFailed;
    }
    const std::string value = NowRfc3339();
    Json patch = {{"metadata", {{"annotations", {{annotation, value}}}}}};
    if (!PatchObject(patch, verb)) {
      return kExitFailed;
    }
    std::cout << Name() << ": " << annotation << "=" << value << " (" << verb
              << " requested; the controller records it in status.lastRun and an Event)\n";
    return 0;
  }

  int History() {
    auto object = Get();
    if (!object) {
      return kExitFailed;
    }
    if (!PrintLastRun(*object)) {
      std::cout << "No run recorded in status yet.\n";
    }
    std::cout << "Every run is in the database's schemaop.run_log: `schemaop history --database "
                 "URL` (docs/operations.md §2).\n";
    return 0;
  }

 private:
  std::string Name() const { return options_.ns + "/" + options_.name; }
  static std::string Or(const std::string& value, const std::string& fallback) {
    return value.empty() ? fallback : value;
  }

  std::optional<Json> Get() {
    auto object = client_->Get(kube::resources::kSchemaMigrations, options_.ns, options_.name);
    if (!object.ok()) {
      std::cerr << "error: reading SchemaMigration " << Name() << ": "
                << object.status().message() << "\n";
      return std::nullopt;
    }
    return std::move(object).value();
  }

  bool PatchObject(const Json& patch, const std::string& verb) {
    auto patched = client_->Patch(kube::resources::kSchemaMigrations, options_.ns, options_.name,
                                  kube::PatchType::kMerge, patch);
    if (!patched.ok()) {
      std::cerr << "error: " << verb << " " << Name() << ": " << patched.status().message()
                << "\n";
      return false;
    }
    return true;
  }

  void PrintProgress(const Json& o) {
    if (!o.contains("status") || !o["status"].contains("progress")) {
      return;
    }
    const Json& p = o["status"]["progress"];
    if (p.is_object() && p.contains("summary") && p["summary"].is_string()) {
      // status.progress (design §6.8): the Progress column, and how long.
      std::cout << "  progress: " << p["summary"].get<std::string>();
      if (p.contains("elapsedSeconds") && p["elapsedSeconds"].is_number_integer()) {
        std::cout << " (" << p["elapsedSeconds"].get<std::int64_t>() << "s)";
      }
      std::cout << "\n";
      return;
    }
    std::cout << "  progress: " << p.dump() << "\n";
  }

  // The published plan; with SQL, each step's sections from the ConfigMap
  // the spec names. False when there is none.
  bool PrintPlan(const Json& o, bool with_sql) {
    if (!o.contains("status") || !o["status"].contains("plan")) {
      return false;
    }
    const Json& plan = o["status"]["plan"];
    std::cout << "  plan:     " << Str(plan, {"direction"});
    if (const std::string hash = Str(plan, {"planHash"}); !hash.empty()) {
      std::cout << ", planHash " << hash;
    }
    std::cout << "\n";
    std::map<std::string, core::MigrationFile> files;
    if (with_sql) {
      files = MigrationFiles(o);
    }
    for (const Json& step : plan.value("steps", Json::array())) {
      const std::string revision = step.value("revision", "");
      const std::string direction = step.value("direction", "");
      std::cout << "    " << (direction == "downgrade" ? "-" : "+") << revision << "\n";
      if (!with_sql) {
        continue;
      }
      auto file = files.find(revision);
      if (file == files.end()) {
        std::cout << "      (not in the ConfigMap: a downgrade runs the copy archived in the "
                     "database; `schemaop plan --database URL` prints it)\n";
        continue;
      }
      const auto want = direction == "downgrade" ? core::Direction::kDown : core::Direction::kUp;
      for (const core::Section* section : file->second.SectionsFor(want)) {
        std::cout << section->sql;
        if (!section->sql.empty() && section->sql.back() != '\n') {
          std::cout << "\n";
        }
      }
    }
    return true;
  }

  std::map<std::string, core::MigrationFile> MigrationFiles(const Json& o) {
    std::map<std::string, core::MigrationFile> files;
    const std::string config_map = Str(o, {"spec", "migrations", "configMapRef", "name"});
    auto cm = client_->Get(kube::resources::kConfigMaps, options_.ns, config_map);
    if (!cm.ok()) {
      std::cerr << "warning: reading ConfigMap " << options_.ns << "/" << config_map << ": "
                << cm.status().message() << "\n";
      return files;
    }
    const Json data = cm.value().value("data", Json::object());
    for (auto entry = data.begin(); entry != data.end(); ++entry) {
      if (!entry.value().is_string()) {
        continue;
      }
      auto parsed = core::ParseMigrationFile(entry.value().get<std::string>(), entry.key());
      if (parsed.ok()) {
        files[parsed.value().revision] = std::move(parsed).value();
      }
    }
    return files;
  }

  bool PrintLastRun(const Json& o) {
    if (!o.contains("status") || !o["status"].contains("lastRun")) {
      return false;
    }
    const Json& run = o["status"]["lastRun"];
    std::cout << "  last run: " << Str(run, {"from"}) << " -> " << Str(run, {"to"}) << " "
              << Str(run, {"outcome"});
    if (const std::string reason = Str(run, {"reason"}); !reason.empty()) {
      std::cout << " (" << reason << ")";
    }
    std::cout << ", finished " << Str(run, {"finishTime"}) << ", write-downtime "
              << Or(Str(run, {"downtimeSeconds"}), "0") << " s\n";
    if (const std::string message = Str(run, {"message"}); !message.empty()) {
      std::cout << "            " << message << "\n";
    }
    return true;
  }

  void PrintWorkloads(const Json& o) {
    if (!o.contains("status") || !o["status"].contains("workloads")) {
      return;
    }
    for (const Json& w : o["status"]["workloads"]) {
      std::cout << "  workload: " << Str(w, {"kind"}) << "/" << Str(w, {"name"});
      if (w.contains("originalSuspend")) {  // a CronJob (design §6.8)
        std::cout << ", recorded suspend " << Str(w, {"originalSuspend"}) << "\n";
      } else {
        std::cout << ", recorded replicas " << Or(Str(w, {"originalReplicas"}), "?") << "\n";
      }
    }
  }

  std::unique_ptr<kube::Client> client_;
  PluginOptions options_;
};

}  // namespace

int RunKubectlPlugin(int argc, char** argv) {
  CLI::App app{"kubectl schemaop: look at and steer SchemaMigrations (schemaop.dev)"};
  app.require_subcommand(1);
  PluginOptions options;
  app.add_option("--kubeconfig", options.kubeconfig, "kubeconfig file (default: $KUBECONFIG)");
  app.add_option("--context", options.context, "kubeconfig context (default: current)");
  app.add_option("-n,--namespace", options.ns, "namespace (default: the context's)");
  app.fallthrough();
  struct Command {
    const char* name;
    const char* help;
  };
  const std::vector<Command> commands = {
      {"status", "phase, revisions, conditions, progress, plan, last run and workloads"},
      {"plan", "the published plan with the SQL of each step"},
      {"approve", "set spec.approvedPlanHash to the published status.plan.planHash"},
      {"retry", "retry a failed run (annotation schemaop.dev/retry)"},
      {"abort", "cancel the run in progress safely (annotation schemaop.dev/abort)"},
      {"history", "the last run from status (every run: schemaop history --database URL)"}};
  std::map<std::string, CLI::App*> subcommands;
  for (const Command& command : commands) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    sub->add_option("NAME", options.name, "the SchemaMigration")->required();
    subcommands[command.name] = sub;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  auto config = kube::LoadKubeconfig(options.kubeconfig, options.context);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return kExitFailed;
  }
  auto client = kube::Client::Create(std::move(config).value());
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return kExitFailed;
  }
  Plugin plugin(std::move(client).value(), options);
  if (subcommands["status"]->parsed()) return plugin.Status();
  if (subcommands["plan"]->parsed()) return plugin.Plan();
  if (subcommands["approve"]->parsed()) return plugin.Approve();
  if (subcommands["retry"]->parsed()) return plugin.Annotate("schemaop.dev/retry", "retry");
  if (subcommands["abort"]->parsed()) return plugin.Annotate("schemaop.dev/abort", "abort");
  return plugin.History();
}

}  // namespace schemaop::cmd
