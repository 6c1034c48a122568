// The command layer, part 4: `plan --sql` (Migrator::OfflineSql), the SQL a
// run would execute as one psql script.
#include <sstream>

#include "core/sql_splitter.h"
#include "database/executor.h"
#include "database/migrator_impl.h"
#include "database/version_table.h"

namespace schemaop::database {
namespace {

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

// Writes the script, opening a transaction only where one is needed.
class ScriptWriter {
 public:
  explicit ScriptWriter(std::ostringstream& out) : out_(out) {}
  void Begin() {
    if (!open_) {
      out_ << "BEGIN;\n\n";
      open_ = true;
    }
  }
  void Commit() {
    if (open_) {
      out_ << "COMMIT;\n\n";
      open_ = false;
    }
  }
  bool open() const { return open_; }

  // `in_window(k)`: the schedule puts section k in the window (design §3.1).
  template <typename InWindow>
  void Sections(const core::MigrationFile& file, core::Direction direction,
                const InWindow& in_window) {
    int k = -1;
    for (const auto* section : file.SectionsFor(direction)) {
      ++k;
      const std::string phase = section->phase == core::SectionPhase::kWindow
                                    ? std::string()
                                    : "-- phase:" + core::SectionPhaseName(section->phase) + "\n";
      if (section->transactional && section->batch_rows == 0) {
        Begin();
        out_ << phase << TerminatedSql(section->sql) << "\n";
        continue;
      }
      if (section->batch_rows > 0 && in_window(k)) {
        Begin();  // the window stays one transaction, as the engine runs it
        out_ << phase;
        Batch(*section, /*commit_each=*/false);
        continue;
      }
      Commit();
      out_ << phase;
      if (section->batch_rows > 0) {
        Batch(*section, /*commit_each=*/true);
        continue;
      }
      out_ << "-- transaction:false: run each statement on its own, outside a transaction\n";
      for (const auto& statement : core::SplitSqlStatements(section->sql)) {
        out_ << TerminatedSql(statement.text);
      }
      out_ << "\n";
    }
  }

  // design §3.1: each repetition commits on its own (a DO block may COMMIT
  // when psql runs it outside a transaction block, PostgreSQL 11 and later);
  // in the window every repetition stays in the window's transaction.
  void Batch(const core::Section& section, bool commit_each) {
    const std::string statement = core::SplitSqlStatements(section.sql).front().text;
    std::string tag = "schemaop_batch";
    for (int n = 1; statement.find("$" + tag) != std::string::npos; ++n) {
      tag = "schemaop_batch" + std::to_string(n);
    }
    out_ << "-- batch:" << section.batch_rows
         << (commit_each ? ": repeated, each time in its own transaction, until it changes no row\n"
                         : ": in the window, repeated inside its transaction until it changes "
                           "no row\n")
         << "DO $" << tag << "_do$\nDECLARE changed bigint;\nBEGIN\n  LOOP\n"
         << (commit_each ? "    SET LOCAL lock_timeout = '10s';\n" : "")
         << "    EXECUTE $" << tag << "$" << statement << "$" << tag << "$;\n"
         << "    GET DIAGNOSTICS changed = ROW_COUNT;\n" << (commit_each ? "    COMMIT;\n" : "")
         << "    EXIT WHEN changed = 0;\n  END LOOP;\nEND\n$" << tag << "_do$;\n\n";
  }

  void Versions(const std::string& table, const std::vector<std::string>& versions) {
    Begin();
    out_ << "DELETE FROM " << table << ";\n";
    for (const auto& version : versions) {
      out_ << "INSERT INTO " << table << " (version_num) VALUES ('" << version << "');\n";
    }
    out_ << "\n";
  }

 private:
  std::ostringstream& out_;
  bool open_ = false;
};

}  // namespace

core::Result<std::string> Migrator::OfflineSql(const core::Plan& plan) {
  internal::Runtime& rt = *impl_;
  auto archive = internal::LoadArchive(rt);
  if (!archive.ok()) {
    return archive.status();
  }
  std::ostringstream out;
  out << "-- schemaop offline SQL: " << internal::VersionsText(plan.from_versions) << " -> "
      << internal::VersionsText(plan.to_versions) << " (" << plan.steps.size() << " step(s))\n"
      << "-- `schemaop upgrade/downgrade` runs the same SQL with locking, backup, verification and "
         "rollback.\n\n";
  if (plan.empty()) {
    out << "-- nothing to do\n";
    return out.str();
  }
  auto schedule = internal::ScheduleOf(rt, *archive, plan.steps);
  if (!schedule.ok()) {
    return schedule.status();
  }
  ScriptWriter script(out);
  const std::string& table = rt.VersionTable();
  script.Begin();
  out << internal::CreateVersionTableSql(table) << ";\n\n";
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& step = plan.steps[s];
    auto file = rt.scripts.FileFor(step.revision, *archive);
    if (!file.ok()) {
      return file.status();
    }
    out << "-- step " << (s + 1) << ": " << internal::DirectionWord(step.direction) << " "
        << step.revision << " (" << (*file)->source_name << ")\n";
    script.Sections(**file, step.direction, [&schedule, s](int k) {
      const std::size_t at = schedule->IndexOf(static_cast<int>(s), k);
      return at >= schedule->window_begin && at < schedule->contract_begin;
    });
    script.Versions(table, step.versions_after);
  }
  if (script.open()) {
    out << "COMMIT;\n";
  }
  return out.str();
}

}  // namespace schemaop::database
