// What DatabasePortImpl::Inspect asks the database on every resync (pg tier):
// the plan and its digest over ONE read of schemaop.revision_archive
// (Migrator::PlanAndDigest), and the database identity once per target's
// connection parameters, then from the port's cache.
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "manager/database_port_impl.h"
#include "support/pg_test_env.h"

namespace schemaop::manager {
namespace {

constexpr char kR1[] =
    "-- revision: r1\n-- down_revision:\n-- migrate:up\nCREATE TABLE t (id int);\n"
    "-- migrate:down\nDROP TABLE t;\n";
constexpr char kR2[] =
    "-- revision: r2\n-- down_revision: r1\n-- migrate:up\nALTER TABLE t ADD COLUMN c int;\n"
    "-- migrate:down\nALTER TABLE t DROP COLUMN c;\n";

reconcile::DatabaseTarget Target(const std::string& url) {
  reconcile::DatabaseTarget target;
  target.url = url;
  target.migration_files = {{"r1.sql", kR1}, {"r2.sql", kR2}};
  target.actor = "schemaop-controller test/inspect-reads";
  return target;
}

// Scans of schemaop.revision_archive counted by the server's statistics
// (flushed when the engine's session ends; read in a fresh snapshot).
long long ArchiveScans(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  return tx
      .exec1(
          "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
          "WHERE schemaname = 'schemaop' AND relname = 'revision_archive'")[0]
      .as<long long>();
}

// The count once it no longer moves (every closed session flushed).
long long SettledArchiveScans(const std::string& url, long long at_least) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  long long last = -1;
  for (;;) {
    long long now = ArchiveScans(url);
    if (now >= at_least && now == last) {
      return now;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return now;
    }
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
}

TEST(InspectReadsTest, PlanAndDigestReadTheArchiveOnce) {
  const std::string url = schemaop::testing::CreateScratchDatabase("inspect_reads_archive");
  DatabasePortImpl port(DatabasePortOptions{});
  auto target = Target(url);
  reconcile::RunIdentity id;
  id.owner_uid = "uid";
  id.generation = 1;
  auto migrated = port.Migrate(target, {"r1"}, id);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  ASSERT_EQ(migrated->outcome, reconcile::MigrateOutcome::kSucceeded);
  const long long before = SettledArchiveScans(url, 0);

  auto inspected = port.Inspect(target, "r2");
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  ASSERT_EQ(inspected->steps.size(), 1u);
  EXPECT_EQ(inspected->plan_digest.size(), 64u);
  EXPECT_EQ(SettledArchiveScans(url, before + 1), before + 1);
}

TEST(InspectReadsTest, IdentityIsAskedOncePerConnectionParameters) {
  const std::string url = schemaop::testing::CreateScratchDatabase("inspect_reads_identity");
  const std::string other = schemaop::testing::CreateScratchDatabase("inspect_reads_identity2");
  DatabasePortImpl port(DatabasePortOptions{});
  auto first = port.Inspect(Target(url), "r1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto elsewhere = port.Inspect(Target(other), "r1");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  EXPECT_NE(first->database_identity, elsewhere->database_identity);

  // Recreated under the same name, the database has a new OID and so a new
  // identity; the port answers from its cache without asking the server.
  ASSERT_EQ(schemaop::testing::CreateScratchDatabase("inspect_reads_identity"), url);
  auto again = port.Inspect(Target(url), "r1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->database_identity, first->database_identity);
  DatabasePortImpl fresh(DatabasePortOptions{});
  auto asked = fresh.Inspect(Target(url), "r1");
  ASSERT_TRUE(asked.ok()) << asked.status().ToString();
  EXPECT_NE(asked->database_identity, first->database_identity);

  // An entry lives identity_ttl: after it, the server is asked again and a
  // recreated database is seen as another one.
  DatabasePortOptions short_lived;
  short_lived.identity_ttl = std::chrono::milliseconds(0);
  DatabasePortImpl expiring(short_lived);
  auto before = expiring.Inspect(Target(url), "r1");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_EQ(schemaop::testing::CreateScratchDatabase("inspect_reads_identity"), url);
  auto after = expiring.Inspect(Target(url), "r1");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_NE(after->database_identity, before->database_identity);
}

}  // namespace
}  // namespace schemaop::manager
