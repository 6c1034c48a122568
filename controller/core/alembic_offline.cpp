#include "core/alembic_offline.h"

#include <cctype>

#include "core/sql_splitter.h"

namespace schemaop::core {
namespace {

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// Alembic's bookkeeping: CREATE TABLE / INSERT INTO / UPDATE / DELETE FROM /
// DROP TABLE on the version table it was configured with.
bool IsVersionTableStatement(const std::string& statement, const std::string& table_upper) {
  const auto words = SqlBareWords(statement);
  auto at = [&](std::size_t i) { return i < words.size() ? words[i] : std::string(); };
  const std::string& verb = at(0);
  if (verb == "UPDATE") {
    return at(1) == table_upper;
  }
  if ((verb == "CREATE" || verb == "DROP") && at(1) == "TABLE") {
    return at(2) == table_upper;
  }
  if ((verb == "INSERT" && at(1) == "INTO") || (verb == "DELETE" && at(1) == "FROM")) {
    return at(2) == table_upper;
  }
  return false;
}

// One line, printable: a docstring line may hold anything.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  return out;
}

std::string Marker(Direction direction, bool transactional) {
  return "-- migrate:" + DirectionName(direction) + (transactional ? "" : " transaction:false");
}

}  // namespace

std::string AlembicGraphProblem(const AlembicRevision& revision) {
  const std::string rule = "schemaop revision ids are [A-Za-z0-9_], 1 to 32 characters";
  if (!IsValidRevisionId(revision.revision)) {
    return "its revision id is not a valid schemaop revision id (" + rule +
           "); rename the revision (its `revision = ...` and every down_revision naming it)";
  }
  for (const auto& parent : revision.down_revisions) {
    if (!IsValidRevisionId(parent)) {
      return "its down_revision names a revision id that is not a valid schemaop revision id (" +
             rule + "); rename that revision";
    }
  }
  if (!revision.depends_on.empty()) {
    return "it has depends_on, which schemaop files have no equivalent for; make the dependency "
           "a parent (down_revision = (..., ...), a merge) or remove it";
  }
  return "";
}

std::string SectionsFromOfflineOutput(const std::vector<std::string>& pieces,
                                      Direction direction, std::string_view version_table) {
  const std::string table_upper = Upper(version_table);
  std::string out;
  bool in_transaction = false;
  std::optional<bool> section_transactional;
  for (const auto& piece : pieces) {
    const auto statements = SplitSqlStatements(piece);
    for (const auto& statement : statements) {
      const std::string word = Upper(statement.text);
      if (word == "BEGIN") {
        in_transaction = true;
        continue;
      }
      if (word == "COMMIT") {
        in_transaction = false;
        continue;
      }
      if (IsVersionTableStatement(statement.text, table_upper)) {
        continue;
      }
      if (section_transactional != in_transaction) {
        out += (out.empty() ? "" : "\n") + Marker(direction, in_transaction) + "\n";
        section_transactional = in_transaction;
      }
      // A statement whose last line holds a `--` comment gets its
      // terminator on a line of its own, so the comment cannot swallow it.
      const std::string& text = statement.text;
      const auto last_line = text.rfind('\n');
      const bool comment = text.find("--", last_line == std::string::npos ? 0 : last_line) !=
                           std::string::npos;
      out += text + (comment ? "\n;\n" : ";\n");
    }
  }
  if (out.empty()) {
    out = Marker(direction, true) + "\n-- (no statements: Alembic's " +
          (direction == Direction::kUp ? "upgrade" : "downgrade") + " emits none)\n";
  }
  return out;
}

std::string ImportedMigrationText(const AlembicRevision& revision, const std::string& up,
                                  const std::optional<std::string>& down) {
  std::string parents;
  for (const auto& parent : revision.down_revisions) {
    parents += (parents.empty() ? "" : ", ") + parent;
  }
  std::string text = "-- revision: " + revision.revision + "\n-- down_revision:" +
                     (parents.empty() ? "" : " " + parents) + "\n";
  if (!revision.message.empty()) {
    text += "-- message: " + OneLine(revision.message) + "\n";
  }
  text += "\n-- Converted by `schemaop import-alembic` from the Alembic revision " +
          OneLine(revision.source) + " (offline mode, --sql).\n";
  if (!revision.branch_labels.empty()) {
    std::string labels;
    for (const auto& label : revision.branch_labels) {
      labels += (labels.empty() ? "" : ", ") + OneLine(label);
    }
    text += "-- Alembic branch labels (schemaop names revisions by id only) = " + labels + "\n";
  }
  text += "\n" + up;
  if (down) {
    text += "\n" + *down;
  }
  return text;
}

}  // namespace schemaop::core
