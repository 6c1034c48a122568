#pragma once
// The schema fingerprint (docs/cli.md, "What a run does", step 5). Invariant: after
// a downgrade the database has the schema it had when it was last at that
// revision (a down section that forgets an object is caught), and an
// upgrade to a revision seen before reproduces that revision's schema.
//
// A fingerprint lists every object the migrations manage, as (key,
// definition) pairs: schemas, tables (persistence, partitioning,
// inheritance), columns (type, nullability, default, identity, generation,
// collation; not their order), indexes, constraints, sequences (definition,
// not value), views, materialized views, functions and procedures, triggers,
// enum and domain types, row-level security policies. Left out: system
// schemas, schemaop's own schema, the version table and objects owned by
// extensions.
//
// Internal header: libpqxx types; include only from controller/database.
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace schemaop::database::internal {

struct SchemaFingerprint {
  // Sorted by key; a key is "<kind> <qualified name>", e.g.
  // "column public.users.email", "index public.users_email_idx".
  std::vector<std::pair<std::string, std::string>> objects;
  std::string digest;  // sha256 hex over the sorted objects
};

// Reads the live schema as `tx` sees it (uncommitted DDL included). Throws
// pqxx exceptions.
SchemaFingerprint ReadSchemaFingerprint(pqxx::transaction_base& tx,
                                        const std::string& version_table);

// Rebuilds a fingerprint from stored objects (digest recomputed).
SchemaFingerprint FingerprintOf(std::vector<std::pair<std::string, std::string>> objects);

// One line per differing object, naming it against `revision`:
// "column public.users.extra exists but did not at r1",
// "index public.i existed at r1 but is missing",
// "column public.t.c differs from r1: now 'text', was 'integer'". Pure.
std::vector<std::string> DescribeDrift(const SchemaFingerprint& live,
                                       const SchemaFingerprint& recorded,
                                       const std::string& revision);

}  // namespace schemaop::database::internal
