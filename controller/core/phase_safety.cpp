#include "core/phase_safety.h"

#include <algorithm>

namespace schemaop::core {
namespace {

using Words = std::vector<std::string>;

bool Has(const Words& words, const char* word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

bool HasSequence(const Words& words, std::initializer_list<const char*> sequence) {
  if (sequence.size() > words.size()) {
    return false;
  }
  for (std::size_t i = 0; i + sequence.size() <= words.size(); ++i) {
    bool match = true;
    std::size_t j = i;
    for (const char* word : sequence) {
      match = match && words[j++] == word;
    }
    if (match) {
      return true;
    }
  }
  return false;
}

// The word after the first occurrence of `word` (empty when none).
std::string After(const Words& words, const char* word, std::size_t from = 0) {
  for (std::size_t i = from; i + 1 < words.size(); ++i) {
    if (words[i] == word) {
      return words[i + 1];
    }
  }
  return {};
}

// The table an ALTER TABLE statement names: ALTER TABLE [IF EXISTS] [ONLY] name.
std::string AlteredTable(const Words& words) {
  std::size_t i = 2;
  if (i < words.size() && words[i] == "IF") {
    i += 2;
  }
  if (i < words.size() && words[i] == "ONLY") {
    ++i;
  }
  return i < words.size() ? words[i] : std::string();
}

// ALTER [COLUMN] name [SET DATA] TYPE, after the table name.
bool ChangesColumnType(const Words& words) {
  for (std::size_t i = 3; i < words.size(); ++i) {
    if (words[i] != "ALTER") {
      continue;
    }
    std::size_t j = i + 1;
    if (j < words.size() && words[j] == "COLUMN") {
      ++j;
    }
    ++j;  // the column
    if (j < words.size() && (words[j] == "TYPE" || (words[j] == "SET" && j + 2 < words.size() &&
                                                    words[j + 1] == "DATA"))) {
      return true;
    }
  }
  return false;
}

const char kLockedRewrite[] =
    "rewrites the whole table under an ACCESS EXCLUSIVE lock, so the old application's reads "
    "and writes wait for it";

std::optional<std::string> AlterTableHazard(const Words& words) {
  if (HasSequence(words, {"DROP", "COLUMN"}) || HasSequence(words, {"RENAME"})) {
    return std::string(
        "drops or renames something the old application still uses; "
        "move it to a `phase:contract` section");
  }
  if (ChangesColumnType(words) || HasSequence(words, {"SET", "LOGGED"}) ||
      HasSequence(words, {"SET", "UNLOGGED"}) || HasSequence(words, {"SET", "TABLESPACE"})) {
    return std::string(kLockedRewrite) + "; add a new column and backfill it in a batch:N section";
  }
  if (HasSequence(words, {"SET", "NOT", "NULL"})) {
    return std::string(
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock; add a "
        "CHECK (column IS NOT NULL) NOT VALID in expand and VALIDATE it in the "
        "window");
  }
  const bool adds_column = HasSequence(words, {"ADD", "COLUMN"});
  for (const char* volatile_default :
       {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "RANDOM", "CLOCK_TIMESTAMP", "GEN_RANDOM_UUID",
        "NEXTVAL", "UUID_GENERATE_V4", "TIMEOFDAY", "STORED"}) {
    if (adds_column && Has(words, volatile_default)) {
      return std::string("a column with a volatile default or a stored generated value ") +
             kLockedRewrite + "; add it without the default and backfill it in a batch:N section";
    }
  }
  const bool adds_constraint = HasSequence(words, {"ADD", "CONSTRAINT"}) ||
                               HasSequence(words, {"ADD", "CHECK"}) ||
                               HasSequence(words, {"ADD", "FOREIGN"});
  if (adds_constraint && (Has(words, "CHECK") || Has(words, "FOREIGN")) &&
      !HasSequence(words, {"NOT", "VALID"})) {
    return std::string(
        "adding a CHECK or FOREIGN KEY constraint checks every row while holding a "
        "lock that blocks writes; add it NOT VALID in expand and VALIDATE "
        "CONSTRAINT it in the window");
  }
  if ((HasSequence(words, {"PRIMARY", "KEY"}) || Has(words, "UNIQUE") || Has(words, "EXCLUDE")) &&
      !HasSequence(words, {"USING", "INDEX"})) {
    return std::string(
        "adding a PRIMARY KEY, UNIQUE or EXCLUDE constraint builds its index under "
        "an ACCESS EXCLUSIVE lock; build the index CONCURRENTLY first and add the "
        "constraint USING INDEX");
  }
  return std::nullopt;
}

}  // namespace

std::string CreatedTable(const Words& words) {
  if (words.size() < 3 || words[0] != "CREATE") {
    return {};
  }
  std::size_t i = 1;
  while (i < words.size() &&
         (words[i] == "UNLOGGED" || words[i] == "TEMP" || words[i] == "TEMPORARY")) {
    ++i;
  }
  if (i >= words.size() || words[i] != "TABLE") {
    return {};
  }
  ++i;
  if (i + 2 < words.size() && words[i] == "IF" && words[i + 1] == "NOT" &&
      words[i + 2] == "EXISTS") {
    i += 3;
  }
  return i < words.size() ? words[i] : std::string();
}

std::optional<std::string> ExpandHazard(const Words& words,
                                        const std::set<std::string>& created_here) {
  if (words.empty()) {
    return std::nullopt;
  }
  const std::string& verb = words[0];
  if (verb == "ALTER" && words.size() > 2 && words[1] == "TABLE") {
    if (created_here.count(AlteredTable(words)) != 0) {
      return std::nullopt;
    }
    return AlterTableHazard(words);
  }
  if (verb == "CREATE" && (HasSequence(words, {"INDEX"})) && !Has(words, "CONCURRENTLY")) {
    if (created_here.count(After(words, "ON") == "ONLY" ? After(words, "ONLY")
                                                        : After(words, "ON")) != 0) {
      return std::nullopt;
    }
    return std::string(
        "CREATE INDEX without CONCURRENTLY blocks writes to the table while it "
        "builds; use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a "
        "`phase:expand transaction:false` section");
  }
  if (verb == "DROP" && words.size() > 1 && words[1] != "TRIGGER" && words[1] != "FUNCTION") {
    return std::string("DROP ") + words[1] +
           " removes something the old application may still use; move it to a "
           "`phase:contract` section";
  }
  if (verb == "TRUNCATE" || verb == "CLUSTER" || verb == "LOCK" ||
      (verb == "VACUUM" && Has(words, "FULL")) ||
      (verb == "REINDEX" && !Has(words, "CONCURRENTLY"))) {
    return verb +
           " takes a lock that blocks the old application (or removes its rows) for as "
           "long as it runs; it does not belong in expand";
  }
  return std::nullopt;
}

std::string DescribePhases(const MigrationFile& file, Direction direction) {
  if (!file.HasPhases(direction)) {
    return {};
  }
  std::string out;
  for (SectionPhase phase :
       {SectionPhase::kExpand, SectionPhase::kWindow, SectionPhase::kContract}) {
    const std::vector<const Section*> sections = file.SectionsFor(direction, phase);
    if (sections.empty()) {
      continue;
    }
    const auto batches = std::count_if(sections.begin(), sections.end(),
                                       [](const Section* s) { return s->batch_rows > 0; });
    out +=
        (out.empty() ? "" : ", ") + SectionPhaseName(phase) + " " + std::to_string(sections.size());
    if (batches > 0) {
      out += " (" + std::to_string(batches) + " batch)";
    }
  }
  return out;
}

}  // namespace schemaop::core
