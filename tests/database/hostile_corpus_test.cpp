// The hostile corpus (issue 7 item 10): migrations that try to lose data, or
// look as if they might, run through the real engine against the harness
// PostgreSQL (tier `pg`). Each case asserts what a user would check after the
// run: the outcome and its reason, the alembic_version row, and the data.
//
// A refused case also asserts that the database is exactly as it was before
// the run (every relation, column, index, constraint and every row; see
// Snapshot). A case that succeeds asserts the facts that prove nothing was lost.
//
// The cases are a table (hostile_corpus.h, hostile_corpus_cases.cpp); the
// few that do not fit it are at the end of this file.
#include "hostile_corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "database/migrator.h"
#include "support/engine_fixture.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using core::Code;
using std::chrono::milliseconds;

// ---- the fixture ------------------------------------------------------------

class CorpusFixture : public testing::EngineTest {
 protected:
  CorpusFixture() : EngineTest("corpus_", "corpus", "corpus") {}

  // r1: the base revision, `base` is its up section (schema and data).
  void WriteBase(const std::string& base) {
    Write("001_r1.sql",
          testing::MigrationText("r1", "", "base",
                                 "-- migrate:up\n" + base + "\n\n-- migrate:down\nSELECT 1;\n"));
  }
  // r2: the hostile revision; `body` holds its section markers and SQL.
  void WriteHostile(const std::string& extra_header, const std::string& body) {
    Write("002_r2.sql", testing::MigrationText("r2", "r1", "hostile", body, extra_header));
  }

  // r1: users and keep; r2: DROP OWNED BY current_user.
  void WriteDropOwned() {
    WriteBase(std::string(corpus::kUsers) + corpus::kKeep);
    WriteHostile("", "-- migrate:up\nDROP OWNED BY current_user;\n\n-- migrate:down\nSELECT 1;\n");
  }

  // The DROP OWNED run to head: rolled back (none, with a failed
  // expectation, when the engine or the run fails to report).
  std::optional<RunReport> RunDropOwned() {
    auto m = Open(Options());
    if (m == nullptr) {
      return std::nullopt;
    }
    auto report = m->Run("head");
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) {
      return std::nullopt;
    }
    EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
    return std::move(report).value();
  }
  // After the DROP OWNED run: still at r1, users and keep whole, the run
  // recorded as rolled back, the database as `before`.
  void ExpectNothingDropped(const std::string& before) {
    EXPECT_EQ(Versions(), "r1");
    EXPECT_EQ(Query(corpus::kUsersCount), "100");
    EXPECT_EQ(Query("SELECT count(*) FROM keep"), "100");
    EXPECT_EQ(LastRunOutcome(), "rolled_back");
    EXPECT_EQ(Snapshot(), before);
  }

  // Runs to `target` with default options and requires success (the steps
  // that bring the database to the revision the hostile run starts from).
  void Reach(const std::string& target, core::PlanMode mode = core::PlanMode::kAuto) {
    auto m = Open(Options());
    ASSERT_NE(m, nullptr);
    auto report = m->Run(target, mode);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
    ASSERT_EQ(Versions(), target == "head" ? "r2" : target);
  }

  // The engine connects as `role` (a login role with `attributes`, created
  // if missing) and the test looks as the superuser.
  void EngineAs(const std::string& role, const std::string& password,
                const std::string& attributes) {
    testing::EnsureLoginRole(role, password, attributes);
    observer_url_ = testing::SuperuserUrlFor(database_);
    engine_url_ = testing::UrlAs(url_, role, password);
  }

  // Everything a refused run must leave as it found it, outside schemaop's
  // own schema: relations (kind, persistence), columns (type, nullability,
  // default), indexes, constraints, triggers, functions, and the rows of
  // every table (count and a digest of the sorted rows, each table on its
  // own: partitions and inheritance children apart from their parents).
  std::string Snapshot() {
    pqxx::connection conn(observer_url_);
    pqxx::work tx(conn);
    const std::string in_user_schema =
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'schemaop')"
        " AND n.nspname NOT LIKE 'pg\\_%'";
    const std::vector<std::string> catalog_queries = {
        "SELECT format('%I.%I %s %s', n.nspname, c.relname, c.relkind, c.relpersistence)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE true" +
            in_user_schema,
        "SELECT format('%I.%I.%I %s %s %s', n.nspname, c.relname, a.attname,"
        "  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attnum > 0 AND NOT a.attisdropped"
        " AND c.relkind IN ('r', 'p', 'v', 'm', 'f')" +
            in_user_schema,
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE true" +
            in_user_schema,
        "SELECT format('%s %s', con.conname, pg_get_constraintdef(con.oid))"
        " FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE true" +
            in_user_schema,
        "SELECT format('%s %s', t.tgname, t.tgrelid::regclass) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE NOT t.tgisinternal" +
            in_user_schema,
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE true" +
            in_user_schema,
    };
    std::string out;
    for (const auto& sql : catalog_queries) {
      std::vector<std::string> lines;
      for (const auto& row : tx.exec(sql)) {
        lines.push_back(row[0].is_null() ? "<null>" : row[0].as<std::string>());
      }
      std::sort(lines.begin(), lines.end());
      for (const auto& line : lines) {
        out += line + "\n";
      }
      out += "--\n";
    }
    const std::string tables =
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'" +
        in_user_schema + " ORDER BY 1";
    for (const auto& row : tx.exec(tables)) {
      const auto table = row[0].as<std::string>();
      const std::string rows =
          "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-')"
          " FROM ONLY " +
          table + " x";
      out += table + " " + tx.exec(rows)[0][0].as<std::string>() + "\n";
    }
    return out;
  }
};

using corpus::Case;
using namespace corpus;  // the base schemas (kUsers, ...) of the special tests

class HostileCorpusTest : public CorpusFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(HostileCorpusTest, Run) {
  const Case& c = GetParam();
  WriteBase(c.base);
  WriteHostile(c.extra_header, c.r2_body);
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  if (c.downgrade) {
    ASSERT_NO_FATAL_FAILURE(Reach("head"));
  }
  const std::string start_version = c.downgrade ? "r2" : "r1";
  const std::string target_version = c.downgrade ? "r1" : "r2";
  const std::string before = Snapshot();

  auto options = Options();
  options.allow_row_loss = c.allow_row_loss;
  options.verify_schema = c.verify_schema;
  options.checks = c.checks;
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = c.downgrade ? m->Run("r1", core::PlanMode::kDowngrade) : m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& message = report->status.message();

  if (c.expected == Code::kOk) {
    EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
    EXPECT_TRUE(report->status.ok()) << report->status.ToString();
    EXPECT_EQ(Versions(), target_version);
    EXPECT_EQ(report->final_versions, std::vector<std::string>{target_version});
  } else {
    EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
    EXPECT_EQ(core::CodeName(report->status.code()), std::string(core::CodeName(c.expected)))
        << report->status.ToString();
    if (!c.expected_detail.empty()) {
      EXPECT_EQ(report->status.detail(), c.expected_detail) << report->status.ToString();
    }
    for (const auto& text : c.message_has) {
      EXPECT_NE(message.find(text), std::string::npos)
          << "expected '" << text << "' in: " << message;
    }
    if (!c.message_has_one_of.empty()) {
      EXPECT_TRUE(std::any_of(
          c.message_has_one_of.begin(), c.message_has_one_of.end(),
          [&](const std::string& text) { return message.find(text) != std::string::npos; }))
          << "expected one of " << ::testing::PrintToString(c.message_has_one_of)
          << " in: " << message;
    }
    EXPECT_EQ(Versions(), start_version);
    EXPECT_EQ(report->final_versions, std::vector<std::string>{start_version});
    EXPECT_EQ(LastRunOutcome(), "rolled_back");
    EXPECT_EQ(Snapshot(), before) << "the refused run changed the database (" << message << ")";
  }
  for (const auto& [sql, value] : c.facts) {
    EXPECT_EQ(Query(sql), value) << sql;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, HostileCorpusTest, ::testing::ValuesIn(Corpus()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// ---- cases that do not fit the table --------------------------------------------

using HostileCorpusSpecialTest = CorpusFixture;

// DROP OWNED BY current_user, run by the role that owns the application's
// tables (a superuser cannot: PostgreSQL refuses to drop what the bootstrap
// role owns). Everything the role owns goes, schemaop's own tables included
// when the role created them, so the refusal may come from the row guard or
// from the engine's own bookkeeping failing; either way nothing is committed.
TEST_F(HostileCorpusSpecialTest, DropOwnedByCurrentUser) {
  const std::string role = "corpus_app_owner";
  const std::string password = "corpus-app-owner-pw";
  // The test's own look is the superuser's: the tables become the role's.
  EngineAs(role, password, "NOSUPERUSER");
  Exec("ALTER DATABASE \"" + database_ + "\" OWNER TO " + role);
  WriteDropOwned();
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  ASSERT_EQ(Query("SELECT tableowner FROM pg_tables WHERE tablename = 'users'"), role);
  const std::string before = Snapshot();

  auto report = RunDropOwned();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->status.code() == Code::kVerificationFailed ||
              report->status.code() == Code::kMigrationFailed)
      << report->status.ToString();
  EXPECT_EQ(Query(kUser42), "user42");
  ExpectNothingDropped(before);
}

// The same with the guard alone in the way: the role running the migration
// is a superuser other than the bootstrap one (so DROP OWNED is allowed and
// schemaop's own tables, owned by the bootstrap role, stay writable) and
// owns the application's tables. The row guard must name what was dropped.
TEST_F(HostileCorpusSpecialTest, DropOwnedIsCaughtByTheRowGuard) {
  const std::string role = "corpus_admin_owner";
  const std::string password = "corpus-admin-owner-pw";
  WriteDropOwned();
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  // The owner of the database is not a superuser: the test looks and hands
  // the tables over as the superuser.
  EngineAs(role, password, "SUPERUSER");
  Exec("ALTER TABLE users OWNER TO " + role + "; ALTER TABLE keep OWNER TO " + role);
  const std::string before = Snapshot();

  auto report = RunDropOwned();
  ASSERT_TRUE(report);
  EXPECT_EQ(core::CodeName(report->status.code()),
            std::string(core::CodeName(Code::kVerificationFailed)))
      << report->status.ToString();
  const auto& message = report->status.message();
  EXPECT_TRUE(message.find("users") != std::string::npos ||
              message.find("keep") != std::string::npos)
      << message;
  ExpectNothingDropped(before);
}

// An autocommit statement commits by itself: the loss it causes cannot be
// undone, but it is found right after that statement, the run stops there
// (the next statement never runs), undoes what it applied and says which
// table lost rows.
TEST_F(HostileCorpusSpecialTest, AutocommitStatementLossStopsTheRun) {
  WriteBase(kUsers);
  WriteHostile(
      "",
      "-- migrate:up transaction:false\n"
      "DELETE FROM users WHERE id > 50;\n"
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n\n"
      "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS users_name_idx;\n");
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  std::vector<int> forward_statements;
  auto options = Options();
  options.on_progress = [&](const ProgressEvent& event) {
    if (event.phase == "migrating" && event.revision == "r2" &&
        event.direction == core::Direction::kUp && event.statement_index >= 0 &&
        event.message.rfind("undoing", 0) != 0) {
      forward_statements.push_back(event.statement_index);
    }
  };
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_NE(report->outcome, RunOutcome::kSucceeded);
  EXPECT_NE(report->status.message().find("users"), std::string::npos) << report->status.ToString();
  EXPECT_EQ(forward_statements, std::vector<int>{0}) << "the statement after the loss ran";
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'"), "0");
}

// An upgrade to a revision reached before is checked against the
// fingerprint recorded then. r2's up section depends on the data, so the
// second upgrade builds a different schema than the first: refused as
// drift naming the column, unless schema verification is off.
TEST_F(HostileCorpusSpecialTest, ReupgradeToSeenRevisionChecksTheFingerprint) {
  WriteBase(kUsers);
  WriteHostile("",
               "-- migrate:up\nCREATE TABLE r2_table (id int PRIMARY KEY);\n"
               "DO $$ BEGIN\n"
               "  IF EXISTS (SELECT 1 FROM users WHERE id > 100) THEN\n"
               "    ALTER TABLE r2_table ADD COLUMN surprise int;\n"
               "  END IF;\n"
               "END $$;\n\n"
               "-- migrate:down\nDROP TABLE r2_table;\n");
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  ASSERT_NO_FATAL_FAILURE(Reach("head"));
  ASSERT_NO_FATAL_FAILURE(Reach("r1", core::PlanMode::kDowngrade));
  Exec("INSERT INTO users VALUES (101, 'user101')");

  auto m = Open(Options());
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
  EXPECT_EQ(core::CodeName(report->status.code()), std::string(core::CodeName(Code::kSchemaDrift)))
      << report->status.ToString();
  EXPECT_NE(report->status.message().find("surprise"), std::string::npos)
      << report->status.message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT to_regclass('r2_table') IS NULL"), "t");
  EXPECT_EQ(Query(kUsersCount), "101");

  auto options = Options();
  options.verify_schema = false;
  auto lenient = Open(options);
  ASSERT_NE(lenient, nullptr);
  auto allowed = lenient->Run("head");
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(allowed->outcome, RunOutcome::kSucceeded) << allowed->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'r2_table' "
                  "AND column_name = 'surprise'"),
            "1");
}

}  // namespace
}  // namespace schemaop::database
