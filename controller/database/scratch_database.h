#pragma once
// The scratch databases of a rehearsal (design §4.10): named kScratchPrefix
// + 16 random hex digits and marked with kScratchComment, created on the
// rehearsal server by a role with CREATEDB, filled by pg_dump | pg_restore,
// always dropped. Internal header: libpqxx types; include only from
// controller/database.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "core/status.h"
#include "database/pg_session.h"

namespace schemaop::database::internal {

struct Runtime;

// Pure: `name` is kScratchPrefix followed by exactly 16 lowercase hex digits.
bool IsScratchDatabaseName(std::string_view name);

// kScratchPrefix + 16 hex digits from the system's random source.
std::string NewScratchDatabaseName();

// kMigrationFailed (detail 42501) naming the role and both fixes when the
// connected role may not create databases.
core::Status CheckCreateDatabase(pqxx::connection& admin, bool rehearsal_url_given);

// Drops the scratch databases of killed rehearsals: named and marked as
// scratch, owned by a role the connected one is a member of, no session
// connected (a live rehearsal keeps one open from marking to drop).
// Returns their names; one that cannot be dropped is left for next time.
std::vector<std::string> RemoveLeftoverScratchDatabases(pqxx::connection& admin);

// A scratch database: created (with the source's encoding and locale when
// `source` is given), marked through a session of its own that stays
// connected until Drop. The destructor drops it if Drop was not called.
class ScratchDatabase {
 public:
  static core::Result<std::unique_ptr<ScratchDatabase>> Create(Session& admin,
                                                               const ConnInfo& admin_info,
                                                               pqxx::connection* source);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& name() const { return name_; }
  const ConnInfo& info() const { return info_; }
  // DROP DATABASE ... WITH (FORCE) (PostgreSQL 13+; plain DROP before).
  core::Status Drop();

 private:
  ScratchDatabase(Session& admin, std::string name, ConnInfo info)
      : admin_(admin), name_(std::move(name)), info_(std::move(info)) {}
  Session& admin_;
  std::string name_;
  ConnInfo info_;
  std::unique_ptr<Session> holder_;
  bool dropped_ = false;
};

// pg_dump -Fc of `source` piped into pg_restore --no-owner --no-acl
// --exit-on-error --single-transaction of `target`; each child gets its
// connection through a private service file. `dump` and `total` receive
// the durations.
core::Status CopyDatabase(const Runtime& rt, const ConnInfo& source, const ConnInfo& target,
                          std::chrono::milliseconds* dump, std::chrono::milliseconds* total);

}  // namespace schemaop::database::internal
