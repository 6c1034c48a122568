#pragma once
// Access to the harness-started PostgreSQL (tests/support/pg_harness.sh) from
// GoogleTest binaries of the `pg` tier.
#include <string>

namespace schemaop::testing {

// The engine runs as a NON-superuser database owner with a scram-sha-256
// password, as on a managed service (tests/support/pg_harness.sh): the URLs
// below are that role's unless their name says Superuser. Every URL has a
// password (tests only). Each throws if the harness state is missing.

// Superuser URL of the harness server's `postgres` database: for what an
// administrator does (creating databases and roles, watching every session).
std::string HarnessUrl();
std::string SuperuserUrlFor(const std::string& name);

// The owner role's URL of database `name` (URL-encoded by the caller).
std::string HarnessUrlFor(const std::string& name);

// The owner role (PGHARNESS_OWNER) and its password.
std::string OwnerRole();
std::string OwnerPassword();

// Drops (if present) and creates database `name` OWNED by OwnerRole(), as
// the superuser; returns the owner's URL of it.
std::string CreateScratchDatabase(const std::string& name);

// PEM files of the CA that signed the harness server's TLS certificate (for
// 127.0.0.1 and localhost) and of an unrelated CA.
std::string HarnessCaFile();
std::string HarnessWrongCaFile();

// Directory of the PostgreSQL server binaries (pg_dump, psql, ...).
std::string HarnessBinDir();

// Root of the source tree (SCHEMAOP_SOURCE_DIR), e.g. to find migrations/.
std::string SourceDir();

}  // namespace schemaop::testing
