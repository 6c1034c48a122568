#pragma once
// A rehearsal (design §4.10): the plan run on a scratch copy of the
// database, forward and back, with full verification, timed. Invariant: a
// rehearsal never changes the database, and leaves no scratch database
// behind. Types only; Migrator::Rehearse runs it (command_rehearse.cpp).
#include <chrono>
#include <string>
#include <vector>

#include "core/planner.h"
#include "core/spec_enums.h"
#include "core/status.h"

namespace schemaop::database {

// Scratch databases are named kScratchPrefix + 16 lowercase hex digits and
// carry kScratchComment, so a leftover of a killed rehearsal is recognised
// by both and never confused with a user's database.
inline constexpr const char* kScratchPrefix = "schemaop_rehearsal_";
inline constexpr const char* kScratchComment =
    "schemaop rehearsal scratch copy; dropped by the next rehearsal";

struct RehearsalOptions {
  // Where the scratch database is created (its database part only names the
  // database to connect to for CREATE/DROP DATABASE); the role needs
  // CREATEDB. Empty: the database's own server and role.
  std::string rehearsal_url;
  // Whether the run would back up (kAlways; kDowngrade: a plan with a
  // downgrade step): then the predicted downtime includes the time pg_dump
  // took for the copy, standing in for the backup.
  core::BackupWhen backup = core::BackupWhen::kNever;
};

// The SQL time of one plan step (PostgreSQL executing the step's sections).
struct RehearsalStepTime {
  std::string revision;
  core::Direction direction = core::Direction::kUp;
  std::chrono::milliseconds sql{0};
};

struct RehearsalReport {
  core::Plan plan;          // the plan rehearsed (forward), as planned on the database
  std::string plan_digest;  // Migrator::PlanDigest of it
  std::string scratch_database;
  std::vector<std::string> removed_leftovers;  // scratch databases of killed rehearsals
  std::chrono::milliseconds copy_duration{0};  // pg_dump | pg_restore
  std::chrono::milliseconds dump_duration{0};  // pg_dump alone
  std::vector<RehearsalStepTime> forward_steps;
  std::vector<RehearsalStepTime> reverse_steps;
  std::chrono::milliseconds forward_sql{0};
  std::chrono::milliseconds forward_total{0};  // the forward run, lock to unlock
  std::chrono::milliseconds reverse_sql{0};
  // forward_total, plus dump_duration when the run would back up
  // (backup_counted): how long the writers would be at zero, draining aside.
  std::chrono::milliseconds predicted_downtime{0};
  bool backup_counted = false;
  bool succeeded = false;
  // Why it failed: the stage ("copy", "forward", "reverse", "fingerprint",
  // "drop") and the engine's status.
  std::string failed_stage;
  core::Status status;
  bool scratch_dropped = false;
};

}  // namespace schemaop::database
