#include "database/advisory_lock.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>

#include "database/runtime.h"

namespace schemaop::database {

std::string SessionName(const MigratorOptions& options) {
  std::string name =
      options.session_owner.empty() ? std::string("schemaop") : "schemaop:" + options.session_owner;
  if (name.size() > 63) {
    name.resize(63);  // NAMEDATALEN - 1: the server would cut it the same way
  }
  return name;
}

}  // namespace schemaop::database

namespace schemaop::database::internal {
namespace {

using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;

// A fixed advisory-lock key shared by every schemaop process: FNV-1a of
// "schemaop". Advisory locks are per database, so one key serializes runs on
// one database without affecting others.
constexpr std::int64_t LockKey() {
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : std::string_view("schemaop")) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(hash);
}

// pg_locks shows a bigint advisory key as classid (high half), objid (low).
std::int64_t KeyHigh() {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(LockKey()) >> 32);
}
std::int64_t KeyLow() {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(LockKey()) & 0xffffffffULL);
}

// Sessions holding the lock in this database: pid and application_name.
constexpr char kHolderQuery[] =
    "SELECT a.pid, coalesce(a.application_name, '') "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1";

}  // namespace

std::string AdvisoryLock::FenceStaleHolder(Runtime& rt, pqxx::connection& conn) {
  const std::string& prefix = rt.options.fence_prefix;
  const std::string ours = SessionName(rt.options);
  pqxx::nontransaction tx(conn);
  std::string stale;
  for (const auto& row : tx.exec_params(kHolderQuery, KeyHigh(), KeyLow())) {
    const std::string name = row[1].as<std::string>();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name != ours) {
      stale = name;
    }
  }
  if (stale.empty() || fenced_.count(stale) != 0) {
    return "";
  }
  // Every session of that owner: its lock session and its migration session
  // (which may still run a statement and hold locks the recovery needs).
  const int terminated =
      tx.exec_params1("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                      "FROM pg_stat_activity WHERE datname = current_database() "
                      "AND application_name = $1 AND pid <> pg_backend_pid()",
                      stale)[0]
          .as<int>();
  fenced_.insert(stale);
  const std::string message = "fenced the stale session owner '" + stale + "': terminated " +
                              std::to_string(terminated) +
                              " of its session(s) in this database, which held the migration "
                              "lock; its run is recovered once the lock is free";
  rt.Emit("fenced", message);
  return message;
}

std::string AdvisoryLock::DescribeHolder(Runtime& rt) {
  std::string description;
  try {
    pqxx::read_transaction tx(rt.session->conn());
    auto rows = tx.exec_params(
        "SELECT a.pid, coalesce(a.application_name, ''), "
        "coalesce(host(a.client_addr), 'local socket'), coalesce(a.usename::text, ''), "
        "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1",
        KeyHigh(), KeyLow());
    for (const auto& row : rows) {
      description += "pid " + row[0].as<std::string>() + " (application_name '" +
                     row[1].as<std::string>() + "', user '" + row[3].as<std::string>() +
                     "', client " + row[2].as<std::string>() + ", connected since " +
                     row[4].as<std::string>() + ")";
    }
    if (TableExists(tx, std::string(kSchema) + ".run_log")) {
      auto running =
          tx.exec(std::string("SELECT id, actor, to_char(started_at AT TIME ZONE 'UTC', "
                              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), direction FROM ") +
                  kSchema + ".run_log WHERE outcome = 'running' ORDER BY id DESC LIMIT 1");
      for (const auto& row : running) {
        description += "; run " + row[0].as<std::string>() + " (" + row[3].as<std::string>() +
                       ") by " + row[1].as<std::string>() + " started " + row[2].as<std::string>();
      }
    }
  } catch (const std::exception& error) {
    // The holder is a courtesy in the message; the lock result stands.
    rt.Emit("warning", std::string("cannot describe the lock holder: ") + error.what());
  }
  return description.empty() ? "an unknown session" : description;
}

Status AdvisoryLock::Acquire(Runtime& rt) {
  if (session_) {
    return Status::Ok();
  }
  auto opened = rt.OpenSession();
  if (!opened.ok()) {
    return opened.status();
  }
  auto candidate = std::move(opened).value();
  auto deadline = Clock::now() + rt.options.lock_wait;
  bool announced = false;
  try {
    for (;;) {
      bool got = false;
      {
        pqxx::nontransaction tx(candidate->conn());
        got = tx.exec_params1("SELECT pg_try_advisory_lock($1)", LockKey())[0].as<bool>();
      }
      if (got) {
        backend_pid_ = candidate->conn().backendpid();
        session_ = std::move(candidate);
        rt.Emit("locked", "acquired the migration lock on " + rt.info.redacted);
        return Status::Ok();
      }
      if (!rt.options.fence_prefix.empty() && (!rt.options.may_fence || rt.options.may_fence())) {
        try {
          FenceStaleHolder(rt, candidate->conn());
        } catch (const pqxx::broken_connection&) {
          throw;
        } catch (const std::exception& error) {
          // E.g. the holder runs as another role: wait for the lock as usual.
          rt.Emit("warning", std::string("cannot fence the lock holder: ") + error.what());
        }
      }
      auto now = Clock::now();
      if (now >= deadline) {
        return Status(Code::kLockHeld,
                      "another schemaop run holds the migration lock on " + rt.info.redacted +
                          ": " + DescribeHolder(rt) + "; waited " +
                          std::to_string(rt.options.lock_wait.count()) +
                          " ms. Wait for that run to finish",
                      "lock");
      }
      if (!announced) {
        rt.Emit("waiting-for-lock", "waiting for the migration lock held by " + DescribeHolder(rt));
        announced = true;
      }
      auto pause = std::min<Clock::duration>(std::chrono::milliseconds(100), deadline - now);
      std::this_thread::sleep_for(pause);
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot take the migration lock", Code::kUnreachable);
  }
}

void AdvisoryLock::Require(pqxx::transaction_base& tx) const {
  bool held = backend_pid_ != 0 &&
              tx.exec_params1(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database()) AND classid = $2::bigint::oid AND objid = $3::bigint::oid "
                    "AND objsubid = 1)",
                    backend_pid_, KeyHigh(), KeyLow())[0]
                  .as<bool>();
  if (!held) {
    throw LockLostError("the migration lock was lost (its session, server pid " +
                        std::to_string(backend_pid_) +
                        ", ended); stopped before committing so no other run is overlapped. "
                        "The next upgrade/downgrade recovers this run");
  }
}

void AdvisoryLock::Release(const Runtime& rt) {
  if (!session_) {
    return;
  }
  try {
    pqxx::nontransaction tx(session_->conn());
    tx.exec_params("SELECT pg_advisory_unlock($1)", LockKey());
  } catch (const std::exception&) {
    // Closing the session below releases a session lock anyway.
  }
  session_.reset();
  backend_pid_ = 0;
  rt.Emit("unlocked", "released the migration lock");
}

LockScope::~LockScope() { rt_.lock.Release(rt_); }

}  // namespace schemaop::database::internal
