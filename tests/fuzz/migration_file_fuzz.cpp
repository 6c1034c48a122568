// core::ParseMigrationFile on any bytes. Properties of an accepted file: a
// valid revision id and valid down revisions, at least one up section, up
// sections before down sections, markers on increasing lines within the file,
// the exact bytes kept, each section's SQL a verbatim part of the file (in
// the form the parser keeps lines: CR before LF dropped, a final newline);
// parsing is deterministic; every error is kParseError prefixed with the file name.
// Phases (design §3.1): within a direction they never go backwards; a batch
// section is transactional, outside the window, with 1..10^9 rows.
// The SQL of every section also goes through the splitter, as the engine does.
#include <algorithm>
#include <string>

#include "core/migration_file.h"
#include "core/phase_safety.h"
#include "core/sql_splitter.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {

void MigrationFile(std::string_view input) {
  const auto parsed = core::ParseMigrationFile(input, "fuzz.sql");
  if (!parsed.ok()) {
    SCHEMAOP_FUZZ_CHECK(parsed.status().code() == core::Code::kParseError,
                        parsed.status().ToString());
    SCHEMAOP_FUZZ_CHECK(parsed.status().message().rfind("fuzz.sql", 0) == 0,
                        parsed.status().ToString());
    return;
  }
  const core::MigrationFile& file = parsed.value();
  SCHEMAOP_FUZZ_CHECK(core::IsValidRevisionId(file.revision), "revision [" + file.revision + "]");
  for (const std::string& down : file.down_revisions) {
    SCHEMAOP_FUZZ_CHECK(core::IsValidRevisionId(down), "down_revision [" + down + "]");
  }
  SCHEMAOP_FUZZ_CHECK(file.text == input, "text differs from the input");
  SCHEMAOP_FUZZ_CHECK(!file.SectionsFor(core::Direction::kUp).empty(), "no up section");
  SCHEMAOP_FUZZ_CHECK(file.HasDown() == !file.SectionsFor(core::Direction::kDown).empty(),
                      "HasDown disagrees with the sections");
  const int lines = 1 + static_cast<int>(std::count(input.begin(), input.end(), '\n'));
  // Sections hold whole lines, each ending in "\n" without its "\r" (the
  // parser drops CRs before a newline and ends the last line): compare
  // against the input in that form.
  std::string normalized;
  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t newline = std::min(input.find('\n', pos), input.size());
    std::string_view line = input.substr(pos, newline - pos);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    normalized.append(line.data(), line.size());
    normalized += '\n';
    pos = newline + 1;
  }
  bool seen_down = false;
  int previous_line = 0;
  for (const core::Section& section : file.sections) {
    if (section.direction == core::Direction::kDown) {
      seen_down = true;
    }
    SCHEMAOP_FUZZ_CHECK(!(seen_down && section.direction == core::Direction::kUp),
                        "up section after a down section");
    SCHEMAOP_FUZZ_CHECK(section.first_line > previous_line && section.first_line <= lines,
                        "marker line " + std::to_string(section.first_line));
    previous_line = section.first_line;
    if (section.batch_rows != 0) {
      SCHEMAOP_FUZZ_CHECK(section.transactional && section.phase != core::SectionPhase::kWindow &&
                              section.batch_rows >= 1 && section.batch_rows <= 1000000000,
                          "batch section " + std::to_string(section.first_line));
    }
    if (&section != &file.sections.front()) {
      const core::Section& before = *(&section - 1);
      SCHEMAOP_FUZZ_CHECK(before.direction != section.direction || before.phase <= section.phase,
                          "phases go backwards at line " + std::to_string(section.first_line));
    }
    SCHEMAOP_FUZZ_CHECK(normalized.find(section.sql) != std::string::npos,
                        "section SQL is not part of the file");
    for (const core::SqlStatement& statement : core::SplitSqlStatements(section.sql)) {
      SCHEMAOP_FUZZ_CHECK(!statement.text.empty(), "empty statement in a section");
    }
  }
  (void)core::DescribePhases(file, core::Direction::kUp);
  (void)core::DescribePhases(file, core::Direction::kDown);
  const auto again = core::ParseMigrationFile(input, "fuzz.sql");
  SCHEMAOP_FUZZ_CHECK(again.ok() && again->revision == file.revision &&
                          again->down_revisions == file.down_revisions &&
                          again->sections.size() == file.sections.size() &&
                          again->warnings == file.warnings,
                      "a second parse differs");
}

}  // namespace schemaop::fuzz
