#pragma once
// Access to the harness-started PostgreSQL (tests/support/pg_harness.sh) from
// GoogleTest binaries of the `pg` tier.
#include <string>

namespace schemaop::testing {

// Superuser URL of the harness server's `postgres` database (has a password;
// tests only). Fails the calling test if the harness state is missing.
std::string HarnessUrl();

// URL of database `name` on the harness server.
std::string HarnessUrlFor(const std::string& name);

// Drops (if present) and creates database `name`; returns its URL.
std::string CreateScratchDatabase(const std::string& name);

// Directory of the PostgreSQL server binaries (pg_dump, psql, ...).
std::string HarnessBinDir();

// Root of the source tree (SCHEMAOP_SOURCE_DIR), e.g. to find migrations/.
std::string SourceDir();

}  // namespace schemaop::testing
