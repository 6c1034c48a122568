#pragma once
// Migration files (design §3): a header of `-- key: value` lines (keys:
// revision, down_revision, message, down_row_loss), then
// sections introduced by `-- migrate:up` / `-- migrate:down`, each optionally
// followed by options: ` transaction:false`, ` phase:expand|window|contract`
// and ` batch:N` (design §3.1). A direction may have several sections (e.g. a
// transactional block then a `transaction:false` block); they run in file
// order, and their phases never go backwards in it. Pure: no I/O; the caller
// reads the bytes.
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace schemaop::core {

enum class Direction { kUp, kDown };

// "up" / "down", as written in the section markers and shown to users.
std::string DirectionName(Direction direction);

// When a section runs relative to the write-downtime window (design §3.1):
// expand before the writers are scaled down (they are running), window while
// they are at zero (the default), contract after they are back.
enum class SectionPhase { kExpand, kWindow, kContract };

// "expand" / "window" / "contract", as written in `phase:` and shown to users.
std::string SectionPhaseName(SectionPhase phase);

struct Section {
  Direction direction = Direction::kUp;
  bool transactional = true;
  SectionPhase phase = SectionPhase::kWindow;
  // batch:N: the section's one statement processes at most N rows and is
  // repeated, each time in its own transaction, until it affects none.
  // 0: not batched.
  long batch_rows = 0;
  int first_line = 0;  // 1-based line of the marker, for messages
  std::string sql;     // the text between this marker and the next one
};

struct MigrationFile {
  std::string revision;                     // [A-Za-z0-9_]+, at most 32 chars
  std::vector<std::string> down_revisions;  // empty: a base; several: a merge
  std::string message;
  // Header `-- down_row_loss: t1, t2`: tables whose row count this revision's
  // down section may lower on purpose (e.g. removing seeded rows); the
  // row-count guard allows it for those tables on that step only.
  std::vector<std::string> down_row_loss;
  std::vector<Section> sections;  // file order; all up before down
  std::string source_name;        // file name, for messages
  std::string text;               // exact bytes (checksummed by adapters)
  // Non-fatal findings, each "name:line: text" (e.g. a CREATE INDEX
  // CONCURRENTLY without IF NOT EXISTS in a transaction:false section).
  std::vector<std::string> warnings;

  std::vector<const Section*> SectionsFor(Direction direction) const;
  // The sections of `direction` in `phase`, in file order.
  std::vector<const Section*> SectionsFor(Direction direction, SectionPhase phase) const;
  // True when a section of `direction` runs outside the window.
  bool HasPhases(Direction direction) const;
  bool HasDown() const;
};

// True when `id` is a valid revision id: [A-Za-z0-9_]+, 1..32 characters.
bool IsValidRevisionId(std::string_view id);

// Parses one file. Errors are kParseError with "name:line: problem" messages:
// missing revision header, unknown header key, duplicate header key, bad
// revision id (also in down_revision), unknown marker option, duplicate
// section, up section after a down section, SQL before the first marker,
// no up section, and a statement that cannot run inside a transaction
// (CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, DETACH PARTITION
// CONCURRENTLY) in a transactional section; a bad `phase:` or `batch:`
// option, a phase that goes backwards in file order, and a batch:N section
// that is transaction:false, in the window, or not one UPDATE/DELETE/INSERT.
// Warnings (not errors) name expand statements that are unsafe while the old
// application runs (core/phase_safety.h).
// Header lines are the `-- identifier: value` lines before the first marker;
// other comments and blank lines may appear there too. `down_revision` is
// comma and/or space separated; empty or `None` means a base.
Result<MigrationFile> ParseMigrationFile(std::string_view text, std::string_view source_name);

}  // namespace schemaop::core
