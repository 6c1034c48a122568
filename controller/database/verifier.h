#pragma once
// Verification (design §4.6): the row guard (row_guard.h), the schema
// fingerprint (schema_fingerprint.h) and the user checks, each run inside the
// transaction it judges. Internal header: libpqxx types; include only from
// controller/database.
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "database/migrator.h"
#include "database/row_guard.h"
#include "database/schema_fingerprint.h"

namespace schemaop::database::internal {

struct Runtime;

// The rows at the start of a run and the loss declared for it.
struct RowBaseline {
  std::vector<RelationRows> counts_before;
  std::set<std::string> row_loss_allowed;
  // Expand and contract run beside the application (design §3.1), whose own
  // DELETEs lower counts: then only a relation that disappeared with its
  // rows is a loss, not a lower count.
  bool writers_may_run = false;
};

// The key a revision set's fingerprint is stored under ("base", "r1,r2"),
// and the key of a phase boundary of a plan (design §3.1):
// "<versions>|<tag>:<digest prefix>", which no revision set can equal.
std::string FingerprintKey(const std::vector<std::string>& versions);
std::string BoundaryKey(const std::vector<std::string>& versions, const std::string& tag,
                        const std::string& plan_digest);
std::optional<SchemaFingerprint> RecordedFingerprintAt(pqxx::transaction_base& tx,
                                                       const std::string& key);
void RecordFingerprintAt(pqxx::transaction_base& tx, const std::string& key,
                         const SchemaFingerprint& fingerprint, std::int64_t run_id);
// The live schema against the one recorded at `key`; kSchemaDrift naming
// the objects, `label` saying where that was. OK when nothing is recorded.
core::Status CheckSchemaAt(pqxx::transaction_base& tx, const std::string& key,
                           const std::string& label, const SchemaFingerprint& live);

// The fingerprint recorded for `versions`, if any.
std::optional<SchemaFingerprint> RecordedFingerprint(pqxx::transaction_base& tx,
                                                     const std::vector<std::string>& versions);
void RecordFingerprint(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                       const SchemaFingerprint& fingerprint, std::int64_t run_id);

// The live schema against the one recorded for `versions`; kSchemaDrift
// naming the differing objects (at most 10) when they differ.
core::Status CheckSchema(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                         const SchemaFingerprint& live);

// kVerificationFailed naming every tree that lost rows since `baseline`.
core::Status CheckRowLoss(pqxx::transaction_base& tx, const std::string& version_table,
                          const RowBaseline& baseline, const std::string& when);

// A user check is one query returning one boolean. It runs in a read-only
// subtransaction that is always rolled back, so even a statement that
// writes (a data-modifying CTE, a volatile function) leaves nothing behind.
core::Status RunCheck(const Runtime& rt, pqxx::dbtransaction& tx, const UserCheck& check,
                      const std::string& when);

// The verification of a run's last transaction, before its COMMIT: row
// counts against the start of the run, the schema fingerprint of the
// revision reached (when one was recorded), the user checks. `live_out`
// gets the schema reached, to be recorded.
core::Status VerifyInTransaction(const Runtime& rt, pqxx::work& tx, const RowBaseline& baseline,
                                 const std::vector<std::string>& reached,
                                 std::optional<SchemaFingerprint>* live_out);

// The verification at a phase boundary (design §3.1): row counts, the user
// checks when `checks`, and the live schema into `live_out` (recorded at
// the boundary by the caller, never compared: the next phase's start does).
core::Status VerifyAtBoundary(const Runtime& rt, pqxx::work& tx, const RowBaseline& baseline,
                              bool checks, std::optional<SchemaFingerprint>* live_out);

// `schemaop verify` beyond the files: INVALID indexes, runs left running,
// the schema fingerprint of `current`, the user checks; one line each.
core::Result<std::vector<std::string>> DatabaseProblems(Runtime& rt,
                                                        const std::vector<std::string>& current);

}  // namespace schemaop::database::internal
