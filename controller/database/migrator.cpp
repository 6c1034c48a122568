#include "database/migrator.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/database_url.h"
#include "core/sql_splitter.h"
#include "database/backup_files.h"
#include "database/pg_session.h"
#include "database/process.h"
#include "database/row_guard.h"
#include "database/schema_fingerprint.h"

namespace schemaop::database {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;

constexpr const char* kSchema = "schemaop";

// A fixed advisory-lock key shared by every schemaop process: FNV-1a of
// "schemaop". Advisory locks are per database, so one key serializes runs on
// one database without affecting others.
constexpr std::int64_t LockKey() {
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : std::string_view("schemaop")) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(hash);
}

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == ',') {
      if (!current.empty()) {
        out.push_back(current);
      }
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) {
    out.push_back(current);
  }
  return out;
}

std::string VersionsText(const std::vector<std::string>& versions) {
  return versions.empty() ? "base" : Join(versions, ", ");
}

const char* DirectionWord(core::Direction direction) {
  return direction == core::Direction::kUp ? "upgrade" : "downgrade";
}

core::Direction Invert(core::Direction direction) {
  return direction == core::Direction::kUp ? core::Direction::kDown : core::Direction::kUp;
}

std::string PlanDirection(const core::Plan& plan) {
  if (plan.HasUpgrade() && plan.HasDowngrade()) {
    return "mixed";
  }
  return plan.HasDowngrade() ? "downgrade" : "upgrade";
}

json StepsToJson(const std::vector<core::PlanStep>& steps) {
  json out = json::array();
  for (const auto& step : steps) {
    out.push_back({{"revision", step.revision},
                   {"direction", step.direction == core::Direction::kUp ? "up" : "down"},
                   {"versions_after", step.versions_after}});
  }
  return out;
}

std::vector<core::PlanStep> StepsFromJson(const json& steps) {
  std::vector<core::PlanStep> out;
  for (const auto& item : steps) {
    core::PlanStep step;
    step.revision = item.at("revision").get<std::string>();
    step.direction =
        item.at("direction").get<std::string>() == "up" ? core::Direction::kUp : core::Direction::kDown;
    step.versions_after = item.at("versions_after").get<std::vector<std::string>>();
    out.push_back(std::move(step));
  }
  return out;
}

json CountsToJson(const std::vector<internal::RelationRows>& counts) {
  json out = json::array();
  for (const auto& rel : counts) {
    out.push_back({{"oid", rel.oid},
                   {"schema", rel.schema},
                   {"name", rel.name},
                   {"rows", rel.rows},
                   {"root_oid", rel.root_oid},
                   {"root_schema", rel.root_schema},
                   {"root_name", rel.root_name}});
  }
  return out;
}

// Also reads the name-keyed object of runs recorded before counts were kept
// per OID: those get small made-up OIDs (below any user relation's), so
// they match the live relations by name only.
std::vector<internal::RelationRows> CountsFromJson(const json& counts) {
  std::vector<internal::RelationRows> out;
  if (counts.is_object()) {
    std::uint32_t made_up = 1;
    for (const auto& [qualified, rows] : counts.items()) {
      internal::RelationRows rel;
      auto dot = qualified.find('.');
      rel.schema = qualified.substr(0, dot);
      rel.name = dot == std::string::npos ? qualified : qualified.substr(dot + 1);
      rel.oid = rel.root_oid = made_up++;
      rel.root_schema = rel.schema;
      rel.root_name = rel.name;
      rel.rows = rows.get<std::int64_t>();
      out.push_back(std::move(rel));
    }
    return out;
  }
  for (const auto& item : counts) {
    internal::RelationRows rel;
    rel.oid = item.at("oid").get<std::uint32_t>();
    rel.schema = item.at("schema").get<std::string>();
    rel.name = item.at("name").get<std::string>();
    rel.rows = item.at("rows").get<std::int64_t>();
    rel.root_oid = item.at("root_oid").get<std::uint32_t>();
    rel.root_schema = item.at("root_schema").get<std::string>();
    rel.root_name = item.at("root_name").get<std::string>();
    out.push_back(std::move(rel));
  }
  return out;
}

// A run interrupted before its first commit took no effect; its key is
// renamed so the same run may execute again, at most this many times in all.
constexpr int kMaxInterruptedAttempts = 3;
constexpr const char* kInterruptedSuffix = "#interrupted-";

// Where execution stands: the next unit to run. Every committed transaction
// stores the cursor it leaves behind, so a crash resumes exactly there.
struct Cursor {
  int step = 0;
  int section = 0;
  int statement = 0;
  bool AtStart() const { return step == 0 && section == 0 && statement == 0; }
};

std::string UtcTimestampForFile() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%S", &tm);
  char full[48];
  std::snprintf(full, sizeof full, "%s%03lldZ", buffer, static_cast<long long>(millis));
  return full;
}

std::string UtcTimestampRfc3339() {
  std::time_t seconds = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

core::Result<std::string> Sha256OfFile(const std::string& path, std::uintmax_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(Code::kBackupFailed, "cannot read " + path);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buffer[1 << 16];
  *bytes = 0;
  while (in) {
    in.read(buffer, sizeof buffer);
    std::streamsize n = in.gcount();
    if (n > 0) {
      EVP_DigestUpdate(ctx, buffer, static_cast<std::size_t>(n));
      *bytes += static_cast<std::uintmax_t>(n);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool IsValidTableName(const std::string& name) {
  static const std::regex kPattern("^[a-z_][a-z0-9_]{0,62}$");
  return std::regex_match(name, kPattern);
}

// The index name of `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name`,
// or empty when `sql` is not such a statement.
std::string ConcurrentIndexName(const std::string& sql) {
  static const std::regex kPattern(
      R"re(^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+("([^"]+)"|([A-Za-z_][A-Za-z0-9_$]*)))re",
      std::regex::icase);
  std::smatch match;
  if (!std::regex_search(sql, match, kPattern)) {
    return {};
  }
  if (match[3].matched) {
    return match[3].str();
  }
  std::string name = match[4].str();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// Thrown inside a migration transaction when the advisory lock's session is
// gone: another run may hold the lock by now, so nothing may be committed and
// nothing undone; the next run's recovery finishes the job.
class LockLostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `sql` ended so that psql runs it as written and the next line starts a new
// statement: a section may omit its final semicolon (it runs alone through
// libpq), and a statement may end in a `--` comment that would swallow a
// semicolon appended on the same line. An extra `;` is an empty statement.
std::string TerminatedSql(const std::string& sql) {
  std::size_t end = sql.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) {
    return "";
  }
  std::string text = sql.substr(0, end + 1);
  if (text.back() == ';') {
    return text + "\n";
  }
  std::size_t line_start = text.rfind('\n');
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  bool comment_on_last_line = text.find("--", line_start) != std::string::npos;
  return text + (comment_on_last_line ? "\n;\n" : ";\n");
}

struct ArchiveRow {
  std::vector<std::string> down_revisions;
  std::string file_name;
  std::string text;
  std::string sha256;
  std::string applied_at;
};

}  // namespace

const char* RunOutcomeName(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kNothingToDo:
      return "nothing-to-do";
    case RunOutcome::kSucceeded:
      return "succeeded";
    case RunOutcome::kRolledBack:
      return "rolled-back";
    case RunOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

struct Migrator::Impl {
  internal::ConnInfo info;
  MigratorOptions options;
  std::unique_ptr<internal::Session> session;
  std::unique_ptr<internal::Session> lock_session;
  int lock_backend_pid = 0;  // server pid of lock_session, checked before commits
  std::vector<core::MigrationFile> files;
  core::RevisionGraph graph;
  std::map<std::string, core::MigrationFile> archived_files;  // parsed archive copies
  std::chrono::nanoseconds sql_time{0};

  // Everything one execution pass needs and leaves behind.
  struct ExecContext {
    std::int64_t run_id = 0;
    std::string phase;  // "forward" or "undo"
    json progress_extra = json::object();
    std::vector<core::PlanStep> steps;
    bool verify = false;
    std::vector<internal::RelationRows> counts_before;
    std::set<std::string> row_loss_allowed;
    std::string final_outcome = "succeeded";
    std::string final_error;
    std::string final_error_code;  // core::CodeName of the failure, for replays
    Cursor committed;  // the last cursor that was committed
    bool any_commit = false;
  };

  // ---- small helpers --------------------------------------------------

  void Emit(const std::string& phase, const std::string& message, int step_index = -1,
            const std::string& revision = {}, core::Direction direction = core::Direction::kUp,
            int section_index = -1, int statement_index = -1) const {
    if (!options.on_progress) {
      return;
    }
    ProgressEvent event;
    event.phase = phase;
    core::SecretScrubber scrubber;
    for (const auto& [key, value] : info.params) {
      if (internal::IsSecretParameter(key)) {
        scrubber.AddSecret(value);
      }
    }
    event.message = scrubber.Scrub(message);
    event.step_index = step_index;
    event.revision = revision;
    event.direction = direction;
    event.section_index = section_index;
    event.statement_index = statement_index;
    options.on_progress(event);
  }

  // The migration session after a lost connection is dead for good
  // (reactivation is inhibited, so a reconnect never happens behind a
  // transaction's back). Between operations a fresh session is safe: it
  // carries no state but the settings Session::Open applies.
  Status EnsureSession() {
    if (session && session->conn().is_open()) {
      return Status::Ok();
    }
    auto reopened = internal::Session::Open(
        info, internal::SessionSettings{options.lock_timeout, options.statement_timeout});
    if (!reopened.ok()) {
      return reopened.status();
    }
    session = std::move(reopened).value();
    return Status::Ok();
  }

  // The returned status carries no row values (WithoutRowValues); the
  // server's whole message, scrubbed of the password, goes only to a
  // "server-error" progress event, which the controller logs at debug level.
  Status FromException(const std::exception& error, const std::string& context,
                       Code code = Code::kMigrationFailed) const {
    if (dynamic_cast<const pqxx::sql_error*>(&error) != nullptr) {
      Emit("server-error", context + ": " + error.what());
    }
    return internal::StatusFromException(error, context, info.password, code);
  }

  std::string VersionTable() const { return options.version_table; }

  const core::MigrationFile* GivenFile(const std::string& revision) const {
    for (const auto& file : files) {
      if (file.revision == revision) {
        return &file;
      }
    }
    return nullptr;
  }

  static bool TableExists(pqxx::transaction_base& tx, const std::string& name) {
    return !tx.exec_params1("SELECT to_regclass($1) IS NULL", name)[0].as<bool>();
  }

  // ---- schema and reads ----------------------------------------------

  Status EnsureSchema() {
    // Managed PostgreSQL: what the role lacks is named with its GRANT.
    if (Status allowed = internal::CheckBookkeepingPrivileges(session->conn(), VersionTable());
        !allowed.ok()) {
      return allowed;
    }
    try {
      pqxx::work tx(session->conn());
      tx.exec(std::string("CREATE SCHEMA IF NOT EXISTS ") + kSchema);
      tx.exec(std::string("CREATE TABLE IF NOT EXISTS ") + kSchema +
              ".revision_archive ("
              "revision varchar(32) PRIMARY KEY, "
              "down_revisions text[] NOT NULL, "
              "file_name text NOT NULL, "
              "file_text text NOT NULL, "
              "sha256 char(64) NOT NULL, "
              "applied_at timestamptz NOT NULL DEFAULT now())");
      tx.exec(std::string("CREATE TABLE IF NOT EXISTS ") + kSchema +
              ".run_log ("
              "id bigserial PRIMARY KEY, "
              "from_versions text[] NOT NULL, "
              "to_versions text[] NOT NULL, "
              "direction text NOT NULL, "
              "actor text NOT NULL, "
              "started_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
              "finished_at timestamptz, "
              "outcome text NOT NULL CHECK (outcome IN "
              "('running', 'succeeded', 'failed', 'rolled_back')), "
              "error text, "
              "plan jsonb NOT NULL DEFAULT '{}', "
              "progress jsonb NOT NULL DEFAULT '{}')");
      // Exactly once: the operator's run identity, and the failure's code so
      // a replayed outcome keeps its reason.
      tx.exec(std::string("ALTER TABLE ") + kSchema +
              ".run_log ADD COLUMN IF NOT EXISTS run_key text, "
              "ADD COLUMN IF NOT EXISTS error_code text");
      tx.exec(std::string("CREATE UNIQUE INDEX IF NOT EXISTS run_log_run_key ON ") + kSchema +
              ".run_log (run_key) WHERE run_key IS NOT NULL");
      tx.exec(std::string("CREATE TABLE IF NOT EXISTS ") + kSchema +
              ".schema_fingerprint ("
              "versions text PRIMARY KEY, "
              "digest char(64) NOT NULL, "
              "objects jsonb NOT NULL, "
              "run_id bigint, "
              "recorded_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    } catch (const std::exception& error) {
      return FromException(error, "cannot create the schemaop schema (the role needs CREATE on the database)",
                           Code::kMigrationFailed);
    }
    return Status::Ok();
  }

  core::Result<std::vector<std::string>> ReadVersions() {
    try {
      pqxx::read_transaction tx(session->conn());
      return ReadVersionsIn(tx);
    } catch (const std::exception& error) {
      return FromException(error, "cannot read " + VersionTable(), Code::kInternal);
    }
  }

  std::vector<std::string> ReadVersionsIn(pqxx::transaction_base& tx) {
    std::vector<std::string> versions;
    if (!TableExists(tx, VersionTable())) {
      return versions;
    }
    for (const auto& row : tx.exec("SELECT version_num FROM " + VersionTable() + " ORDER BY 1")) {
      versions.push_back(row[0].as<std::string>());
    }
    return versions;
  }

  core::Result<std::map<std::string, ArchiveRow>> ReadArchive() {
    std::map<std::string, ArchiveRow> archive;
    try {
      pqxx::read_transaction tx(session->conn());
      if (!TableExists(tx, std::string(kSchema) + ".revision_archive")) {
        return archive;
      }
      for (const auto& row : tx.exec(
               std::string("SELECT revision, array_to_string(down_revisions, ','), file_name, "
                           "file_text, sha256, to_char(applied_at AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ") +
               kSchema + ".revision_archive")) {
        ArchiveRow entry;
        entry.down_revisions = SplitComma(row[1].as<std::string>());
        entry.file_name = row[2].as<std::string>();
        entry.text = row[3].as<std::string>();
        entry.sha256 = row[4].as<std::string>();
        entry.applied_at = row[5].as<std::string>();
        archive.emplace(row[0].as<std::string>(), std::move(entry));
      }
    } catch (const std::exception& error) {
      return FromException(error, "cannot read schemaop.revision_archive", Code::kInternal);
    }
    return archive;
  }

  // The files' graph plus every archived revision whose file is no longer
  // shipped (added while all its parents are known), so a database at a
  // newer revision can still be planned down from the archive.
  core::Result<core::RevisionGraph> MergedGraph(const std::map<std::string, ArchiveRow>& archive) {
    std::vector<core::MigrationFile> all = files;
    std::set<std::string> known;
    for (const auto& file : files) {
      known.insert(file.revision);
    }
    bool added = true;
    while (added) {
      added = false;
      for (const auto& [revision, row] : archive) {
        if (known.count(revision) != 0) {
          continue;
        }
        bool parents_known = std::all_of(row.down_revisions.begin(), row.down_revisions.end(),
                                         [&](const std::string& p) { return known.count(p) != 0; });
        if (!parents_known) {
          continue;
        }
        core::MigrationFile stub;
        stub.revision = revision;
        stub.down_revisions = row.down_revisions;
        stub.source_name = row.file_name + " (archived)";
        all.push_back(std::move(stub));
        known.insert(revision);
        added = true;
      }
    }
    return core::BuildGraph(all);
  }

  // The file to run for `revision`: the shipped file, else the archived copy.
  core::Result<const core::MigrationFile*> FileFor(const std::string& revision,
                                                   const std::map<std::string, ArchiveRow>& archive) {
    if (const auto* given = GivenFile(revision)) {
      return given;
    }
    auto cached = archived_files.find(revision);
    if (cached != archived_files.end()) {
      return &cached->second;
    }
    auto row = archive.find(revision);
    if (row == archive.end()) {
      return Status(Code::kNotFound, "revision '" + revision +
                                         "' has no migration file and no archived copy in "
                                         "schemaop.revision_archive; add its file to --migrations");
    }
    auto parsed = core::ParseMigrationFile(row->second.text, row->second.file_name + " (archived)");
    if (!parsed.ok()) {
      return parsed.status();
    }
    auto [it, inserted] = archived_files.emplace(revision, std::move(parsed).value());
    return &it->second;
  }

  // Applied revisions: the version rows and all their ancestors.
  static std::set<std::string> AppliedRevisions(const core::RevisionGraph& merged,
                                                const std::vector<std::string>& current) {
    std::set<std::string> applied;
    for (const auto& version : current) {
      if (!merged.Contains(version)) {
        continue;
      }
      applied.insert(version);
      auto ancestors = merged.Ancestors(version);
      applied.insert(ancestors.begin(), ancestors.end());
    }
    return applied;
  }

  std::vector<std::string> ChecksumProblems(const core::RevisionGraph& merged,
                                            const std::vector<std::string>& current,
                                            const std::map<std::string, ArchiveRow>& archive) {
    std::vector<std::string> problems;
    auto applied = AppliedRevisions(merged, current);
    for (const auto& file : files) {
      auto row = archive.find(file.revision);
      if (row == archive.end() || applied.count(file.revision) == 0) {
        continue;
      }
      std::string sha = Sha256Hex(file.text);
      if (sha != row->second.sha256) {
        problems.push_back("migration file " + file.source_name + " (revision " + file.revision +
                           ") differs from the copy applied at " + row->second.applied_at +
                           " (archived sha256 " + row->second.sha256.substr(0, 12) +
                           "..., file sha256 " + sha.substr(0, 12) + "...)");
      }
    }
    return problems;
  }

  core::Result<core::Plan> MakePlan(std::string_view target, core::PlanMode mode,
                                    const core::RevisionGraph& merged,
                                    const std::vector<std::string>& current) {
    for (const auto& version : current) {
      if (!merged.Contains(version)) {
        return Status(Code::kUnknownRevision,
                      "the database is at revision '" + version +
                          "', which neither the migration files nor schemaop.revision_archive "
                          "know; pass the --migrations directory that contains it (or `stamp` "
                          "the database if it was changed by hand)");
      }
    }
    std::string resolved_target(target);
    // `head`/`heads` mean the shipped files' heads, not archived revisions
    // that the files no longer contain (an image rolled back first).
    if ((target == "head" || target == "heads") && merged.size() != graph.size()) {
      auto heads = graph.Heads();
      if (heads.empty()) {
        return Status(Code::kNotFound, "no migration files: nothing to resolve '" +
                                           std::string(target) + "' against");
      }
      if (heads.size() == 1) {
        resolved_target = heads.front();
      } else if (target == "head") {
        return Status(Code::kMultipleHeads, "the migration files have several heads (" +
                                                Join(heads, ", ") +
                                                "); target one of them or `heads`");
      }
    }
    return core::PlanMigration(merged, current, resolved_target, mode);
  }

  // See Migrator::PlanDigest. Fields are length-prefixed so no two plans
  // share a byte stream.
  core::Result<std::string> PlanDigestWith(const core::Plan& plan,
                                           const std::map<std::string, ArchiveRow>& archive) {
    std::string bytes;
    auto field = [&bytes](const std::string& value) {
      bytes += std::to_string(value.size()) + ":" + value + ";";
    };
    field("schemaop-plan-v1");
    field(Join(plan.from_versions, ","));
    field(Join(plan.to_versions, ","));
    for (const auto& step : plan.steps) {
      auto file = FileFor(step.revision, archive);
      if (!file.ok()) {
        return file.status();
      }
      field(step.revision);
      field(step.direction == core::Direction::kUp ? "up" : "down");
      for (const auto* section : (*file)->SectionsFor(step.direction)) {
        field(section->transactional ? "tx" : "autocommit");
        field(section->sql);
      }
    }
    return Sha256Hex(bytes);
  }

  // ---- locking ---------------------------------------------------------

  std::string DescribeLockHolder() {
    std::string description;
    try {
      pqxx::read_transaction tx(session->conn());
      auto key = static_cast<std::uint64_t>(LockKey());
      auto rows = tx.exec_params(
          "SELECT a.pid, coalesce(a.application_name, ''), "
          "coalesce(host(a.client_addr), 'local socket'), coalesce(a.usename::text, ''), "
          "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
          "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
          "WHERE l.locktype = 'advisory' AND l.granted "
          "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
          "AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1",
          static_cast<std::int64_t>(key >> 32), static_cast<std::int64_t>(key & 0xffffffffULL));
      for (const auto& row : rows) {
        description += "pid " + row[0].as<std::string>() + " (application_name '" +
                       row[1].as<std::string>() + "', user '" + row[3].as<std::string>() +
                       "', client " + row[2].as<std::string>() + ", connected since " +
                       row[4].as<std::string>() + ")";
      }
      if (TableExists(tx, std::string(kSchema) + ".run_log")) {
        auto running = tx.exec(
            std::string("SELECT id, actor, to_char(started_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), direction FROM ") +
            kSchema + ".run_log WHERE outcome = 'running' ORDER BY id DESC LIMIT 1");
        for (const auto& row : running) {
          description += "; run " + row[0].as<std::string>() + " (" + row[3].as<std::string>() +
                         ") by " + row[1].as<std::string>() + " started " +
                         row[2].as<std::string>();
        }
      }
    } catch (const std::exception& error) {
      // The holder is a courtesy in the message; the lock result stands.
      Emit("warning", std::string("cannot describe the lock holder: ") + error.what());
    }
    return description.empty() ? "an unknown session" : description;
  }

  Status AcquireLock() {
    if (lock_session) {
      return Status::Ok();
    }
    internal::SessionSettings settings{options.lock_timeout, options.statement_timeout};
    auto opened = internal::Session::Open(info, settings);
    if (!opened.ok()) {
      return opened.status();
    }
    auto candidate = std::move(opened).value();
    auto deadline = Clock::now() + options.lock_wait;
    bool announced = false;
    try {
      for (;;) {
        bool got = false;
        {
          pqxx::nontransaction tx(candidate->conn());
          got = tx.exec_params1("SELECT pg_try_advisory_lock($1)", LockKey())[0].as<bool>();
        }
        if (got) {
          lock_backend_pid = candidate->conn().backendpid();
          lock_session = std::move(candidate);
          Emit("locked", "acquired the migration lock on " + info.redacted);
          return Status::Ok();
        }
        auto now = Clock::now();
        if (now >= deadline) {
          return Status(Code::kLockHeld,
                        "another schemaop run holds the migration lock on " + info.redacted +
                            ": " + DescribeLockHolder() + "; waited " +
                            std::to_string(options.lock_wait.count()) +
                            " ms. Wait for that run to finish, or raise --lock-wait",
                        "lock");
        }
        if (!announced) {
          Emit("waiting-for-lock", "waiting for the migration lock held by " + DescribeLockHolder());
          announced = true;
        }
        auto pause = std::min<Clock::duration>(std::chrono::milliseconds(100), deadline - now);
        std::this_thread::sleep_for(pause);
      }
    } catch (const std::exception& error) {
      return FromException(error, "cannot take the migration lock", Code::kUnreachable);
    }
  }

  // The lock lives on its own session, the migration on `session`. If the
  // lock's session ended (backend terminated, network cut), the lock is gone
  // without notice to this session and another run may take it: so every
  // COMMIT and every autocommit statement is preceded by this check, run on
  // the migration connection (inside the transaction about to commit).
  void RequireLock(pqxx::transaction_base& tx) const {
    auto key = static_cast<std::uint64_t>(LockKey());
    bool held = lock_backend_pid != 0 &&
                tx.exec_params1(
                      "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                      "AND pid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = "
                      "current_database()) AND classid = $2::bigint::oid AND objid = $3::bigint::oid "
                      "AND objsubid = 1)",
                      lock_backend_pid, static_cast<std::int64_t>(key >> 32),
                      static_cast<std::int64_t>(key & 0xffffffffULL))[0]
                    .as<bool>();
    if (!held) {
      throw LockLostError("the migration lock was lost (its session, server pid " +
                          std::to_string(lock_backend_pid) +
                          ", ended); stopped before committing so no other run is overlapped. "
                          "The next upgrade/downgrade recovers this run");
    }
  }

  void ReleaseLock() {
    if (!lock_session) {
      return;
    }
    try {
      pqxx::nontransaction tx(lock_session->conn());
      tx.exec_params("SELECT pg_advisory_unlock($1)", LockKey());
    } catch (const std::exception&) {
      // Closing the session below releases a session lock anyway.
    }
    lock_session.reset();
    lock_backend_pid = 0;
    Emit("unlocked", "released the migration lock");
  }

  // Relations (schema.name) the dump at `path` contains, from `pg_restore -l`
  // TOC lines "ID; OID OID TYPE SCHEMA NAME OWNER".
  core::Result<std::set<std::string>> DumpRelations(const std::string& path) {
    auto listed = internal::RunProcess(Tool("pg_restore"), {"-l", path}, {});
    if (!listed.started || listed.exit_code != 0) {
      return Status(Code::kBackupFailed,
                    "pg_restore -l " + path + " failed (exit " + std::to_string(listed.exit_code) +
                        "): " + listed.output + " (is it a pg_dump -Fc file from `schemaop backup`?)");
    }
    std::set<std::string> relations;
    std::istringstream lines(listed.output);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == ';') {
        continue;
      }
      std::istringstream words(line);
      std::string id, oid1, oid2;
      words >> id >> oid1 >> oid2;
      std::string rest;
      std::getline(words, rest);
      rest.erase(0, rest.find_first_not_of(' '));
      std::string kind;
      for (const char* type : {"MATERIALIZED VIEW ", "FOREIGN TABLE ", "TABLE ", "VIEW ", "SEQUENCE "}) {
        if (rest.rfind(type, 0) == 0) {
          kind = type;
          break;
        }
      }
      if (kind.empty() || rest.rfind("TABLE DATA ", 0) == 0 || rest.rfind("SEQUENCE SET ", 0) == 0 ||
          rest.rfind("SEQUENCE OWNED BY ", 0) == 0) {
        continue;
      }
      std::istringstream fields(rest.substr(kind.size()));
      std::vector<std::string> tokens;
      for (std::string token; fields >> token;) {
        tokens.push_back(token);
      }
      if (tokens.size() < 3) {
        continue;
      }
      std::string name = tokens[1];
      for (std::size_t i = 2; i + 1 < tokens.size(); ++i) {
        name += " " + tokens[i];
      }
      relations.insert(tokens[0] + "." + name);
    }
    return relations;
  }

  // Relations of the database (schemaop's own bookkeeping aside) that the
  // dump does not contain. pg_restore
  // --clean drops and recreates only what the dump lists, so these would
  // survive the restore (e.g. tables created by a later upgrade) and leave
  // a database that is not the backup.
  core::Result<std::vector<std::string>> RelationsMissingFromDump(const std::string& path) {
    auto dumped = DumpRelations(path);
    if (!dumped.ok()) {
      return dumped.status();
    }
    std::vector<std::string> extra;
    try {
      pqxx::read_transaction tx(session->conn());
      for (const auto& row : tx.exec(
               "SELECT n.nspname || '.' || c.relname FROM pg_class c "
               "JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
               "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'schemaop') "
               "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
               "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
               "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1")) {
        std::string name = row[0].as<std::string>();
        if (dumped->count(name) == 0) {
          extra.push_back(name);
        }
      }
    } catch (const std::exception& error) {
      return FromException(error, "cannot list the database's relations", Code::kInternal);
    }
    return extra;
  }

  struct LockGuard {
    Impl* impl;
    bool release;
    ~LockGuard() {
      if (release) {
        impl->ReleaseLock();
      }
    }
  };

  // ---- backup ----------------------------------------------------------

  std::string Tool(const std::string& name) const {
    if (options.pg_bin_dir.empty()) {
      return name;
    }
    return (std::filesystem::path(options.pg_bin_dir) / name).string();
  }

  // Creates a new backup file inside the real backup directory: the name
  // has no `/`, openat() is relative to the resolved directory, O_EXCL and
  // O_NOFOLLOW never reuse an existing file or follow a planted symlink,
  // and the mode is 0600 (a dump holds every row).
  struct BackupTarget {
    std::string directory;  // resolved real path
    std::string name;
    int dir_fd = -1;
    int fd = -1;
    ~BackupTarget() {
      if (fd >= 0) {
        ::close(fd);
      }
      if (dir_fd >= 0) {
        ::close(dir_fd);
      }
    }
    std::string path() const { return directory + "/" + name; }
  };

  Status OpenBackupTarget(const std::string& label, BackupTarget* target) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(options.backup_dir, ec);
    if (ec) {
      return Status(Code::kBackupFailed, "cannot create backup directory '" + options.backup_dir +
                                             "': " + ec.message() + " (check --backup-dir)");
    }
    fs::path real = fs::canonical(options.backup_dir, ec);
    if (ec) {
      return Status(Code::kBackupFailed, "cannot resolve backup directory '" + options.backup_dir +
                                             "': " + ec.message() + " (check --backup-dir)");
    }
    target->directory = real.string();
    target->dir_fd = ::open(target->directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (target->dir_fd < 0) {
      return Status(Code::kBackupFailed, "cannot open backup directory '" + target->directory +
                                             "': " + std::strerror(errno) + " (check --backup-dir)");
    }
    const std::string base = internal::BackupFileName(
        options.backup_owner_namespace, options.backup_owner_name, info.dbname,
        UtcTimestampForFile(), label);
    target->name = base;
    for (int n = 2;; ++n) {
      target->fd = ::openat(target->dir_fd, target->name.c_str(),
                            O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (target->fd >= 0) {
        return Status::Ok();
      }
      if (errno != EEXIST || n > 1000) {
        return Status(Code::kBackupFailed, "cannot create backup file '" + target->path() +
                                               "': " + std::strerror(errno) + " (check --backup-dir)");
      }
      target->name = base.substr(0, base.size() - 5) + "-" + std::to_string(n) + ".dump";
    }
  }

  // Keeps the newest options.backup_retention backups of this owner.
  void ApplyRetention(const BackupTarget& target) {
    namespace fs = std::filesystem;
    const std::string prefix = internal::BackupOwnerPrefix(
        options.backup_owner_namespace, options.backup_owner_name, info.dbname);
    std::vector<internal::BackupFile> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(target.directory, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0 || name.size() < 5 ||
          name.compare(name.size() - 5, 5, ".dump") != 0 ||
          !fs::is_regular_file(entry.symlink_status(ec))) {
        continue;
      }
      auto mtime = fs::last_write_time(entry.path(), ec);
      files.push_back({name, static_cast<long long>(mtime.time_since_epoch().count())});
    }
    for (const auto& name : internal::BackupsBeyondRetention(files, options.backup_retention)) {
      if (name == target.name) {
        continue;
      }
      if (::unlinkat(target.dir_fd, name.c_str(), 0) == 0) {
        Emit("backup-removed", "removed old backup " + target.directory + "/" + name +
                                   " (--backup-retention " +
                                   std::to_string(options.backup_retention) + ")");
      }
    }
  }

  core::Result<BackupInfo> DoBackup(const std::string& label) {
    BackupTarget target;
    if (Status opened = OpenBackupTarget(label, &target); !opened.ok()) {
      return opened;
    }
    auto child = internal::ChildConnection::Create(info);
    if (!child.ok()) {
      ::unlinkat(target.dir_fd, target.name.c_str(), 0);
      return child.status();
    }
    Emit("backing-up", "pg_dump -Fc to " + target.path());
    // pg_dump writes to the descriptor opened above, never to a path.
    auto result = internal::RunProcess(
        Tool("pg_dump"),
        {"-Fc", "--no-password",
         std::string("--dbname=service=") + internal::ChildConnection::kService},
        (*child)->Environment(), target.fd);
    if (!result.started || result.exit_code != 0) {
      ::unlinkat(target.dir_fd, target.name.c_str(), 0);
      std::string output = core::ScrubSecret(result.output, info.password);
      return Status(Code::kBackupFailed,
                    "pg_dump failed (exit " + std::to_string(result.exit_code) + "): " + output +
                        " (check that pg_dump " + (options.pg_bin_dir.empty() ? "is on PATH" : "is in " + options.pg_bin_dir) +
                        ", matches the server version, and that --backup-dir is writable); nothing was migrated");
    }
    BackupInfo backup;
    backup.path = target.path();
    auto sha = Sha256OfFile(backup.path, &backup.bytes);
    if (!sha.ok()) {
      return sha.status();
    }
    backup.sha256 = *sha;
    backup.created_at = UtcTimestampRfc3339();
    // A backup counts once pg_restore can read its table of contents; only
    // then may older ones go.
    auto listed = internal::RunProcess(Tool("pg_restore"), {"-l", backup.path}, {});
    if (!listed.started || listed.exit_code != 0) {
      return Status(Code::kBackupFailed, "the new backup " + backup.path +
                                             " cannot be read back (pg_restore -l exit " +
                                             std::to_string(listed.exit_code) +
                                             "); nothing was migrated and no old backup removed");
    }
    Emit("backed-up", "backup " + backup.path + " (" + std::to_string(backup.bytes) +
                          " bytes, sha256 " + backup.sha256 + ")");
    ApplyRetention(target);
    return backup;
  }

  // ---- verification ----------------------------------------------------

  // The key under which a revision set's fingerprint is stored.
  static std::string FingerprintKey(const std::vector<std::string>& versions) {
    std::vector<std::string> sorted = versions;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? std::string("base") : Join(sorted, ",");
  }

  static std::optional<internal::SchemaFingerprint> RecordedFingerprint(
      pqxx::transaction_base& tx, const std::vector<std::string>& versions) {
    if (!TableExists(tx, std::string(kSchema) + ".schema_fingerprint")) {
      return std::nullopt;
    }
    auto rows = tx.exec_params(std::string("SELECT objects::text FROM ") + kSchema +
                                   ".schema_fingerprint WHERE versions = $1",
                               FingerprintKey(versions));
    if (rows.empty()) {
      return std::nullopt;
    }
    std::vector<std::pair<std::string, std::string>> objects;
    for (const auto& item : json::parse(rows[0][0].as<std::string>())) {
      objects.emplace_back(item.at(0).get<std::string>(), item.at(1).get<std::string>());
    }
    return internal::FingerprintOf(std::move(objects));
  }

  static void RecordFingerprint(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                                const internal::SchemaFingerprint& fingerprint,
                                std::int64_t run_id) {
    json objects = json::array();
    for (const auto& [key, definition] : fingerprint.objects) {
      objects.push_back({key, definition});
    }
    tx.exec_params(std::string("INSERT INTO ") + kSchema +
                       ".schema_fingerprint (versions, digest, objects, run_id) "
                       "VALUES ($1, $2, $3::jsonb, NULLIF($4, 0)) ON CONFLICT (versions) DO UPDATE "
                       "SET digest = EXCLUDED.digest, objects = EXCLUDED.objects, "
                       "run_id = EXCLUDED.run_id, recorded_at = now()",
                   FingerprintKey(versions), fingerprint.digest, objects.dump(), run_id);
  }

  // The live schema against the one recorded for `versions`; kSchemaDrift
  // naming the differing objects (at most 10) when they differ.
  Status CheckSchema(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                     const internal::SchemaFingerprint& live) {
    auto recorded = RecordedFingerprint(tx, versions);
    if (!recorded || recorded->digest == live.digest) {
      return Status::Ok();
    }
    auto drift = internal::DescribeDrift(live, *recorded, VersionsText(versions));
    std::string listed;
    for (std::size_t i = 0; i < drift.size() && i < 10; ++i) {
      listed += (i == 0 ? "" : "; ") + drift[i];
    }
    if (drift.size() > 10) {
      listed += "; and " + std::to_string(drift.size() - 10) + " more";
    }
    return Status(Code::kSchemaDrift,
                  "schema drift at " + VersionsText(versions) + ": " + listed +
                      ". The schema differs from the one recorded when the database was last at "
                      "that revision (a down section that forgets an object, or a change made by "
                      "hand). Fix the migration, or accept the difference with "
                      "--allow-schema-drift / spec.verify.schema: Ignore",
                  "schema-drift");
  }

  Status CheckRowLoss(pqxx::transaction_base& tx, const ExecContext& ctx,
                      const std::string& when) {
    auto after = internal::CountRelationRows(tx, VersionTable());
    auto losses = internal::FindRowLoss(ctx.counts_before, after,
                                        internal::ParseDeclaredLoss(ctx.row_loss_allowed));
    if (losses.empty()) {
      return Status::Ok();
    }
    return Status(Code::kVerificationFailed,
                  "row-count check failed " + when + ": " + Join(losses, "; ") +
                      ". If the loss is intended, list the table in the revision's "
                      "down_row_loss header or pass --allow-row-loss (spec.verify.allowRowLoss)");
  }

  // A user check is one query returning one boolean. It runs in a read-only
  // subtransaction that is always rolled back, so even a statement that
  // writes (a data-modifying CTE, a volatile function) leaves nothing behind.
  Status RunCheck(pqxx::dbtransaction& tx, const UserCheck& check, const std::string& when) {
    auto statements = core::SplitSqlStatements(check.sql);
    if (statements.size() != 1) {
      return Status(Code::kVerificationFailed,
                    "check '" + check.name + "' must be exactly one statement (a query returning "
                    "one boolean) but has " + std::to_string(statements.size()));
    }
    pqxx::result result;
    try {
      pqxx::subtransaction sub(tx, "schemaop_check");
      sub.exec("SET LOCAL transaction_read_only = on");
      result = sub.exec(check.sql);
      sub.abort();
    } catch (const pqxx::sql_error& error) {
      if (error.sqlstate() == "25006") {
        return Status(Code::kVerificationFailed,
                      "check '" + check.name + "' tried to write (" + error.sqlstate() +
                          " read_only_sql_transaction); a check must be a read-only query. "
                          "Nothing it did was kept",
                      error.sqlstate());
      }
      return FromException(error, "check '" + check.name + "' failed with an error " + when,
                           Code::kVerificationFailed);
    }
    constexpr pqxx::oid kBoolOid = 16;
    if (result.size() != 1 || result.columns() != 1 || result.column_type(0) != kBoolOid) {
      return Status(Code::kVerificationFailed,
                    "check '" + check.name + "' must return exactly one boolean (one row, one "
                    "boolean column) but returned " + std::to_string(result.size()) +
                        " row(s) of " + std::to_string(result.columns()) + " column(s)" +
                        (result.columns() == 1 && result.column_type(0) != kBoolOid
                             ? " of another type"
                             : ""));
    }
    if (result[0][0].is_null() || !result[0][0].as<bool>()) {
      return Status(Code::kVerificationFailed,
                    "check '" + check.name + "' returned " +
                        (result[0][0].is_null() ? "NULL" : "false") + " " + when);
    }
    return Status::Ok();
  }

  // The verification of a run's last transaction, before its COMMIT: row
  // counts against the start of the run, the schema fingerprint of the
  // revision reached (when one was recorded), the user checks.
  Status VerifyInTransaction(pqxx::work& tx, const ExecContext& ctx,
                             const std::vector<std::string>& reached,
                             std::optional<internal::SchemaFingerprint>* live_out) {
    Emit("verifying", "verifying row counts, schema and " + std::to_string(options.checks.size()) +
                          " check(s)");
    try {
      if (options.verify_row_counts) {
        Status rows = CheckRowLoss(tx, ctx, "after the migration");
        if (!rows.ok()) {
          return rows;
        }
      }
      auto live = internal::ReadSchemaFingerprint(tx, VersionTable());
      if (options.verify_schema) {
        Status schema = CheckSchema(tx, reached, live);
        if (!schema.ok()) {
          return schema;
        }
      }
      *live_out = std::move(live);
    } catch (const std::exception& error) {
      return FromException(error, "verification failed", Code::kVerificationFailed);
    }
    for (const auto& check : options.checks) {
      Status checked = RunCheck(tx, check, "after the migration");
      if (!checked.ok()) {
        return checked;
      }
    }
    return Status::Ok();
  }

  // ---- execution -------------------------------------------------------

  void WriteVersions(pqxx::transaction_base& tx, const std::vector<std::string>& versions) {
    // Exactly Alembic's DDL, so Alembic and schemaop can take turns.
    tx.exec("CREATE TABLE IF NOT EXISTS " + VersionTable() +
            " (version_num VARCHAR(32) NOT NULL, CONSTRAINT " + VersionTable() +
            "_pkc PRIMARY KEY (version_num))");
    tx.exec("DELETE FROM " + VersionTable());
    for (const auto& version : versions) {
      tx.exec_params("INSERT INTO " + VersionTable() + " (version_num) VALUES ($1)", version);
    }
  }

  static void ArchiveFile(pqxx::transaction_base& tx, const core::MigrationFile& file,
                          bool overwrite) {
    tx.exec_params(std::string("INSERT INTO ") + kSchema +
                       ".revision_archive (revision, down_revisions, file_name, file_text, sha256, "
                       "applied_at) VALUES ($1, string_to_array($2, ','), $3, $4, $5, now()) "
                       "ON CONFLICT (revision) DO " +
                       (overwrite ? "UPDATE SET down_revisions = EXCLUDED.down_revisions, "
                                    "file_name = EXCLUDED.file_name, file_text = EXCLUDED.file_text, "
                                    "sha256 = EXCLUDED.sha256, applied_at = EXCLUDED.applied_at"
                                  : "NOTHING"),
                   file.revision, Join(file.down_revisions, ","), file.source_name, file.text,
                   Sha256Hex(file.text));
  }

  static void WriteProgress(pqxx::transaction_base& tx, const ExecContext& ctx, Cursor cursor,
                            const std::string& revision) {
    json progress = ctx.progress_extra;
    progress["phase"] = ctx.phase;
    progress["step"] = cursor.step;
    progress["section"] = cursor.section;
    progress["statement"] = cursor.statement;
    progress["revision"] = revision;
    tx.exec_params(std::string("UPDATE ") + kSchema + ".run_log SET progress = $2::jsonb WHERE id = $1",
                   ctx.run_id, progress.dump());
  }

  void DropInvalidIndex(const std::string& statement) {
    std::string name = ConcurrentIndexName(statement);
    if (name.empty()) {
      return;
    }
    std::vector<std::string> invalid;
    {
      pqxx::read_transaction tx(session->conn());
      for (const auto& row : tx.exec_params(
               "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
               "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.relname = $1 AND NOT i.indisvalid AND n.nspname = ANY (current_schemas(false))",
               name)) {
        invalid.push_back(row[0].as<std::string>());
      }
    }
    for (const auto& index : invalid) {
      Emit("migrating", "dropping INVALID index " + index +
                            " left by an earlier failed build, so it is rebuilt");
      pqxx::nontransaction tx(session->conn());
      tx.exec("DROP INDEX CONCURRENTLY IF EXISTS " + index);
    }
  }

  // Runs ctx.steps from `start`: transactional sections accumulate in one
  // transaction; a transaction:false section commits it first and then runs
  // statement by statement in autocommit. Each step's version rows (and
  // archive row) go into the transaction that follows its last section; the
  // last transaction verifies and closes the run_log row, then COMMITs.
  Status Execute(ExecContext& ctx, Cursor start, const std::map<std::string, ArchiveRow>& archive) {
    auto& conn = session->conn();
    std::optional<pqxx::work> tx;
    std::string where;
    try {
      for (int s = start.step; s < static_cast<int>(ctx.steps.size()); ++s) {
        const auto& step = ctx.steps[static_cast<std::size_t>(s)];
        auto file_or = FileFor(step.revision, archive);
        if (!file_or.ok()) {
          return file_or.status();
        }
        const core::MigrationFile& file = **file_or;
        auto sections = file.SectionsFor(step.direction);
        const char* dir_word = step.direction == core::Direction::kUp ? "up" : "down";
        int first_section = s == start.step ? start.section : 0;
        for (int k = first_section; k < static_cast<int>(sections.size()); ++k) {
          const core::Section& section = *sections[static_cast<std::size_t>(k)];
          where = "revision " + step.revision + " (" + file.source_name + ") " + dir_word +
                  " section at line " + std::to_string(section.first_line);
          if (section.transactional) {
            if (!tx) {
              tx.emplace(conn);
            }
            Emit("migrating",
                 std::string(ctx.phase == "undo" ? "undoing: " : "") + DirectionWord(step.direction) +
                     " " + step.revision + " section " + std::to_string(k + 1) + "/" +
                     std::to_string(sections.size()) + " (" + file.source_name + ")",
                 s, step.revision, step.direction, k, -1);
            auto t0 = Clock::now();
            tx->exec(section.sql);
            sql_time += Clock::now() - t0;
            continue;
          }
          if (tx) {
            if (ctx.verify && options.verify_row_counts) {
              // A segment is verified before its COMMIT, like the last one.
              Status rows = CheckRowLoss(*tx, ctx, "before committing the segment ending at " + where);
              if (!rows.ok()) {
                tx.reset();
                return rows;
              }
            }
            WriteProgress(*tx, ctx, Cursor{s, k, 0}, step.revision);
            RequireLock(*tx);
            tx->commit();
            tx.reset();
            ctx.committed = Cursor{s, k, 0};
            ctx.any_commit = true;
            Emit("committed", "committed segment before " + where);
          }
          auto statements = core::SplitSqlStatements(section.sql);
          int first_statement = (s == start.step && k == start.section) ? start.statement : 0;
          for (int m = first_statement; m < static_cast<int>(statements.size()); ++m) {
            const auto& statement = statements[static_cast<std::size_t>(m)];
            where = "revision " + step.revision + " (" + file.source_name + ") " + dir_word +
                    " transaction:false statement at line " +
                    std::to_string(section.first_line + statement.first_line);
            DropInvalidIndex(statement.text);
            Emit("migrating",
                 std::string(ctx.phase == "undo" ? "undoing: " : "") + DirectionWord(step.direction) +
                     " " + step.revision + " section " + std::to_string(k + 1) + " statement " +
                     std::to_string(m + 1) + "/" + std::to_string(statements.size()) +
                     " (autocommit)",
                 s, step.revision, step.direction, k, m);
            {
              pqxx::nontransaction autocommit(conn);
              RequireLock(autocommit);
              auto t0 = Clock::now();
              autocommit.exec(statement.text);
              sql_time += Clock::now() - t0;
            }
            {
              pqxx::work progress_tx(conn);
              WriteProgress(progress_tx, ctx, Cursor{s, k, m + 1}, step.revision);
              RequireLock(progress_tx);
              progress_tx.commit();
            }
            ctx.committed = Cursor{s, k, m + 1};
            ctx.any_commit = true;
            if (ctx.verify && options.verify_row_counts) {
              // An autocommit statement commits by itself: a loss it caused
              // can only be detected after it, and stops the run here.
              pqxx::read_transaction check_tx(conn);
              Status rows = CheckRowLoss(check_tx, ctx, "after the transaction:false statement at " + where);
              if (!rows.ok()) {
                return Status(rows.code(), rows.message() +
                                               " (a transaction:false statement commits on its own: "
                                               "the rows are gone; restore them from a backup — "
                                               "backup.when: Always / --backup always takes one "
                                               "before upgrades too)",
                              rows.detail());
              }
            }
          }
        }
        where = "recording revision " + step.revision + " in " + VersionTable();
        if (!tx) {
          tx.emplace(conn);
        }
        WriteVersions(*tx, step.versions_after);
        if (step.direction == core::Direction::kUp && GivenFile(step.revision) == &file) {
          ArchiveFile(*tx, file, /*overwrite=*/true);
        }
        WriteProgress(*tx, ctx, Cursor{s + 1, 0, 0}, step.revision);
      }
      if (!tx) {
        tx.emplace(conn);
      }
      if (ctx.verify && !ctx.steps.empty()) {
        std::optional<internal::SchemaFingerprint> live;
        const std::vector<std::string>& reached = ctx.steps.back().versions_after;
        Status verified = VerifyInTransaction(*tx, ctx, reached, &live);
        if (!verified.ok()) {
          tx.reset();
          return verified;
        }
        where = "recording the schema fingerprint of " + VersionsText(reached);
        RecordFingerprint(*tx, reached, *live, ctx.run_id);
      }
      where = "closing the run";
      tx->exec_params(std::string("UPDATE ") + kSchema +
                          ".run_log SET outcome = $2, error = NULLIF($3, ''), "
                          "error_code = NULLIF($4, ''), finished_at = clock_timestamp() "
                          "WHERE id = $1",
                      ctx.run_id, ctx.final_outcome, ctx.final_error, ctx.final_error_code);
      RequireLock(*tx);
      tx->commit();
      tx.reset();
      ctx.committed = Cursor{static_cast<int>(ctx.steps.size()), 0, 0};
      ctx.any_commit = true;
      Emit("committed", ctx.phase == "undo" ? "undo committed" : "committed");
      return Status::Ok();
    } catch (const LockLostError& error) {
      tx.reset();
      return Status(Code::kLockHeld, std::string(error.what()) + " (" + where + ")", "lock-lost");
    } catch (const std::exception& error) {
      tx.reset();
      return FromException(error, where.empty() ? std::string("migration failed") : "failed in " + where);
    }
  }

  void CloseRun(std::int64_t run_id, const std::string& outcome, const std::string& error,
                Code code = Code::kMigrationFailed) {
    try {
      pqxx::work tx(session->conn());
      tx.exec_params(std::string("UPDATE ") + kSchema +
                         ".run_log SET outcome = $2, error = NULLIF($3, ''), "
                         "error_code = $4, finished_at = clock_timestamp() WHERE id = $1",
                     run_id, outcome, core::ScrubSecret(error, info.password),
                     std::string(core::CodeName(code)));
      tx.commit();
    } catch (const std::exception&) {
      // The connection is gone; the row stays 'running' and the next run's
      // recovery closes it.
    }
  }

  // The steps that undo what `forward` committed up to `committed`, newest
  // first, each restoring the version rows from before its forward step.
  static std::vector<core::PlanStep> UndoSteps(const std::vector<core::PlanStep>& forward,
                                               const std::vector<std::string>& from_versions,
                                               Cursor committed) {
    std::vector<core::PlanStep> undo;
    int count = static_cast<int>(forward.size());
    bool partial = committed.step < count && (committed.section > 0 || committed.statement > 0);
    int last = std::min(partial ? committed.step : committed.step - 1, count - 1);
    for (int i = last; i >= 0; --i) {
      core::PlanStep step;
      step.revision = forward[static_cast<std::size_t>(i)].revision;
      step.direction = Invert(forward[static_cast<std::size_t>(i)].direction);
      step.versions_after = i == 0 ? from_versions : forward[static_cast<std::size_t>(i - 1)].versions_after;
      undo.push_back(std::move(step));
    }
    return undo;
  }

  // After a forward failure: nothing committed -> rolled back; Halt -> stays;
  // otherwise run the undo steps. Returns the outcome and fills *status.
  RunOutcome HandleFailure(ExecContext& forward, const std::vector<std::string>& from_versions,
                           const std::map<std::string, ArchiveRow>& archive, Status* status) {
    std::string error = status->message();
    if (status->code() == Code::kUnreachable || status->detail() == "lock-lost") {
      // Cannot undo or record without a connection, and must not without the
      // lock (another run may hold it now); the next run recovers. A lost
      // COMMIT (in doubt) may have taken effect: never claim a rollback then.
      return forward.any_commit || status->detail() == "in-doubt" ? RunOutcome::kFailed
                                                                  : RunOutcome::kRolledBack;
    }
    if (!forward.any_commit) {
      CloseRun(forward.run_id, "rolled_back", error, status->code());
      Emit("rolled-back", "rolled back: the database is at " + VersionsText(from_versions));
      return RunOutcome::kRolledBack;
    }
    if (options.failure_policy == FailurePolicy::kHalt) {
      CloseRun(forward.run_id, "failed", error + " (failure policy Halt: left as committed)",
               status->code());
      Emit("halted", "halted after a committed segment (failure policy Halt)");
      return RunOutcome::kFailed;
    }
    ExecContext undo;
    undo.run_id = forward.run_id;
    undo.phase = "undo";
    undo.steps = UndoSteps(forward.steps, from_versions, forward.committed);
    undo.progress_extra = {{"undo_steps", StepsToJson(undo.steps)},
                           {"error", error},
                           {"error_code", core::CodeName(status->code())}};
    undo.final_outcome = "rolled_back";
    undo.final_error = error;
    undo.final_error_code = core::CodeName(status->code());
    Emit("rolling-back", "undoing " + std::to_string(undo.steps.size()) +
                             " step(s) applied by this run: " + error);
    try {
      pqxx::work tx(session->conn());
      WriteProgress(tx, undo, Cursor{}, undo.steps.empty() ? "" : undo.steps.front().revision);
      RequireLock(tx);
      tx.commit();
    } catch (const LockLostError& e) {
      *status = Status(Code::kLockHeld, error + "; " + e.what(), "lock-lost");
      return RunOutcome::kFailed;
    } catch (const std::exception& e) {
      *status = FromException(e, error + "; and recording the undo failed");
      return RunOutcome::kFailed;
    }
    Status undone = Execute(undo, Cursor{}, archive);
    if (!undone.ok()) {
      *status = Status(status->code(), error + "; undoing it also failed: " + undone.message() +
                                           ". The database is between revisions: restore the backup or fix and re-run",
                       status->detail());
      CloseRun(forward.run_id, "failed", status->message(), status->code());
      return RunOutcome::kFailed;
    }
    Emit("rolled-back", "rolled back: the database is at " + VersionsText(from_versions));
    return RunOutcome::kRolledBack;
  }

  // Records a run; with `fingerprint_before`, also the schema of the
  // revision the database is at now (the reference for a later downgrade).
  core::Result<std::int64_t> InsertRun(const std::vector<std::string>& from,
                                       const std::vector<std::string>& to,
                                       const std::string& direction, const json& plan_json,
                                       const std::string& outcome, const std::string& run_key = {},
                                       const internal::SchemaFingerprint* fingerprint_before = nullptr) {
    try {
      pqxx::work tx(session->conn());
      json progress = {{"phase", "forward"}, {"step", 0}, {"section", 0}, {"statement", 0}};
      auto row = tx.exec_params1(
          std::string("INSERT INTO ") + kSchema +
              ".run_log (from_versions, to_versions, direction, actor, outcome, plan, progress, "
              "finished_at, run_key) VALUES (string_to_array($1, ','), string_to_array($2, ','), $3, "
              "$4, $5, $6::jsonb, $7::jsonb, CASE WHEN $5 = 'running' THEN NULL ELSE "
              "clock_timestamp() END, NULLIF($8, '')) RETURNING id",
          Join(from, ","), Join(to, ","), direction, options.actor, outcome, plan_json.dump(),
          progress.dump(), run_key);
      if (fingerprint_before != nullptr) {
        RecordFingerprint(tx, from, *fingerprint_before, row[0].as<std::int64_t>());
      }
      tx.commit();
      return row[0].as<std::int64_t>();
    } catch (const std::exception& error) {
      return FromException(error, "cannot record the run in schemaop.run_log", Code::kInternal);
    }
  }

  // Exactly once: when the run of `run_key` has ended, fills `report` from
  // its record (and the database as it is now) and returns true. A run that
  // was interrupted before its first commit took no effect and may execute
  // again, kMaxInterruptedAttempts times in all.
  core::Result<bool> ReplayEndedRun(const std::string& run_key, RunReport* report) {
    try {
      pqxx::read_transaction tx(session->conn());
      if (!TableExists(tx, std::string(kSchema) + ".run_log") ||
          tx.exec(std::string("SELECT 1 FROM pg_attribute WHERE attrelid = '") + kSchema +
                  ".run_log'::regclass AND attname = 'run_key' AND NOT attisdropped")
              .empty()) {
        return false;  // no run was ever recorded with a key
      }
      auto rows = tx.exec_params(
          std::string("SELECT id, outcome, coalesce(error, ''), coalesce(error_code, ''), "
                      "array_to_string(from_versions, ','), array_to_string(to_versions, ',') "
                      "FROM ") +
              kSchema + ".run_log WHERE run_key = $1",
          run_key);
      if (rows.empty()) {
        auto interrupted = tx.exec_params1(
            std::string("SELECT count(*) FROM ") + kSchema +
                ".run_log WHERE left(run_key, length($1) + length($2)) = $1 || $2",
            run_key, std::string(kInterruptedSuffix));
        int attempts = interrupted[0].as<int>();
        if (attempts >= kMaxInterruptedAttempts) {
          return Status(Code::kMigrationFailed,
                        "this run was interrupted " + std::to_string(attempts) +
                            " times before its first commit (connection lost or the server "
                            "restarted while it ran); it is not started again automatically. "
                            "Look at the server log and schemaop.run_log, then change the spec "
                            "to retry; nothing was executed",
                        "interrupted");
        }
        return false;
      }
      const auto& row = rows[0];
      const std::string outcome = row[1].as<std::string>();
      if (outcome == "running") {
        return false;  // recovery closes it first; cannot be seen under the lock
      }
      report->run_id = row[0].as<std::int64_t>();
      report->from_versions = SplitComma(row[4].as<std::string>());
      report->to_versions = SplitComma(row[5].as<std::string>());
      report->final_versions = ReadVersionsIn(tx);
      report->replayed = true;
      if (outcome == "succeeded") {
        report->outcome = RunOutcome::kSucceeded;
        return true;
      }
      report->outcome = outcome == "rolled_back" ? RunOutcome::kRolledBack : RunOutcome::kFailed;
      Code code = Code::kMigrationFailed;
      for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
        if (row[3].as<std::string>() == core::CodeName(static_cast<Code>(c))) {
          code = static_cast<Code>(c);
        }
      }
      report->status = Status(code, row[2].as<std::string>(), "replayed");
      Emit("replayed", "run " + row[0].as<std::string>() + " of this request already ended (" +
                           outcome + "); nothing executed");
      return true;
    } catch (const std::exception& error) {
      return FromException(error, "cannot read schemaop.run_log", Code::kInternal);
    }
  }

  // Crash recovery resumes only with the exact files the run started with:
  // the sha256 of every step's file was recorded in the run's plan.
  Status CheckPinnedFiles(std::int64_t run_id, const json& plan,
                          const std::map<std::string, ArchiveRow>& archive) {
    if (!plan.contains("files")) {
      return Status::Ok();  // recorded by an older version: nothing to compare
    }
    for (const auto& [revision, sha] : plan.at("files").items()) {
      auto file = FileFor(revision, archive);
      if (!file.ok()) {
        return Status(Code::kChecksumMismatch,
                      "cannot recover interrupted run " + std::to_string(run_id) + ": " +
                          file.status().message(),
                      "checksum");
      }
      std::string now = Sha256Hex((*file)->text);
      if (now != sha.get<std::string>()) {
        return Status(Code::kChecksumMismatch,
                      "cannot recover interrupted run " + std::to_string(run_id) +
                          ": it started with revision " + revision + " at sha256 " +
                          sha.get<std::string>().substr(0, 12) + "..., but " +
                          (*file)->source_name + " now has sha256 " + now.substr(0, 12) +
                          "...; recovery runs only the SQL the run started with. Restore that "
                          "file as it was (the ConfigMap or --migrations directory), then retry; "
                          "nothing was changed",
                      "checksum");
      }
    }
    return Status::Ok();
  }

  void ReleaseInterruptedKey(std::int64_t run_id) {
    try {
      pqxx::work tx(session->conn());
      tx.exec_params(std::string("UPDATE ") + kSchema + ".run_log SET run_key = run_key || $2 || id "
                         "WHERE id = $1 AND run_key IS NOT NULL",
                     run_id, std::string(kInterruptedSuffix));
      tx.commit();
    } catch (const std::exception&) {
      // The key stays: the run is then replayed as failed, which is safe.
    }
  }

  // Must hold the lock. Closes every run left 'running' by a dead process.
  core::Result<std::optional<std::string>> RecoverLocked() {
    struct Interrupted {
      std::int64_t id;
      std::vector<std::string> from;
      std::vector<std::string> to;
      json plan;
      json progress;
    };
    std::vector<Interrupted> runs;
    try {
      pqxx::read_transaction tx(session->conn());
      if (!TableExists(tx, std::string(kSchema) + ".run_log")) {
        return std::optional<std::string>();
      }
      for (const auto& row : tx.exec(
               std::string("SELECT id, array_to_string(from_versions, ','), "
                           "array_to_string(to_versions, ','), plan::text, progress::text FROM ") +
               kSchema + ".run_log WHERE outcome = 'running' ORDER BY id")) {
        runs.push_back({row[0].as<std::int64_t>(), SplitComma(row[1].as<std::string>()),
                        SplitComma(row[2].as<std::string>()), json::parse(row[3].as<std::string>()),
                        json::parse(row[4].as<std::string>())});
      }
    } catch (const std::exception& error) {
      return FromException(error, "cannot read schemaop.run_log", Code::kInternal);
    }
    if (runs.empty()) {
      return std::optional<std::string>();
    }
    // A run left by an older version: bring its tables up to date first.
    if (Status schema = EnsureSchema(); !schema.ok()) {
      return schema;
    }
    auto archive = ReadArchive();
    if (!archive.ok()) {
      return archive.status();
    }
    std::string summary;
    for (auto& run : runs) {
      std::string id = std::to_string(run.id);
      Emit("recovering", "run " + id + " (" + VersionsText(run.from) + " -> " + VersionsText(run.to) +
                             ") was interrupted; recovering it");
      Status pinned = CheckPinnedFiles(run.id, run.plan, *archive);
      if (!pinned.ok()) {
        return pinned;
      }
      std::string phase = run.progress.value("phase", "forward");
      Cursor cursor{run.progress.value("step", 0), run.progress.value("section", 0),
                    run.progress.value("statement", 0)};
      std::string line;
      if (phase == "undo") {
        ExecContext undo;
        undo.run_id = run.id;
        undo.phase = "undo";
        undo.steps = StepsFromJson(run.progress.at("undo_steps"));
        undo.progress_extra = {{"undo_steps", run.progress.at("undo_steps")},
                               {"error", run.progress.value("error", "")}};
        undo.final_outcome = "rolled_back";
        undo.final_error = run.progress.value("error", "") + " (undo finished by recovery)";
        undo.final_error_code = run.progress.value("error_code", "");
        Status done = Execute(undo, cursor, *archive);
        if (!done.ok()) {
          return Status(done.code(), "recovering interrupted run " + id + " failed: " + done.message(),
                        done.detail());
        }
        line = "run " + id + ": finished its interrupted undo; the database is at " +
               VersionsText(run.from);
      } else if (cursor.AtStart()) {
        // Nothing was committed: PostgreSQL rolled the open transaction back.
        CloseRun(run.id, "failed",
                 "interrupted before its first commit; PostgreSQL rolled it back (recovered)");
        ReleaseInterruptedKey(run.id);
        line = "run " + id + ": interrupted before its first commit; the database stayed at " +
               VersionsText(run.from);
      } else {
        ExecContext forward;
        forward.run_id = run.id;
        forward.phase = "forward";
        forward.steps = StepsFromJson(run.plan.at("steps"));
        forward.verify = run.plan.value("verify", true);
        forward.counts_before = CountsFromJson(run.plan.value("counts_before", json::array()));
        auto allowed = run.plan.value("row_loss_allowed", std::vector<std::string>());
        forward.row_loss_allowed.insert(allowed.begin(), allowed.end());
        forward.final_error = "interrupted; resumed and completed by recovery";
        forward.committed = cursor;
        forward.any_commit = true;
        Status resumed = Execute(forward, cursor, *archive);
        if (resumed.ok()) {
          line = "run " + id + ": resumed from step " + std::to_string(cursor.step + 1) +
                 " and completed; the database is at " + VersionsText(run.to);
        } else {
          Status failure = resumed;
          RunOutcome outcome = HandleFailure(forward, run.from, *archive, &failure);
          if (outcome != RunOutcome::kRolledBack) {
            return Status(failure.code(), "recovering interrupted run " + id + " failed: " + failure.message(),
                          failure.detail());
          }
          line = "run " + id + ": resuming failed (" + resumed.message() +
                 "), undone; the database is at " + VersionsText(run.from);
        }
      }
      Emit("recovered", line);
      summary += (summary.empty() ? "" : "; ") + line;
    }
    return std::optional<std::string>(summary);
  }
};

// ---- Migrator --------------------------------------------------------

Migrator::Migrator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Migrator::~Migrator() {
  if (impl_) {
    impl_->ReleaseLock();
  }
}

core::Result<std::unique_ptr<Migrator>> Migrator::Open(const std::string& database_url,
                                                       std::vector<core::MigrationFile> files,
                                                       MigratorOptions options) {
  if (!IsValidTableName(options.version_table)) {
    return Status(Code::kInvalidArgument,
                  "version table name '" + options.version_table +
                      "' is not a plain lower-case identifier ([a-z_][a-z0-9_]*); use e.g. alembic_version");
  }
  if (options.lock_wait.count() < 0 || options.lock_timeout.count() < 0 ||
      options.statement_timeout.count() < 0) {
    return Status(Code::kInvalidArgument, "timeouts must not be negative");
  }
  for (const auto& check : options.checks) {
    if (check.name.empty() || check.sql.empty()) {
      return Status(Code::kInvalidArgument, "a check needs a name and SQL (NAME=SQL)");
    }
  }
  auto info = internal::ParseConnInfo(database_url, options.ca_certificate_pem);
  if (!info.ok()) {
    return info.status();
  }
  auto impl = std::make_unique<Impl>();
  impl->info = std::move(info).value();
  impl->options = std::move(options);
  Status set = Status::Ok();
  std::unique_ptr<Migrator> migrator(new Migrator(std::move(impl)));
  Status files_ok = migrator->SetMigrations(std::move(files));
  if (!files_ok.ok()) {
    return files_ok;
  }
  internal::SessionSettings settings{migrator->impl_->options.lock_timeout,
                                     migrator->impl_->options.statement_timeout};
  auto session = internal::Session::Open(migrator->impl_->info, settings);
  if (!session.ok()) {
    return session.status();
  }
  migrator->impl_->session = std::move(session).value();
  migrator->impl_->Emit("connected", "connected to " + migrator->impl_->info.redacted);
  return migrator;
}

Status Migrator::SetMigrations(std::vector<core::MigrationFile> files) {
  auto graph = core::BuildGraph(files);
  if (!graph.ok()) {
    return graph.status();
  }
  impl_->files = std::move(files);
  impl_->graph = std::move(graph).value();
  return Status::Ok();
}

Status Migrator::LoadMigrations(const std::string& directory) {
  auto files = LoadMigrationDirectory(directory);
  if (!files.ok()) {
    return files.status();
  }
  return SetMigrations(std::move(files).value());
}

const std::vector<core::MigrationFile>& Migrator::migrations() const { return impl_->files; }
const core::RevisionGraph& Migrator::graph() const { return impl_->graph; }
const std::string& Migrator::redacted_url() const { return impl_->info.redacted; }

core::Result<std::vector<std::string>> Migrator::CurrentVersions() {
  Status connected = impl_->EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  return impl_->ReadVersions();
}

core::Result<core::Plan> Migrator::Plan(std::string_view target, core::PlanMode mode) {
  Status connected = impl_->EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  auto archive = impl_->ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  auto merged = impl_->MergedGraph(*archive);
  if (!merged.ok()) {
    return merged.status();
  }
  auto current = impl_->ReadVersions();
  if (!current.ok()) {
    return current.status();
  }
  return impl_->MakePlan(target, mode, *merged, *current);
}

core::Result<std::optional<std::string>> Migrator::RecoverInterruptedRun() {
  Status connected = impl_->EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  Status locked = impl_->AcquireLock();
  if (!locked.ok()) {
    return locked;
  }
  Impl::LockGuard guard{impl_.get(), true};
  return impl_->RecoverLocked();
}

core::Result<RunReport> Migrator::Run(std::string_view target, core::PlanMode mode) {
  Impl& impl = *impl_;
  auto started = Clock::now();
  impl.sql_time = std::chrono::nanoseconds(0);
  RunReport report;
  Status connected = impl.EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  Status locked = impl.AcquireLock();
  if (!locked.ok()) {
    return locked;
  }
  Impl::LockGuard guard{&impl, true};
  auto recovered = impl.RecoverLocked();
  if (!recovered.ok()) {
    // An interrupted run that cannot be finished or undone: the database may
    // be between revisions, which the caller must know (the operator keeps
    // the writers at zero instead of restoring them onto it).
    return Status(recovered.status().code(), recovered.status().message(), kRecoveryDetail);
  }
  if (recovered->has_value()) {
    report.recovered = **recovered;
  }
  if (!impl.options.run_key.empty()) {
    auto replayed = impl.ReplayEndedRun(impl.options.run_key, &report);
    if (!replayed.ok()) {
      return replayed.status();
    }
    if (*replayed) {
      report.total_duration =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      return report;
    }
  }
  auto archive = impl.ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  auto merged = impl.MergedGraph(*archive);
  if (!merged.ok()) {
    return merged.status();
  }
  auto current = impl.ReadVersions();
  if (!current.ok()) {
    return current.status();
  }
  auto plan = impl.MakePlan(target, mode, *merged, *current);
  if (!plan.ok()) {
    return plan.status();
  }
  auto mismatches = impl.ChecksumProblems(*merged, *current, *archive);
  if (!mismatches.empty()) {
    if (!impl.options.allow_changed) {
      return Status(Code::kChecksumMismatch,
                    Join(mismatches, "; ") +
                        ". An applied migration must not change: restore the original file, or "
                        "pass --allow-changed to run with the changed file",
                    "checksum");
    }
    for (const auto& mismatch : mismatches) {
      impl.Emit("warning", mismatch + " (allowed by --allow-changed)");
    }
  }
  if (!impl.options.expected_plan_digest.empty() && !plan->empty()) {
    // Pinned plan: only the SQL seen at planning, from the revision seen then.
    auto digest = impl.PlanDigestWith(*plan, *archive);
    if (!digest.ok()) {
      return digest.status();
    }
    if (*digest != impl.options.expected_plan_digest) {
      return Status(Code::kMigrationsChanged,
                    "the plan to run now (" + PlanDirection(*plan) + " " +
                        VersionsText(plan->from_versions) + " -> " +
                        VersionsText(plan->to_versions) + ", digest " + digest->substr(0, 12) +
                        "...) is not the plan recorded at planning (digest " +
                        impl.options.expected_plan_digest.substr(0, 12) +
                        "...): the migration files or the database changed since. Nothing was "
                        "executed; plan again",
                    "plan-digest");
    }
  }
  report.from_versions = plan->from_versions;
  report.to_versions = plan->to_versions;
  report.plan = *plan;
  if (plan->empty()) {
    report.outcome = RunOutcome::kNothingToDo;
    report.final_versions = *current;
    report.total_duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    impl.Emit("committed", "already at " + VersionsText(*current) + "; nothing to do");
    return report;
  }
  // Every file the plan needs must exist before anything is touched.
  std::set<std::string> row_loss_allowed(impl.options.allow_row_loss.begin(),
                                         impl.options.allow_row_loss.end());
  for (const auto& step : plan->steps) {
    auto file = impl.FileFor(step.revision, *archive);
    if (!file.ok()) {
      return file.status();
    }
    if (step.direction == core::Direction::kDown) {
      if (!(*file)->HasDown()) {
        return Status(Code::kInvalidArgument, "revision " + step.revision + " (" +
                                                  (*file)->source_name +
                                                  ") has no migrate:down section, so it cannot be downgraded");
      }
      row_loss_allowed.insert((*file)->down_row_loss.begin(), (*file)->down_row_loss.end());
    }
  }
  if (impl.options.verify_row_counts) {
    if (Status readable = internal::CheckRowCountPrivileges(impl.session->conn(), impl.VersionTable());
        !readable.ok()) {
      return readable;
    }
  }
  // Bad input changes nothing: schemaop's own tables appear only once a
  // valid, non-empty plan is about to run.
  Status schema = impl.EnsureSchema();
  if (!schema.ok()) {
    return schema;
  }
  bool want_backup = impl.options.backup_policy == BackupPolicy::kAlways ||
                     (impl.options.backup_policy == BackupPolicy::kDowngrade && plan->HasDowngrade());
  if (want_backup) {
    auto label = (plan->from_versions.empty() ? std::string("base") : Join(plan->from_versions, "+")) +
                 "-to-" + (plan->to_versions.empty() ? std::string("base") : Join(plan->to_versions, "+"));
    auto backup = impl.DoBackup(label);
    if (!backup.ok()) {
      return backup.status();
    }
    report.backup = *backup;
  }
  Impl::ExecContext forward;
  forward.phase = "forward";
  forward.steps = plan->steps;
  forward.verify = true;
  forward.row_loss_allowed = row_loss_allowed;
  internal::SchemaFingerprint fingerprint_before;
  try {
    pqxx::read_transaction tx(impl.session->conn());
    if (impl.options.verify_row_counts) {
      forward.counts_before = internal::CountRelationRows(tx, impl.VersionTable());
    }
    fingerprint_before = internal::ReadSchemaFingerprint(tx, impl.VersionTable());
    // The start of a run re-records the schema of where the database is; a
    // change made by hand since it was last recorded becomes part of that
    // reference, so say so instead of absorbing it silently.
    if (Status drift = impl.CheckSchema(tx, plan->from_versions, fingerprint_before);
        drift.code() == Code::kSchemaDrift) {
      impl.Emit("warning", "the schema changed since it was last recorded at " +
                               VersionsText(plan->from_versions) +
                               " (by hand?); recording it as that revision's schema: " +
                               drift.message());
    }
  } catch (const std::exception& error) {
    return impl.FromException(error, "cannot count rows and read the schema before the run",
                              Code::kInternal);
  }
  json pinned_files = json::object();
  for (const auto& step : plan->steps) {
    auto file = impl.FileFor(step.revision, *archive);
    if (!file.ok()) {
      return file.status();
    }
    pinned_files[step.revision] = Sha256Hex((*file)->text);
  }
  json plan_json = {{"steps", StepsToJson(plan->steps)},
                    {"verify", true},
                    {"files", pinned_files},
                    {"counts_before", CountsToJson(forward.counts_before)},
                    {"row_loss_allowed", std::vector<std::string>(row_loss_allowed.begin(),
                                                                  row_loss_allowed.end())},
                    {"target", std::string(target)}};
  if (report.backup) {
    plan_json["backup"] = {{"path", report.backup->path}, {"sha256", report.backup->sha256}};
  }
  auto run_id = impl.InsertRun(plan->from_versions, plan->to_versions, PlanDirection(*plan), plan_json,
                               "running", impl.options.run_key, &fingerprint_before);
  if (!run_id.ok()) {
    return run_id.status();
  }
  forward.run_id = *run_id;
  report.run_id = *run_id;
  impl.Emit("migrating", "run " + std::to_string(*run_id) + ": " + PlanDirection(*plan) + " " +
                             VersionsText(plan->from_versions) + " -> " +
                             VersionsText(plan->to_versions) + " in " +
                             std::to_string(plan->steps.size()) + " step(s)");
  Status executed = impl.Execute(forward, Cursor{}, *archive);
  if (executed.ok()) {
    report.outcome = RunOutcome::kSucceeded;
    report.steps_applied = static_cast<int>(plan->steps.size());
  } else {
    report.outcome = impl.HandleFailure(forward, plan->from_versions, *archive, &executed);
    report.status = executed;
    report.steps_applied =
        report.outcome == RunOutcome::kFailed ? std::min(forward.committed.step, static_cast<int>(plan->steps.size())) : 0;
  }
  // Report where the database really is, also after a lost connection.
  auto final_versions = impl.EnsureSession().ok() ? impl.ReadVersions()
                                                  : core::Result<std::vector<std::string>>(
                                                        Status(Code::kUnreachable, "no session"));
  if (final_versions.ok()) {
    report.final_versions = *final_versions;
  }
  report.sql_duration = std::chrono::duration_cast<std::chrono::milliseconds>(impl.sql_time);
  report.total_duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return report;
}

Status Migrator::Stamp(std::string_view target) {
  Impl& impl = *impl_;
  Status connected = impl.EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  Status locked = impl.AcquireLock();
  if (!locked.ok()) {
    return locked;
  }
  Impl::LockGuard guard{&impl, true};
  auto archive = impl.ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  auto merged = impl.MergedGraph(*archive);
  if (!merged.ok()) {
    return merged.status();
  }
  auto current = impl.ReadVersions();
  if (!current.ok()) {
    return current.status();
  }
  std::vector<std::string> known_current;
  for (const auto& version : *current) {
    if (merged->Contains(version)) {
      known_current.push_back(version);
    }
  }
  auto resolved = core::ResolveTarget(*merged, known_current, target);
  if (!resolved.ok()) {
    return resolved.status();
  }
  Status schema = impl.EnsureSchema();
  if (!schema.ok()) {
    return schema;
  }
  try {
    pqxx::work tx(impl.session->conn());
    impl.WriteVersions(tx, *resolved);
    std::set<std::string> applied;
    for (const auto& revision : *resolved) {
      applied.insert(revision);
      auto ancestors = merged->Ancestors(revision);
      applied.insert(ancestors.begin(), ancestors.end());
    }
    for (const auto& revision : applied) {
      if (const auto* file = impl.GivenFile(revision)) {
        Impl::ArchiveFile(tx, *file, /*overwrite=*/false);
      }
    }
    tx.exec_params(std::string("INSERT INTO ") + kSchema +
                       ".run_log (from_versions, to_versions, direction, actor, outcome, "
                       "finished_at) VALUES (string_to_array($1, ','), string_to_array($2, ','), "
                       "'stamp', $3, 'succeeded', clock_timestamp())",
                   Join(*current, ","), Join(*resolved, ","), impl.options.actor);
    impl.RequireLock(tx);
    tx.commit();
  } catch (const LockLostError& error) {
    return Status(Code::kLockHeld, std::string("stamp: ") + error.what(), "lock-lost");
  } catch (const std::exception& error) {
    return impl.FromException(error, "stamp failed");
  }
  impl.Emit("committed", "stamped " + VersionsText(*resolved) + " (no SQL run)");
  return Status::Ok();
}

core::Result<VerifyReport> Migrator::Verify() {
  Impl& impl = *impl_;
  Status connected = impl.EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  VerifyReport report;
  auto archive = impl.ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  auto merged = impl.MergedGraph(*archive);
  if (!merged.ok()) {
    return merged.status();
  }
  auto current = impl.ReadVersions();
  if (!current.ok()) {
    return current.status();
  }
  report.versions = *current;
  for (const auto& version : *current) {
    if (!merged->Contains(version)) {
      report.problems.push_back("the database is at revision '" + version +
                                "', which the migration files do not contain");
    }
  }
  for (auto& problem : impl.ChecksumProblems(*merged, *current, *archive)) {
    report.problems.push_back(std::move(problem));
  }
  try {
    pqxx::read_transaction tx(impl.session->conn());
    for (const auto& row : tx.exec(
             "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
             "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE NOT i.indisvalid ORDER BY 1")) {
      report.problems.push_back("index " + row[0].as<std::string>() +
                                " is INVALID (a failed CREATE INDEX CONCURRENTLY); re-run the "
                                "migration, which rebuilds it");
    }
    if (Impl::TableExists(tx, std::string(kSchema) + ".run_log")) {
      for (const auto& row : tx.exec(std::string("SELECT id, actor FROM ") + kSchema +
                                     ".run_log WHERE outcome = 'running'")) {
        report.problems.push_back("run " + row[0].as<std::string>() + " by " +
                                  row[1].as<std::string>() +
                                  " is still marked running (in progress, or interrupted: the "
                                  "next upgrade/downgrade recovers it)");
      }
    }
  } catch (const std::exception& error) {
    return impl.FromException(error, "verify failed", Code::kInternal);
  }
  try {
    pqxx::read_transaction tx(impl.session->conn());
    if (impl.options.verify_schema) {
      auto live = internal::ReadSchemaFingerprint(tx, impl.VersionTable());
      Status schema = impl.CheckSchema(tx, *current, live);
      if (!schema.ok()) {
        report.problems.push_back(schema.message());
      }
    }
    for (const auto& check : impl.options.checks) {
      Status checked = impl.RunCheck(tx, check, "at " + VersionsText(*current));
      if (!checked.ok()) {
        report.problems.push_back(checked.message());
      }
    }
  } catch (const std::exception& error) {
    return impl.FromException(error, "verify failed", Code::kInternal);
  }
  return report;
}

core::Result<BackupInfo> Migrator::Backup() {
  auto current = impl_->ReadVersions();
  if (!current.ok()) {
    return current.status();
  }
  return impl_->DoBackup(current->empty() ? "base" : Join(*current, "+"));
}

Status Migrator::Restore(const std::string& path) {
  Impl& impl = *impl_;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status(Code::kNotFound, "backup file '" + path + "' does not exist");
  }
  Status locked = impl.AcquireLock();
  if (!locked.ok()) {
    return locked;
  }
  Impl::LockGuard guard{&impl, true};
  auto extra = impl.RelationsMissingFromDump(path);
  if (!extra.ok()) {
    return extra.status();
  }
  if (!extra->empty()) {
    return Status(Code::kInvalidArgument,
                  "the database has " + std::to_string(extra->size()) +
                      " relation(s) that backup '" + path + "' does not contain (" +
                      Join(*extra, ", ") +
                      "), probably created after the backup; pg_restore would leave them in "
                      "place, so the result would not be the backup. Downgrade to the backup's "
                      "revision first (or drop them), then restore; nothing was changed");
  }
  auto before = impl.ReadVersions();
  impl.Emit("restoring", "pg_restore --clean --if-exists --single-transaction " + path);
  auto child = internal::ChildConnection::Create(impl.info);
  if (!child.ok()) {
    return child.status();
  }
  auto result = internal::RunProcess(impl.Tool("pg_restore"),
                                     {"--clean", "--if-exists", "--single-transaction", "--no-password",
                                      std::string("--dbname=service=") +
                                          internal::ChildConnection::kService,
                                      path},
                                     (*child)->Environment());
  if (!result.started || result.exit_code != 0) {
    return Status(Code::kBackupFailed,
                  "pg_restore failed (exit " + std::to_string(result.exit_code) + "): " +
                      core::ScrubSecret(result.output, impl.info.password) +
                      " (--single-transaction: the database is unchanged)");
  }
  auto after = impl.ReadVersions();
  if (impl.EnsureSchema().ok() && after.ok()) {
    json plan = {{"restored_from", path}};
    (void)impl.InsertRun(before.ok() ? *before : std::vector<std::string>(), *after, "restore", plan,
                         "succeeded");
  }
  impl.Emit("restored", "restored " + path + "; the database is at " +
                            (after.ok() ? VersionsText(*after) : std::string("?")));
  return Status::Ok();
}

core::Result<std::vector<RunLogEntry>> Migrator::History(int limit) {
  std::vector<RunLogEntry> entries;
  try {
    pqxx::read_transaction tx(impl_->session->conn());
    if (!Impl::TableExists(tx, std::string(kSchema) + ".run_log")) {
      return entries;
    }
    const char* kTime = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";
    for (const auto& row : tx.exec_params(
             std::string("SELECT id, array_to_string(from_versions, ','), "
                         "array_to_string(to_versions, ','), direction, actor, "
                         "to_char(started_at AT TIME ZONE 'UTC', ") +
                 kTime + "), coalesce(to_char(finished_at AT TIME ZONE 'UTC', " + kTime +
                 "), ''), outcome, coalesce(error, '') FROM " + kSchema +
                 ".run_log ORDER BY id DESC LIMIT $1",
             limit)) {
      RunLogEntry entry;
      entry.id = row[0].as<std::int64_t>();
      entry.from_versions = SplitComma(row[1].as<std::string>());
      entry.to_versions = SplitComma(row[2].as<std::string>());
      entry.direction = row[3].as<std::string>();
      entry.actor = row[4].as<std::string>();
      entry.started_at = row[5].as<std::string>();
      entry.finished_at = row[6].as<std::string>();
      entry.outcome = row[7].as<std::string>();
      entry.error = row[8].as<std::string>();
      entries.push_back(std::move(entry));
    }
  } catch (const std::exception& error) {
    return impl_->FromException(error, "cannot read schemaop.run_log", Code::kInternal);
  }
  return entries;
}

Status Migrator::WaitAtLeast(std::string_view revision, std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  auto resolved = impl.graph.ResolveId(revision);
  if (!resolved.ok()) {
    return resolved.status();
  }
  auto deadline = Clock::now() + timeout;
  std::vector<std::string> last;
  bool announced = false;
  for (;;) {
    auto archive = impl.ReadArchive();
    if (!archive.ok()) {
      return archive.status();
    }
    auto merged = impl.MergedGraph(*archive);
    if (!merged.ok()) {
      return merged.status();
    }
    auto current = impl.ReadVersions();
    if (!current.ok()) {
      return current.status();
    }
    last = *current;
    for (const auto& version : *current) {
      if (version == *resolved ||
          (merged->Contains(version) && merged->Ancestors(version).count(*resolved) != 0)) {
        impl.Emit("ready", "the database is at " + VersionsText(*current) + ", at least " + *resolved);
        return Status::Ok();
      }
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return Status(Code::kTimeout, "the database is still at " + VersionsText(last) + " after " +
                                        std::to_string(timeout.count() / 1000) +
                                        " s, not yet at " + *resolved +
                                        " or later; is a migration running? (raise --timeout)");
    }
    if (!announced) {
      impl.Emit("waiting", "the database is at " + VersionsText(last) + "; waiting for " + *resolved);
      announced = true;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(500), deadline - now));
  }
}

core::Result<std::string> Migrator::PlanDigest(const core::Plan& plan) {
  Impl& impl = *impl_;
  Status connected = impl.EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  auto archive = impl.ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  return impl.PlanDigestWith(plan, *archive);
}

core::Result<std::string> Migrator::DatabaseIdentity() {
  Impl& impl = *impl_;
  Status connected = impl.EnsureSession();
  if (!connected.ok()) {
    return connected;
  }
  std::string server;
  try {
    // pg_control_system() names the cluster whatever address reached it; a
    // role without EXECUTE on it falls back to the server's own address.
    // (A subtransaction, not a bare SAVEPOINT: libpqxx closes the outer
    // transaction object on any error raised through it.)
    pqxx::work tx(impl.session->conn());
    try {
      pqxx::subtransaction identity(tx, "identity");
      server = "sysid:" +
               identity.exec1("SELECT system_identifier::text FROM pg_control_system()")[0]
                   .as<std::string>();
      identity.commit();
    } catch (const pqxx::sql_error&) {
      server = "addr:" + tx.exec1("SELECT coalesce(host(inet_server_addr()), 'socket:' || "
                                  "current_setting('unix_socket_directories')) || ':' || "
                                  "current_setting('port')")[0]
                             .as<std::string>();
    }
    auto row = tx.exec1(
        "SELECT d.oid::text, d.datname FROM pg_database d WHERE d.datname = current_database()");
    server += "|db:" + row[0].as<std::string>() + ":" + row[1].as<std::string>();
  } catch (const std::exception& error) {
    return impl.FromException(error, "cannot read the database's identity", Code::kInternal);
  }
  return Sha256Hex(server);
}

core::Result<std::string> Migrator::OfflineSql(const core::Plan& plan) {
  Impl& impl = *impl_;
  auto archive = impl.ReadArchive();
  if (!archive.ok()) {
    return archive.status();
  }
  std::ostringstream out;
  out << "-- schemaop offline SQL: " << VersionsText(plan.from_versions) << " -> "
      << VersionsText(plan.to_versions) << " (" << plan.steps.size() << " step(s))\n"
      << "-- `schemaop upgrade/downgrade` runs the same SQL with locking, backup, verification and rollback.\n\n";
  if (plan.empty()) {
    out << "-- nothing to do\n";
    return out.str();
  }
  bool open = false;
  auto begin = [&] {
    if (!open) {
      out << "BEGIN;\n\n";
      open = true;
    }
  };
  std::string table = impl.VersionTable();
  begin();
  out << "CREATE TABLE IF NOT EXISTS " << table << " (version_num VARCHAR(32) NOT NULL, CONSTRAINT "
      << table << "_pkc PRIMARY KEY (version_num));\n\n";
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& step = plan.steps[s];
    auto file = impl.FileFor(step.revision, *archive);
    if (!file.ok()) {
      return file.status();
    }
    out << "-- step " << (s + 1) << ": " << DirectionWord(step.direction) << " " << step.revision
        << " (" << (*file)->source_name << ")\n";
    for (const auto* section : (*file)->SectionsFor(step.direction)) {
      if (section->transactional) {
        begin();
        out << TerminatedSql(section->sql) << "\n";
        continue;
      }
      if (open) {
        out << "COMMIT;\n\n";
        open = false;
      }
      out << "-- transaction:false: run each statement on its own, outside a transaction\n";
      for (const auto& statement : core::SplitSqlStatements(section->sql)) {
        out << TerminatedSql(statement.text);
      }
      out << "\n";
    }
    begin();
    out << "DELETE FROM " << table << ";\n";
    for (const auto& version : step.versions_after) {
      out << "INSERT INTO " << table << " (version_num) VALUES ('" << version << "');\n";
    }
    out << "\n";
  }
  if (open) {
    out << "COMMIT;\n";
  }
  return out.str();
}

}  // namespace schemaop::database
