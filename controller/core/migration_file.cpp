#include "core/migration_file.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "core/phase_safety.h"
#include "core/sql_splitter.h"

namespace schemaop::core {
namespace {

constexpr std::size_t kMaxRevisionIdLength = 32;
constexpr long kMaxBatchRows = 1000000000;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsIdentifierStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}
bool IsIdentifierChar(char c) {
  return IsIdentifierStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// The text after a leading `--` (and the spaces after it), if `line` is a
// line comment.
std::optional<std::string_view> CommentBody(std::string_view line) {
  line = TrimLeft(line);
  if (line.substr(0, 2) != "--") {
    return std::nullopt;
  }
  return Trim(line.substr(2));
}

struct HeaderLine {
  std::string key;
  std::string value;
};

// `-- identifier: value` (the colon followed by a space or the end of the
// line, so `-- see http://x` stays a plain comment).
std::optional<HeaderLine> AsHeaderLine(std::string_view body) {
  if (body.empty() || !IsIdentifierStart(body.front())) {
    return std::nullopt;
  }
  std::size_t i = 0;
  while (i < body.size() && IsIdentifierChar(body[i])) {
    ++i;
  }
  if (i >= body.size() || body[i] != ':') {
    return std::nullopt;
  }
  if (i + 1 < body.size() && !IsSpace(body[i + 1])) {
    return std::nullopt;
  }
  return HeaderLine{std::string(body.substr(0, i)), std::string(Trim(body.substr(i + 1)))};
}

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> items;
  std::string current;
  for (char c : value) {
    if (c == ',' || IsSpace(c)) {
      if (!current.empty()) {
        items.push_back(current);
        current.clear();
      }
    } else {
      current += c;
    }
  }
  if (!current.empty()) {
    items.push_back(current);
  }
  return items;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool WordsAt(const std::vector<std::string>& words, std::size_t at,
             std::initializer_list<const char*> expected) {
  for (const char* word : expected) {
    if (at >= words.size() || words[at] != word) {
      return false;
    }
    ++at;
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view source_name) : text_(text), name_(source_name) {}

  Result<MigrationFile> Parse() {
    file_.source_name = std::string(name_);
    file_.text = std::string(text_);

    int line_number = 0;
    std::size_t pos = 0;
    while (pos < text_.size()) {
      std::size_t newline = text_.find('\n', pos);
      const std::size_t end = newline == std::string_view::npos ? text_.size() : newline;
      std::string_view line = text_.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      ++line_number;
      Status status = ParseLine(line, line_number);
      if (!status.ok()) {
        return status;
      }
      pos = newline == std::string_view::npos ? text_.size() : newline + 1;
    }
    const int last_line = line_number == 0 ? 1 : line_number;

    if (file_.revision.empty()) {
      return Error(1, "missing `-- revision: <id>` header; every migration file starts with one");
    }
    if (file_.SectionsFor(Direction::kUp).empty()) {
      const int line = file_.sections.empty() ? last_line : file_.sections.front().first_line;
      return Error(line, "no `-- migrate:up` section; add one with the upgrade SQL");
    }
    for (const Section& section : file_.sections) {
      Status status = CheckStatements(section);
      if (!status.ok()) {
        return status;
      }
    }
    return std::move(file_);
  }

 private:
  Status Error(int line, const std::string& problem) const {
    return Status(Code::kParseError,
                  std::string(name_) + ":" + std::to_string(line) + ": " + problem);
  }
  std::string Where(int line) const {
    return std::string(name_) + ":" + std::to_string(line) + ": ";
  }

  Status ParseLine(std::string_view line, int line_number) {
    const std::optional<std::string_view> comment = CommentBody(line);
    if (comment && comment->substr(0, 8) == "migrate:") {
      return ParseMarker(*comment, line_number);
    }
    if (!file_.sections.empty()) {
      std::string& sql = file_.sections.back().sql;
      sql.append(line.data(), line.size());
      sql += '\n';
      return Status::Ok();
    }
    // Still in the header.
    if (Trim(line).empty()) {
      return Status::Ok();
    }
    if (!comment) {
      return Error(line_number,
                   "SQL before the first `-- migrate:up` marker; statements belong inside a "
                   "section");
    }
    const std::optional<HeaderLine> header = AsHeaderLine(*comment);
    if (!header) {
      return Status::Ok();  // a plain comment
    }
    return ParseHeader(*header, line_number);
  }

  Status ParseHeader(const HeaderLine& header, int line_number) {
    static const char* const kKnownKeys[] = {"revision", "down_revision", "message",
                                             "down_row_loss"};
    bool known = false;
    for (const char* key : kKnownKeys) {
      known = known || header.key == key;
    }
    if (!known) {
      return Error(line_number,
                   "unknown header key '" + header.key +
                       "' (known keys: revision, down_revision, message, down_row_loss); a "
                       "plain comment in the header must not look like `-- key: value`");
    }
    const auto [it, inserted] = header_lines_.emplace(header.key, line_number);
    if (!inserted) {
      return Error(line_number, "duplicate header key '" + header.key + "' (first set on line " +
                                    std::to_string(it->second) + ")");
    }
    if (header.key == "revision") {
      if (!IsValidRevisionId(header.value)) {
        return Error(line_number, "bad revision id '" + header.value +
                                      "': use 1-32 characters from A-Z, a-z, 0-9 and _");
      }
      file_.revision = header.value;
    } else if (header.key == "down_revision") {
      std::vector<std::string> parents = SplitList(header.value);
      if (parents.size() == 1 && Upper(parents.front()) == "NONE") {
        parents.clear();
      }
      for (std::size_t i = 0; i < parents.size(); ++i) {
        if (!IsValidRevisionId(parents[i])) {
          return Error(line_number, "bad revision id '" + parents[i] +
                                        "' in down_revision: use 1-32 characters from A-Z, a-z, "
                                        "0-9 and _, separated by commas");
        }
        for (std::size_t j = 0; j < i; ++j) {
          if (parents[j] == parents[i]) {
            return Error(line_number, "down_revision lists '" + parents[i] + "' twice");
          }
        }
      }
      file_.down_revisions = std::move(parents);
    } else if (header.key == "message") {
      file_.message = header.value;
    } else {
      file_.down_row_loss = SplitList(header.value);
    }
    return Status::Ok();
  }

  Status ParseMarker(std::string_view body, int line_number) {
    body.remove_prefix(8);  // "migrate:"
    std::size_t word_end = 0;
    while (word_end < body.size() && !IsSpace(body[word_end])) {
      ++word_end;
    }
    const std::string_view direction_word = body.substr(0, word_end);
    Section section;
    section.first_line = line_number;
    if (direction_word == "up") {
      section.direction = Direction::kUp;
    } else if (direction_word == "down") {
      section.direction = Direction::kDown;
    } else {
      return Error(line_number, "unknown marker 'migrate:" + std::string(direction_word) +
                                    "'; use `-- migrate:up` or `-- migrate:down`");
    }
    for (const std::string& option : SplitList(body.substr(word_end))) {
      if (Status parsed = ParseOption(option, section, line_number); !parsed.ok()) {
        return parsed;
      }
    }
    if (section.batch_rows > 0 && !section.transactional) {
      return Error(line_number,
                   "batch:N runs each repetition in its own transaction; remove "
                   "transaction:false from this marker");
    }
    if (section.batch_rows > 0 && section.phase == SectionPhase::kWindow) {
      return Error(line_number,
                   "batch:N sections run outside the write-downtime window; add "
                   "phase:expand or phase:contract to this marker");
    }
    if (!file_.sections.empty()) {
      const Section& previous = file_.sections.back();
      if (section.direction == Direction::kUp && previous.direction == Direction::kDown) {
        return Error(line_number,
                     "up section after a down section; put every `-- migrate:up` "
                     "section before the first `-- migrate:down`");
      }
      if (previous.direction == section.direction && section.phase < previous.phase) {
        return Error(line_number, "phase:" + SectionPhaseName(section.phase) +
                                      " section after a phase:" + SectionPhaseName(previous.phase) +
                                      " section (line " + std::to_string(previous.first_line) +
                                      "); order each direction's sections expand, window, "
                                      "contract");
      }
      if (previous.direction == section.direction &&
          previous.transactional == section.transactional && previous.phase == section.phase &&
          previous.batch_rows == 0 && section.batch_rows == 0) {
        return Error(line_number,
                     "duplicate section `-- migrate:" + DirectionName(section.direction) +
                         (section.transactional ? "" : " transaction:false") +
                         (section.phase == SectionPhase::kWindow
                              ? ""
                              : " phase:" + SectionPhaseName(section.phase)) +
                         "` right after the same marker on line " +
                         std::to_string(previous.first_line) + "; merge the two sections");
      }
    }
    file_.sections.push_back(std::move(section));
    return Status::Ok();
  }

  Status ParseOption(const std::string& option, Section& section, int line_number) const {
    if (option == "transaction:false" || option == "transaction:true") {
      section.transactional = option == "transaction:true";
    } else if (option == "phase:expand" || option == "phase:window" || option == "phase:contract") {
      section.phase = option == "phase:expand"   ? SectionPhase::kExpand
                      : option == "phase:window" ? SectionPhase::kWindow
                                                 : SectionPhase::kContract;
    } else if (option.substr(0, 6) == "phase:") {
      return Error(line_number, "unknown phase '" + option.substr(6) +
                                    "'; use phase:expand, phase:window or phase:contract");
    } else if (option.substr(0, 6) == "batch:") {
      const std::string digits = option.substr(6);
      const bool numeric = !digits.empty() && digits.size() <= 10 &&
                           std::all_of(digits.begin(), digits.end(), [](char c) {
                             return std::isdigit(static_cast<unsigned char>(c)) != 0;
                           });
      const long rows = numeric ? std::stol(digits) : 0;
      if (rows < 1 || rows > kMaxBatchRows) {
        return Error(line_number, "bad batch size '" + digits +
                                      "': batch:N takes a whole number of rows from 1 to " +
                                      std::to_string(kMaxBatchRows));
      }
      section.batch_rows = rows;
    } else {
      return Error(line_number, "unknown marker option '" + option +
                                    "'; the options are transaction:false, "
                                    "phase:expand|window|contract and batch:N");
    }
    return Status::Ok();
  }

  // A batch:N section is one statement that changes rows (design §3.1).
  Status CheckBatch(const Section& section, const std::vector<SqlStatement>& statements) const {
    std::size_t count = 0;
    std::vector<std::string> words;
    for (const SqlStatement& statement : statements) {
      std::vector<std::string> these = SqlBareWords(statement.text);
      if (!these.empty()) {
        ++count;
        words = std::move(these);
      }
    }
    const std::string& verb = words.empty() ? std::string() : words[0];
    if (count != 1 ||
        (verb != "UPDATE" && verb != "DELETE" && verb != "INSERT" && verb != "WITH")) {
      return Error(section.first_line,
                   "a batch:" + std::to_string(section.batch_rows) +
                       " section holds exactly one UPDATE, DELETE, INSERT or WITH statement "
                       "that changes at most " +
                       std::to_string(section.batch_rows) + " rows per run (found " +
                       std::to_string(count) + " statement(s)); split the section");
    }
    return Status::Ok();
  }

  void CheckExpandSafety(const Section& section, const std::vector<SqlStatement>& statements) {
    for (const SqlStatement& statement : statements) {
      const std::vector<std::string> words = SqlBareWords(statement.text);
      const std::string created = CreatedTable(words);
      if (!created.empty()) {
        created_in_expand_.insert(created);
        continue;
      }
      if (auto hazard = ExpandHazard(words, created_in_expand_)) {
        file_.warnings.push_back(
            Where(section.first_line + statement.first_line) +
            "unsafe in phase:expand (the old application is running): " + *hazard);
      }
    }
  }

  // Statements that cannot run in a transaction block must sit in a
  // transaction:false section; those that do should be safe to re-run, since
  // an autocommit statement can succeed and then lose its progress record.
  Status CheckStatements(const Section& section) {
    const std::vector<SqlStatement> statements = SplitSqlStatements(section.sql);
    if (section.batch_rows > 0) {
      if (Status batch = CheckBatch(section, statements); !batch.ok()) {
        return batch;
      }
    }
    if (section.phase == SectionPhase::kExpand) {
      CheckExpandSafety(section, statements);
    }
    for (const SqlStatement& statement : statements) {
      const std::vector<std::string> words = SqlBareWords(statement.text);
      if (words.empty()) {
        continue;
      }
      const int line = section.first_line + statement.first_line;
      const std::size_t index_at = WordsAt(words, 1, {"UNIQUE"}) ? 2 : 1;
      const bool create_concurrently =
          words[0] == "CREATE" && WordsAt(words, index_at, {"INDEX", "CONCURRENTLY"});
      const bool drop_concurrently = WordsAt(words, 0, {"DROP", "INDEX", "CONCURRENTLY"});
      bool mentions_concurrently = false;
      for (const std::string& word : words) {
        mentions_concurrently = mentions_concurrently || word == "CONCURRENTLY";
      }
      // REFRESH MATERIALIZED VIEW CONCURRENTLY is allowed in a transaction.
      const bool needs_autocommit = mentions_concurrently && words[0] != "REFRESH";
      if (section.transactional) {
        if (needs_autocommit) {
          std::string what = words[0];
          for (std::size_t i = 1; i < words.size() && i < 4; ++i) {
            what += " " + words[i];
            if (words[i] == "CONCURRENTLY") {
              break;
            }
          }
          return Error(line, what +
                                 "... cannot run inside a transaction; move it to a `-- migrate:" +
                                 DirectionName(section.direction) + " transaction:false` section");
        }
        continue;
      }
      if (create_concurrently && !WordsAt(words, index_at + 2, {"IF", "NOT", "EXISTS"})) {
        file_.warnings.push_back(
            Where(line) +
            "CREATE INDEX CONCURRENTLY without IF NOT EXISTS fails when re-run after an "
            "interruption; write CREATE INDEX CONCURRENTLY IF NOT EXISTS");
      }
      if (drop_concurrently && !WordsAt(words, 3, {"IF", "EXISTS"})) {
        file_.warnings.push_back(
            Where(line) +
            "DROP INDEX CONCURRENTLY without IF EXISTS fails when re-run after an "
            "interruption; write DROP INDEX CONCURRENTLY IF EXISTS");
      }
    }
    return Status::Ok();
  }

  std::string_view text_;
  std::string_view name_;
  MigrationFile file_;
  std::map<std::string, int> header_lines_;
  std::set<std::string> created_in_expand_;
};

}  // namespace

std::string DirectionName(Direction direction) {
  return direction == Direction::kUp ? "up" : "down";
}

std::string SectionPhaseName(SectionPhase phase) {
  switch (phase) {
    case SectionPhase::kExpand:
      return "expand";
    case SectionPhase::kContract:
      return "contract";
    case SectionPhase::kWindow:
      break;
  }
  return "window";
}

std::vector<const Section*> MigrationFile::SectionsFor(Direction direction,
                                                       SectionPhase phase) const {
  std::vector<const Section*> out;
  for (const Section& section : sections) {
    if (section.direction == direction && section.phase == phase) {
      out.push_back(&section);
    }
  }
  return out;
}

bool MigrationFile::HasPhases(Direction direction) const {
  return std::any_of(sections.begin(), sections.end(), [direction](const Section& section) {
    return section.direction == direction && section.phase != SectionPhase::kWindow;
  });
}

std::vector<const Section*> MigrationFile::SectionsFor(Direction direction) const {
  std::vector<const Section*> out;
  for (const Section& section : sections) {
    if (section.direction == direction) {
      out.push_back(&section);
    }
  }
  return out;
}

bool MigrationFile::HasDown() const {
  return std::any_of(sections.begin(), sections.end(),
                     [](const Section& section) { return section.direction == Direction::kDown; });
}

bool IsValidRevisionId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRevisionIdLength) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), IsIdentifierChar);
}

Result<MigrationFile> ParseMigrationFile(std::string_view text, std::string_view source_name) {
  return Parser(text, source_name).Parse();
}

}  // namespace schemaop::core
