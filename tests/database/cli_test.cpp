// The `schemaop` binary's local mode: exit codes and that the password never
// reaches stdout/stderr. SCHEMAOP_BINARY is the built executable.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// The URL travels in DATABASE_URL, never on the command line.
Outcome RunCli(const std::string& url, const std::string& arguments) {
  setenv("DATABASE_URL", url.c_str(), 1);
  std::string command = std::string(SCHEMAOP_BINARY) + " " + arguments + " 2>&1";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return outcome;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    outcome.output.append(buffer, n);
  }
  int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  unsetenv("DATABASE_URL");
  return outcome;
}

// Starts `schemaop ARGS...` with DATABASE_URL=url, output discarded; the
// caller kills and reaps it.
pid_t StartCli(const std::string& url, std::vector<std::string> args) {
  pid_t child = fork();
  if (child == 0) {
    setenv("DATABASE_URL", url.c_str(), 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(SCHEMAOP_BINARY)};
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    execv(SCHEMAOP_BINARY, argv.data());
    _exit(127);
  }
  return child;
}

using schemaop::testing::MigrationText;
using schemaop::testing::PasswordOf;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = schemaop::testing::MakeTempDir("cli");
    fs::create_directories(dir_ + "/m");
    WriteMigration("001_r1.sql", MigrationText("r1", "", "items",
                                               "-- migrate:up\n"
                                               "CREATE TABLE items (id int PRIMARY KEY);\n"
                                               "INSERT INTO items VALUES (1), (2);\n\n"
                                               "-- migrate:down\nDROP TABLE items;\n"));
    WriteMigration("002_r2.sql", MigrationText("r2", "r1", "loses rows",
                                               "-- migrate:up\nDELETE FROM items;\n\n"
                                               "-- migrate:down\nSELECT 1;\n"));
  }
  void TearDown() override { fs::remove_all(dir_); }
  void WriteMigration(const std::string& name, const std::string& text) {
    schemaop::testing::WriteTextFile(dir_ + "/m/" + name, text);
  }
  std::string Flags() const {
    return "--migrations " + dir_ + "/m --backup-dir " + dir_ + "/backups --pg-bin-dir " +
           schemaop::testing::HarnessBinDir();
  }
  std::string dir_;
};

TEST_F(CliTest, ExitCodesAndNoPasswordInOutput) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_exit_codes");
  std::string password = PasswordOf(url);

  auto up = RunCli(url, Flags() + " upgrade r1");
  EXPECT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(up.output.find("outcome: succeeded"), std::string::npos) << up.output;
  EXPECT_EQ(up.output.find(password), std::string::npos);

  auto current = RunCli(url, Flags() + " current");
  EXPECT_EQ(current.exit_code, 0);
  EXPECT_NE(current.output.find("r1"), std::string::npos);

  auto rolled_back = RunCli(url, Flags() + " upgrade head");
  EXPECT_EQ(rolled_back.exit_code, 1) << rolled_back.output;
  EXPECT_NE(rolled_back.output.find("public.items had 2 rows"), std::string::npos) << rolled_back.output;

  auto unknown = RunCli(url, Flags() + " upgrade nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;

  auto missing_dir = RunCli(url, "--migrations " + dir_ + "/absent upgrade head");
  EXPECT_EQ(missing_dir.exit_code, 2) << missing_dir.output;
  EXPECT_NE(missing_dir.output.find("absent"), std::string::npos);

  auto usage = RunCli(url, Flags() + " upgrade");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;

  auto wait = RunCli(url, Flags() + " wait --at-least r2 --timeout 0.2");
  EXPECT_EQ(wait.exit_code, 6) << wait.output;

  auto refused_down = RunCli(url, Flags() + " downgrade base");
  EXPECT_EQ(refused_down.exit_code, 1) << refused_down.output;  // drops items with its rows
  auto down = RunCli(url, Flags() + " --allow-row-loss items downgrade base");
  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("backup: "), std::string::npos) << down.output;

  for (const auto* output : {&up.output, &current.output, &rolled_back.output, &unknown.output,
                             &missing_dir.output, &wait.output, &down.output}) {
    EXPECT_EQ(output->find(password), std::string::npos) << *output;
  }
}

// Another run holds the migration lock: exit 4, the message names the
// holder and the CLI's own remedy (--lock-wait); the engine's message, which
// the operator shows too, does not name a CLI flag.
TEST_F(CliTest, LockHeldExitsFourAndNamesLockWait) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_lock_held");
  pqxx::connection holder(url);
  pqxx::nontransaction(holder).exec_params("SELECT pg_advisory_lock($1)",
                                           schemaop::testing::MigrationLockKey());
  auto held = RunCli(url, Flags() + " --lock-wait 300ms upgrade r1");
  EXPECT_EQ(held.exit_code, 4) << held.output;
  EXPECT_NE(held.output.find("holds the migration lock"), std::string::npos) << held.output;
  EXPECT_NE(held.output.find("or raise --lock-wait [LockHeld]"), std::string::npos) << held.output;
  EXPECT_EQ(held.output.find(PasswordOf(url)), std::string::npos);
}

// --fence (design §4.2): a lock held by another schemaop process that the
// user knows is gone is taken over; without --fence the same holder means
// exit 4, and a holder that is not a schemaop session is never terminated.
TEST_F(CliTest, FenceTakesTheLockFromAGoneSchemaopProcess) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_fence");
  auto hold = [&](const std::string& name) {
    auto conn = std::make_unique<pqxx::connection>(url);
    pqxx::nontransaction tx(*conn);
    tx.exec("SET application_name = " + conn->quote(name));
    tx.exec_params("SELECT pg_advisory_lock($1)", schemaop::testing::MigrationLockKey());
    return conn;
  };
  auto other_client = hold("reporting-tool");
  auto refused = RunCli(url, Flags() + " --fence --lock-wait 500ms upgrade r1");
  EXPECT_EQ(refused.exit_code, 4) << refused.output;
  EXPECT_TRUE(other_client->is_open());
  other_client.reset();

  auto gone = hold("schemaop:cli:someone@elsewhere:42");
  auto waited = RunCli(url, Flags() + " --lock-wait 500ms upgrade r1");
  EXPECT_EQ(waited.exit_code, 4) << waited.output;
  auto fenced = RunCli(url, Flags() + " --fence --lock-wait 5s upgrade r1");
  EXPECT_EQ(fenced.exit_code, 0) << fenced.output;
  EXPECT_NE(fenced.output.find("fenced the stale session owner 'schemaop:cli:someone@elsewhere:42'"),
            std::string::npos)
      << fenced.output;
  EXPECT_EQ(fenced.output.find(PasswordOf(url)), std::string::npos);
}

TEST_F(CliTest, WrongPasswordExitsThreeWithoutEchoingIt) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_wrong_password");
  std::string real = PasswordOf(url);
  std::string wrong = url;
  wrong.replace(wrong.find(real), real.size(), "NotThePassword42");
  auto result = RunCli(wrong, Flags() + " current");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_EQ(result.output.find("NotThePassword42"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find(real), std::string::npos);
  EXPECT_NE(result.output.find("password"), std::string::npos) << result.output;
}

// Invariant (managed PostgreSQL): TLS from the URL in local mode: with
// verify-full and the harness CA an upgrade and a backup (pg_dump) succeed;
// with an unrelated CA the command exits 3 naming the certificate problem
// and the fix, without the password.
TEST_F(CliTest, TlsVerifyFullFromTheUrl) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_tls");
  auto ok = RunCli(url + "?sslmode=verify-full&sslrootcert=" + schemaop::testing::HarnessCaFile(),
                   Flags() + " upgrade r1");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto backup = RunCli(
      url + "?sslmode=verify-full&sslrootcert=" + schemaop::testing::HarnessCaFile(),
      Flags() + " backup");
  EXPECT_EQ(backup.exit_code, 0) << backup.output;
  auto wrong = RunCli(
      url + "?sslmode=verify-full&sslrootcert=" + schemaop::testing::HarnessWrongCaFile(),
      Flags() + " current");
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_NE(wrong.output.find("certificate verify failed"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("give the CA that issued the server's certificate"),
            std::string::npos)
      << wrong.output;
  EXPECT_EQ(wrong.output.find(PasswordOf(url)), std::string::npos) << wrong.output;
}

// Everything a run could change: relations outside the system schemas (the
// schemaop schema included), the version rows, schemaop's run_log.
std::string DatabaseState(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  std::string state = tx.exec(
      "SELECT coalesce(string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1), '') "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg\\_toast%'")[0][0].as<std::string>();
  state += tx.exec("SELECT count(*) FROM pg_namespace WHERE nspname = 'schemaop'")[0][0].as<std::string>();
  if (!tx.exec("SELECT to_regclass('alembic_version') IS NULL")[0][0].as<bool>()) {
    state += "|" + tx.exec("SELECT coalesce(string_agg(version_num, ','), '') FROM alembic_version")[0][0]
                       .as<std::string>();
  }
  return state;
}

// The "Bad input (each a test)" at the command line: a non-zero
// exit, a message naming the problem and the fix, no password, and the
// database exactly as it was.
class CliBadInputTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    url_ = schemaop::testing::CreateScratchDatabase(
        schemaop::testing::DatabaseNameForCurrentTest("engine_cli_bad_"));
    password_ = PasswordOf(url_);
    before_ = DatabaseState(url_);
  }
  // Runs the CLI and checks the exit code, that every `needles` appears,
  // that the password does not, and that nothing changed.
  void ExpectRefused(const std::string& arguments, int exit_code,
                     const std::vector<std::string>& needles, const std::string& url = "") {
    auto result = RunCli(url.empty() ? url_ : url, arguments);
    EXPECT_EQ(result.exit_code, exit_code) << result.output;
    for (const auto& needle : needles) {
      EXPECT_NE(result.output.find(needle), std::string::npos)
          << "missing '" << needle << "' in: " << result.output;
    }
    EXPECT_EQ(result.output.find(password_), std::string::npos) << result.output;
    EXPECT_EQ(DatabaseState(url_), before_);
  }
  void WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
    fs::create_directories(dir_ + "/" + dir);
    schemaop::testing::WriteTextFile(dir_ + "/" + dir + "/" + name, text);
  }
  using CliTest::Flags;
  std::string Flags(const std::string& dir) const {
    return "--migrations " + dir_ + "/" + dir + " --backup-dir " + dir_ + "/backups --pg-bin-dir " +
           schemaop::testing::HarnessBinDir();
  }
  std::string url_;
  std::string password_;
  std::string before_;
};

TEST_F(CliBadInputTest, MalformedFile) {
  WriteFile("bad", "001_ok.sql",
            "-- revision: r1\n-- down_revision:\n-- message: ok\n\n-- migrate:up\nSELECT 1;\n");
  WriteFile("bad", "002_broken.sql", "-- down_revision: r1\n-- message: no id\n\n-- migrate:up\nSELECT 1;\n");
  for (const char* command : {" upgrade head", " plan head", " downgrade base", " stamp head"}) {
    ExpectRefused(Flags("bad") + command, 2, {"002_broken.sql", "revision"});
  }
}

TEST_F(CliBadInputTest, Cycle) {
  WriteFile("cycle", "a.sql",
            "-- revision: ra\n-- down_revision: rb\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id int);\n");
  WriteFile("cycle", "b.sql",
            "-- revision: rb\n-- down_revision: ra\n-- message: b\n\n-- migrate:up\nCREATE TABLE b (id int);\n");
  ExpectRefused(Flags("cycle") + " upgrade head", 2, {"cycle", "ra", "rb", "down_revision"});
}

TEST_F(CliBadInputTest, UnknownTarget) {
  ExpectRefused(Flags() + " upgrade nope", 2, {"'nope'", "r1", "r2"});
  ExpectRefused(Flags() + " downgrade nope", 2, {"'nope'"});
}

TEST_F(CliBadInputTest, UnreachableDatabase) {
  const int port = schemaop::testing::UnusedLoopbackPort();
  std::string url = "postgresql://app:NoSuchSecret55@127.0.0.1:" + std::to_string(port) + "/db";
  auto result = RunCli(url, Flags() + " upgrade head");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("check the host and port"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(std::to_string(port)), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("NoSuchSecret55"), std::string::npos) << result.output;
}

TEST_F(CliBadInputTest, WrongPassword) {
  std::string wrong = url_;
  wrong.replace(wrong.find(password_), password_.size(), "NotThePassword42");
  auto result = RunCli(wrong, Flags() + " upgrade head");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("check the user and password"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("NotThePassword42"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find(password_), std::string::npos) << result.output;
  EXPECT_EQ(DatabaseState(url_), before_);
}

TEST_F(CliBadInputTest, MissingMigrationsDirectory) {
  ExpectRefused(Flags("absent") + " upgrade head", 2, {dir_ + "/absent", "--migrations"});
  ExpectRefused(Flags("absent") + " plan head", 2, {dir_ + "/absent", "--migrations"});
}

TEST_F(CliBadInputTest, DatabaseAtARevisionTheFilesDoNotKnow) {
  schemaop::testing::ExecSql(url_,
                             "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                             "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)); "
                             "INSERT INTO alembic_version VALUES ('f00dcafe')");
  before_ = DatabaseState(url_);
  for (const char* command : {" upgrade head", " downgrade base", " plan head"}) {
    ExpectRefused(Flags() + command, 2, {"'f00dcafe'", "--migrations", "stamp"});
  }
}

// Issue 12: the server notices a dead client. A SIGKILLed `schemaop` in the
// middle of a long statement must not leave its backend running: the server
// aborts the statement within seconds (client_connection_check_interval),
// instead of finishing the 60-second sleep.
TEST_F(CliTest, KilledClientsStatementIsAbortedByTheServer) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_dead_client");
  WriteMigration("003_r3.sql", MigrationText("r3", "r2", "slow",
                                             "-- migrate:up\nSELECT pg_sleep(60);\n\n"
                                             "-- migrate:down\nSELECT 1;\n"));
  WriteMigration("002_r2.sql", MigrationText("r2", "r1", "nothing",
                                             "-- migrate:up\nSELECT 1;\n\n"
                                             "-- migrate:down\nSELECT 1;\n"));
  const std::string migrations = dir_ + "/m";
  pid_t child = StartCli(url, {"--migrations", migrations, "-q", "upgrade", "head"});
  ASSERT_GE(child, 0);
  pqxx::connection observer(url);
  auto sleeping = [&observer]() {
    pqxx::nontransaction tx(observer);
    return tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'schemaop:cli:%' "
                    "AND query LIKE '%pg_sleep(60)%' AND state = 'active'")[0]
        .as<int>();
  };
  auto wait_until = [](auto condition, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  ASSERT_TRUE(wait_until([&] { return sleeping() == 1; }, std::chrono::seconds(30)))
      << "the migration never reached its pg_sleep";
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return sleeping() == 0; }, std::chrono::seconds(15)))
      << "the statement of a killed client kept running";
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(15));
}

// `schemaop rehearse` (design §4.10) as a non-superuser owner with CREATEDB:
// the database of `name`, at r1, owned by that role; returns its URL.
std::string RehearsalDatabase(const std::string& name) {
  namespace t = schemaop::testing;
  t::EnsureLoginRole("schemaop_cli_rehearser", "rehearse-pw-2", "NOSUPERUSER CREATEDB");
  std::string url = t::CreateScratchDatabase(name);
  t::ExecSql(t::HarnessUrl(), "ALTER DATABASE " + name + " OWNER TO schemaop_cli_rehearser");
  return t::UrlAs(url, "schemaop_cli_rehearser", "rehearse-pw-2");
}

std::string ScratchDatabases() {
  return schemaop::testing::QueryValue(
      schemaop::testing::HarnessUrl(),
      "SELECT coalesce(string_agg(datname, ',' ORDER BY datname), '') FROM pg_database "
      "WHERE datname LIKE 'schemaop\\_rehearsal\\_%' "
      "AND datdba = 'schemaop_cli_rehearser'::regrole");  // other tests rehearse in parallel
}

TEST_F(CliTest, RehearseReportsAFailureAndASuccessAndChangesNothing) {
  std::string url = RehearsalDatabase("engine_cli_rehearse");
  const std::string m = "--migrations " + dir_ + "/m ";
  ASSERT_EQ(RunCli(url, m + "upgrade r1").exit_code, 0);
  Outcome failed = RunCli(url, m + "rehearse head");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("rehearsal failed (forward)"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find("the database was not changed"), std::string::npos);
  EXPECT_EQ(failed.output.find(PasswordOf(url)), std::string::npos);
  EXPECT_EQ(schemaop::testing::QueryValue(url, "SELECT count(*) FROM items"), "2");
  EXPECT_EQ(schemaop::testing::QueryValue(url, "SELECT count(*) FROM schemaop.run_log"), "1");
  EXPECT_EQ(ScratchDatabases(), "");
  WriteMigration("002_r2.sql", MigrationText("r2", "r1", "price",
                                             "-- migrate:up\nALTER TABLE items ADD COLUMN p int;\n\n"
                                             "-- migrate:down\nALTER TABLE items DROP COLUMN p;\n"));
  Outcome ok = RunCli(url, m + "rehearse head");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("predicted write-downtime: "), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("1. upgrade   r2"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("1. downgrade r2"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find(" dropped\n"), std::string::npos) << ok.output;
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(schemaop::testing::QueryValue(url, "SELECT string_agg(version_num, ',') FROM "
                                               "alembic_version"), "r1");
  // Without CREATEDB: the fix is named and nothing is created.
  schemaop::testing::ExecSql(schemaop::testing::HarnessUrl(),
                             "ALTER ROLE schemaop_cli_rehearser NOCREATEDB");
  Outcome refused = RunCli(url, m + "rehearse head");
  schemaop::testing::ExecSql(schemaop::testing::HarnessUrl(),
                             "ALTER ROLE schemaop_cli_rehearser CREATEDB");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("CREATEDB"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--rehearsal-url"), std::string::npos) << refused.output;
  EXPECT_EQ(ScratchDatabases(), "");
}

TEST_F(CliTest, AKilledRehearsalsScratchDatabaseIsDroppedByTheNextOne) {
  std::string url = RehearsalDatabase("engine_cli_rehearse_killed");
  const std::string migrations = dir_ + "/m";
  ASSERT_EQ(RunCli(url, "--migrations " + migrations + " upgrade r1").exit_code, 0);
  WriteMigration("002_r2.sql", MigrationText("r2", "r1", "slow",
                                             "-- migrate:up\nSELECT pg_sleep(60);\n\n"
                                             "-- migrate:down\nSELECT 1;\n"));
  pid_t child = StartCli(url, {"--migrations", migrations, "rehearse", "head"});
  ASSERT_GE(child, 0);
  const std::string sleeping_in =
      "SELECT coalesce(max(datname), '') FROM pg_stat_activity WHERE datname LIKE "
      "'schemaop\\_rehearsal\\_%' AND query LIKE '%pg_sleep(60)%' AND state = 'active'";
  std::string scratch;
  for (int i = 0; i < 300 && scratch.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    scratch = schemaop::testing::QueryValue(schemaop::testing::HarnessUrl(), sleeping_in);
  }
  ASSERT_FALSE(scratch.empty()) << "the rehearsal never reached its pg_sleep";
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(ScratchDatabases(), scratch);  // left behind by the killed process
  WriteMigration("002_r2.sql", MigrationText("r2", "r1", "fast",
                                             "-- migrate:up\nSELECT 1;\n\n"
                                             "-- migrate:down\nSELECT 1;\n"));
  // The server ends the killed client's sessions within seconds; until
  // then the leftover counts as in use and is kept.
  Outcome next;
  for (int i = 0; i < 30; ++i) {
    next = RunCli(url, "--migrations " + migrations + " rehearse head");
    if (next.output.find("removed the scratch database " + scratch) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(next.exit_code, 0) << next.output;
  EXPECT_NE(next.output.find("removed the scratch database " + scratch), std::string::npos)
      << next.output;
  EXPECT_EQ(ScratchDatabases(), "");
}

}  // namespace

// design §3.1: `schemaop plan` names each step's phases, the parser's
// warning about an unsafe expand statement reaches the user, and `upgrade`
// runs the batched backfill to completion.
TEST_F(CliTest, PlanShowsPhasesAndUpgradeRunsTheBatch) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_phases");
  WriteMigration("002_r2.sql",
                 MigrationText("r2", "r1", "phased",
                               "-- migrate:up phase:expand\n"
                               "ALTER TABLE items ADD COLUMN n int;\n"
                               "CREATE INDEX items_n ON items (n);\n\n"
                               "-- migrate:up phase:expand batch:1\n"
                               "UPDATE items SET n = id WHERE id IN "
                               "(SELECT id FROM items WHERE n IS NULL LIMIT 1);\n\n"
                               "-- migrate:up\nALTER TABLE items ALTER COLUMN n SET NOT NULL;\n\n"
                               "-- migrate:down\nALTER TABLE items DROP COLUMN n;\n"));
  ASSERT_EQ(RunCli(url, Flags() + " upgrade r1").exit_code, 0);
  auto plan = RunCli(url, Flags() + " plan head");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("phases: expand 2 (1 batch), window 1\n"), std::string::npos)
      << plan.output;
  EXPECT_NE(plan.output.find("warning: 002_r2.sql:7: unsafe in phase:expand"), std::string::npos)
      << plan.output;
  auto up = RunCli(url, Flags() + " upgrade head");
  EXPECT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(up.output.find("outcome: succeeded"), std::string::npos) << up.output;
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM items WHERE n = id")[0][0].as<int>(), 2);
  EXPECT_EQ(tx.exec("SELECT progress -> 'batch' ->> 'repetitions' FROM schemaop.run_log "
                    "ORDER BY id DESC LIMIT 1")[0][0]
                .as<std::string>(),
            "3");
}

// design §3.1 "Running the phases apart": `upgrade --phase` runs one phase;
// out of order is refused with the phase to run first (exit 2, nothing
// changed); a bad value names the choices; `plan` lists each phase's
// sections.
TEST_F(CliTest, PhaseFlagRunsOnePhaseAtATime) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_phase_flag");
  WriteMigration("002_r2.sql",
                 MigrationText("r2", "r1", "phased",
                               "-- migrate:up phase:expand\n"
                               "ALTER TABLE items ADD COLUMN n int;\n\n"
                               "-- migrate:up phase:expand batch:1\n"
                               "UPDATE items SET n = id WHERE id IN "
                               "(SELECT id FROM items WHERE n IS NULL LIMIT 1);\n\n"
                               "-- migrate:up\nALTER TABLE items ALTER COLUMN n SET NOT NULL;\n\n"
                               "-- migrate:up phase:contract\n"
                               "COMMENT ON TABLE items IS 'contracted';\n\n"
                               "-- migrate:down\nALTER TABLE items DROP COLUMN n;\n"));
  ASSERT_EQ(RunCli(url, Flags() + " upgrade r1").exit_code, 0);
  auto plan = RunCli(url, Flags() + " plan head");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("  expand: r2#1 r2#2\n  window: r2#3 r2(version)\n"
                             "  contract: r2#4\n"),
            std::string::npos)
      << plan.output;

  auto bad = RunCli(url, Flags() + " upgrade head --phase soon");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--phase: \"soon\" is not a phase; use --phase expand, --phase "
                            "window or --phase contract"),
            std::string::npos)
      << bad.output;
  auto early = RunCli(url, Flags() + " upgrade head --phase window");
  EXPECT_EQ(early.exit_code, 2) << early.output;
  EXPECT_NE(early.output.find("Run it first (--phase expand)"), std::string::npos)
      << early.output;

  auto expand = RunCli(url, Flags() + " upgrade head --phase expand");
  EXPECT_EQ(expand.exit_code, 0) << expand.output;
  EXPECT_NE(expand.output.find("phase: expand\noutcome: succeeded; database at r1"),
            std::string::npos)
      << expand.output;
  auto again = RunCli(url, Flags() + " upgrade head --phase expand");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already ran"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("outcome: nothing-to-do"), std::string::npos) << again.output;

  auto window = RunCli(url, Flags() + " upgrade head --phase window");
  EXPECT_EQ(window.exit_code, 0) << window.output;
  EXPECT_NE(window.output.find("outcome: succeeded; database at r2"), std::string::npos)
      << window.output;
  pqxx::connection conn(url);
  {
    pqxx::work tx(conn);
    EXPECT_TRUE(tx.exec("SELECT obj_description('items'::regclass)")[0][0].is_null());
  }
  auto contract = RunCli(url, Flags() + " upgrade head");  // what is pending: the contract
  EXPECT_EQ(contract.exit_code, 0) << contract.output;
  EXPECT_NE(contract.output.find("phase: contract\noutcome: succeeded"), std::string::npos)
      << contract.output;
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec("SELECT obj_description('items'::regclass)")[0][0].as<std::string>(),
            "contracted");
}
