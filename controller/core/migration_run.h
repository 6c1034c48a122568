#pragma once
// What a run ends in and what a backup is, shared by the engine
// (database::RunReport, BackupInfo) and the reconciler's port
// (reconcile::MigrateResult, BackupResult); the policies a run follows
// (BackupWhen, FailurePolicy) come from core/spec_enums.h, the engine's
// database::BackupPolicy and FailurePolicy. One definition each, so the
// adapter between them copies values instead of translating mirrored types.
#include <cstdint>
#include <string>

#include "core/spec_enums.h"  // BackupWhen, FailurePolicy

namespace schemaop::core {

// A user check (spec.verify.checks, --check NAME=SQL): `sql` returns exactly
// one boolean; false, NULL or an error fails. The engine's database::UserCheck.
struct VerifyCheck {
  std::string name;
  std::string sql;  // returns exactly one boolean
  bool operator==(const VerifyCheck& o) const { return name == o.name && sql == o.sql; }
};

enum class RunOutcome {
  kNothingToDo,  // already at target; nothing written
  kSucceeded,    // at target, verified, committed
  kRolledBack,   // failed; the database is back where the run started
  kFailed,       // failed and could not be (or, with failure policy Halt, was
                 // not) undone; the database is where the last commit left it
};
const char* RunOutcomeName(RunOutcome outcome);  // "nothing-to-do", "succeeded", ...

// Status::detail() of a run that failed because an interrupted earlier run
// could not be recovered (the database may be between revisions).
inline constexpr char kRecoveryDetail[] = "recovery";

// Status::detail() of a Migrate whose run PostgreSQL ended before the
// engine could close it (session or lock lost): the run is still open in
// schemaop.run_log and the next attempt's recovery finishes or undoes it.
inline constexpr char kRunLeftOpenDetail[] = "run-left-open";

// A verified pg_dump -Fc file.
struct BackupInfo {
  std::string path;
  std::uintmax_t bytes = 0;
  std::string sha256;      // lowercase hex of the file
  std::string created_at;  // UTC, RFC 3339
};

}  // namespace schemaop::core
