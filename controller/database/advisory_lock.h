#pragma once
// One run at a time per database (design §4.2): a session advisory lock with
// a fixed key, held on its own session, and checked on the migration session
// before every COMMIT and autocommit statement. Internal header: libpqxx
// types; include only from controller/database.
#include <cstdint>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <set>
#include <string>

#include "core/status.h"
#include "database/pg_session.h"

namespace schemaop::database::internal {

struct Runtime;

// Thrown inside a migration transaction when the advisory lock's session is
// gone: another run may hold the lock by now, so nothing may be committed and
// nothing undone; the next run's recovery finishes the job.
class LockLostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdvisoryLock {
 public:
  // Takes the lock on a session of its own, retrying every 100 ms until
  // options.lock_wait; then kLockHeld naming the holder. OK when held.
  core::Status Acquire(Runtime& rt);

  // The lock lives on its own session, the migration on `rt.session`. If the
  // lock's session ended (backend terminated, network cut), the lock is gone
  // without notice to this session and another run may take it: so every
  // COMMIT and every autocommit statement is preceded by this check, run on
  // the migration connection (inside the transaction about to commit).
  // Throws LockLostError.
  void Require(pqxx::transaction_base& tx) const;

  // Fencing (design §4.2): when the lock's holder carries an
  // application_name that starts with options.fence_prefix and is not ours,
  // terminates every session of that owner in this database (once per
  // owner) and emits "fenced". Returns that message, or "" when nothing was
  // fenced. Run on `conn`, the session that is trying to take the lock.
  std::string FenceStaleHolder(Runtime& rt, pqxx::connection& conn);
  const std::set<std::string>& fenced() const { return fenced_; }

  void Release(const Runtime& rt);

 private:
  std::set<std::string> fenced_;  // owners fenced by this lock
  std::string DescribeHolder(Runtime& rt);

  std::unique_ptr<Session> session_;
  int backend_pid_ = 0;  // server pid of session_, checked before commits
};

// Releases the lock when the scope ends (a command that took it).
class LockScope {
 public:
  explicit LockScope(Runtime& rt) : rt_(rt) {}
  ~LockScope();
  LockScope(const LockScope&) = delete;
  LockScope& operator=(const LockScope&) = delete;

 private:
  Runtime& rt_;
};

}  // namespace schemaop::database::internal
