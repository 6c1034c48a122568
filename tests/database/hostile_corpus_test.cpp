// The hostile corpus (issue 7 item 10): migrations that try to lose data, or
// look as if they might, run through the real engine against the harness
// PostgreSQL (tier `pg`). Each case asserts what a user would check after the
// run: the outcome and its reason, the alembic_version row, and the data.
//
// A refused case also asserts that the database is exactly as it was before
// the run (every relation, column, index, constraint and every row; see
// Snapshot). A case that succeeds asserts the facts that prove nothing was lost.
//
// To add a case, append to Corpus(): a base revision r1 with distinctive data,
// the hostile revision r2 (its up section, or for a downgrade case its down
// section), the options, and the expected outcome and facts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
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

// ---- the table-driven corpus ------------------------------------------------

// One hostile or tricky migration and what must hold after it ran.
struct Case {
  std::string name;          // GoogleTest parameter name: [A-Za-z0-9]
  std::string base;          // r1's up section: schema and data
  std::string extra_header;  // header lines of r2, e.g. "-- down_row_loss: t\n"
  std::string r2_body;       // r2's sections, markers included
  bool downgrade = false;    // run r1 -> r2 first, then the hostile r2 -> r1
  std::vector<std::string> allow_row_loss;
  bool verify_schema = true;
  std::vector<UserCheck> checks;
  Code expected = Code::kOk;    // kOk: kSucceeded; else kRolledBack with this code
  std::string expected_detail;  // SQLSTATE, when it matters
  std::vector<std::string> message_has;
  std::vector<std::string> message_has_one_of;
  std::vector<std::pair<std::string, std::string>> facts;  // SQL -> first value after the run

  explicit Case(std::string case_name) : name(std::move(case_name)) {}
  Case& Base(const std::string& sql) {
    base += sql;
    return *this;
  }
  // The hostile SQL is r2's (transactional) up section.
  Case& Up(const std::string& up, const std::string& down = "SELECT 1;") {
    r2_body = "-- migrate:up\n" + up + "\n\n-- migrate:down\n" + down + "\n";
    return *this;
  }
  // r2's sections as written (e.g. with transaction:false sections).
  Case& Sections(const std::string& body) {
    r2_body = body;
    return *this;
  }
  // The hostile SQL is r2's down section; r2's up runs first (and must succeed).
  Case& Down(const std::string& up, const std::string& down) {
    Up(up, down);
    downgrade = true;
    return *this;
  }
  Case& Header(const std::string& line) {
    extra_header += line + "\n";
    return *this;
  }
  Case& AllowRowLoss(std::vector<std::string> names) {
    allow_row_loss = std::move(names);
    return *this;
  }
  Case& NoSchemaVerification() {
    verify_schema = false;
    return *this;
  }
  Case& Check(const std::string& check_name, const std::string& sql) {
    checks.push_back({check_name, sql});
    return *this;
  }
  Case& Succeeds() {
    expected = Code::kOk;
    return *this;
  }
  Case& Refused(Code code) {
    expected = code;
    return *this;
  }
  Case& Detail(const std::string& sqlstate) {
    expected_detail = sqlstate;
    return *this;
  }
  // Refused by verification (row guard, checks), the message naming `text`.
  Case& VerificationRefuses(const std::string& text) {
    return Refused(Code::kVerificationFailed).Says(text);
  }
  Case& Says(const std::string& text) {
    message_has.push_back(text);
    return *this;
  }
  Case& SaysOneOf(std::vector<std::string> texts) {
    message_has_one_of = std::move(texts);
    return *this;
  }
  Case& Fact(const std::string& sql, const std::string& value) {
    facts.emplace_back(sql, value);
    return *this;
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const char* const kUsers =
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);\n"
    "INSERT INTO users SELECT g, 'user' || g FROM generate_series(1, 100) g;\n";
const char* const kUsersCount = "SELECT count(*) FROM users";
const char* const kUser42 = "SELECT name FROM users WHERE id = 42";

// A range-partitioned table: 52 rows in events_2024, 48 in events_2025.
const char* const kEvents =
    "CREATE TABLE events (id int NOT NULL, day date NOT NULL, payload text)\n"
    "  PARTITION BY RANGE (day);\n"
    "CREATE TABLE events_2024 PARTITION OF events\n"
    "  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n"
    "CREATE TABLE events_2025 PARTITION OF events\n"
    "  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n"
    "INSERT INTO events SELECT g, DATE '2024-01-01' + g * 7, 'event' || g\n"
    "  FROM generate_series(1, 100) g;\n";

// Inheritance: 40 rows in vehicles itself, 60 in its child cars.
const char* const kVehicles =
    "CREATE TABLE vehicles (id int NOT NULL, name text NOT NULL);\n"
    "CREATE TABLE cars (doors int NOT NULL DEFAULT 4) INHERITS (vehicles);\n"
    "INSERT INTO vehicles SELECT g, 'vehicle' || g FROM generate_series(1, 40) g;\n"
    "INSERT INTO cars (id, name, doors)\n"
    "  SELECT g, 'car' || g, 2 + g % 3 FROM generate_series(41, 100) g;\n";

// public.t and s.t, 100 rows each.
const char* const kTwoTs =
    "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);\n"
    "INSERT INTO t SELECT g, 'public' || g FROM generate_series(1, 100) g;\n"
    "CREATE SCHEMA s;\n"
    "CREATE TABLE s.t (id int PRIMARY KEY, v text NOT NULL);\n"
    "INSERT INTO s.t SELECT g, 's' || g FROM generate_series(1, 100) g;\n";

const char* const kQuotedUsers =
    "CREATE TABLE \"Users\" (id int PRIMARY KEY, name text NOT NULL);\n"
    "INSERT INTO \"Users\" SELECT g, 'User' || g FROM generate_series(1, 100) g;\n";

// For the check cases: `keep` is what a check must not be able to touch.
const char* const kKeep =
    "CREATE TABLE keep (id int PRIMARY KEY, note text NOT NULL);\n"
    "INSERT INTO keep SELECT g, 'keep' || g FROM generate_series(1, 100) g;\n";
const char* const kMarkerUp = "CREATE TABLE r2_marker (id int);";
const char* const kMarkerDown = "DROP TABLE r2_marker;";

const char* const kSettings =
    "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);\n"
    "INSERT INTO settings SELECT 'key' || g, 'value' || g FROM generate_series(1, 100) g;\n";
const char* const kSeedSettings =
    "INSERT INTO settings SELECT 'seed' || g, 'default' FROM generate_series(1, 5) g;";

// Tables and schemas that disappear.
void AddDisappearingTables(std::vector<Case>& corpus) {
  corpus.push_back(Case("DropTableWithRows")
                       .Base(kUsers)
                       .Up("DROP TABLE users;")
                       .VerificationRefuses("users")
                       .Fact(kUsersCount, "100")
                       .Fact(kUser42, "user42"));
  corpus.push_back(Case("DropEmptyTable")
                       .Base(kUsers)
                       .Base("CREATE TABLE scratch (id int);")
                       .Up("DROP TABLE scratch;")
                       .Succeeds()
                       .Fact("SELECT to_regclass('scratch') IS NULL", "t")
                       .Fact(kUsersCount, "100"));
  corpus.push_back(
      Case("DropSchemaCascade")
          .Base("CREATE SCHEMA s;\n"
                "CREATE TABLE s.accounts (id int PRIMARY KEY, owner text NOT NULL);\n"
                "INSERT INTO s.accounts SELECT g, 'owner' || g FROM generate_series(1, 100) g;\n"
                "CREATE VIEW s.rich AS SELECT * FROM s.accounts WHERE id > 90;\n")
          .Up("DROP SCHEMA s CASCADE;")
          .VerificationRefuses("accounts")
          .Fact("SELECT count(*) FROM s.accounts", "100")
          .Fact("SELECT count(*) FROM s.rich", "10"));
  corpus.push_back(
      Case("UnloggedTableDropped")
          .Base(kUsers)
          .Base("CREATE UNLOGGED TABLE sessions (token text PRIMARY KEY, user_id int NOT NULL);\n"
                "INSERT INTO sessions SELECT md5(g::text), g FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE sessions;")
          .VerificationRefuses("sessions")
          .Fact("SELECT count(*) FROM sessions", "100")
          .Fact("SELECT relpersistence FROM pg_class WHERE relname = 'sessions'", "u"));
  corpus.push_back(
      Case("SecondSchemaTableDropped")
          .Base("CREATE SCHEMA billing;\n"
                "CREATE TABLE billing.invoices (id int PRIMARY KEY, amount int NOT NULL);\n"
                "INSERT INTO billing.invoices SELECT g, g * 100 FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE billing.invoices;")
          .VerificationRefuses("billing.invoices")
          .Fact("SELECT count(*) FROM billing.invoices", "100")
          .Fact("SELECT sum(amount) FROM billing.invoices", "505000"));
  // The rebuild rule accepts a disappeared relation when one of the same
  // name exists afterwards with at least as many rows; an empty one is not that.
  corpus.push_back(
      Case("DropAndRecreateEmpty")
          .Base(kUsers)
          .Up("DROP TABLE users;\nCREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "user42"));
  // A rename must not launder a drop: the relation's identity is gone with rows.
  corpus.push_back(Case("RenameThenDrop")
                       .Base(kUsers)
                       .Up("ALTER TABLE users RENAME TO legacy_users;\nDROP TABLE legacy_users;")
                       .VerificationRefuses("users")
                       .Fact(kUsersCount, "100")
                       .Fact("SELECT to_regclass('legacy_users') IS NULL", "t"));
}

// Rows that disappear from tables that stay.
void AddDisappearingRows(std::vector<Case>& corpus) {
  corpus.push_back(Case("Truncate")
                       .Base(kUsers)
                       .Up("TRUNCATE users;")
                       .VerificationRefuses("users")
                       .Fact(kUsersCount, "100"));
  corpus.push_back(Case("DeleteAll")
                       .Base(kUsers)
                       .Up("DELETE FROM users;")
                       .VerificationRefuses("users")
                       .Fact(kUsersCount, "100"));
  corpus.push_back(Case("DeleteSome")
                       .Base(kUsers)
                       .Up("DELETE FROM users WHERE id > 90;")
                       .VerificationRefuses("users")
                       .Says("100")
                       .Says("90")
                       .Fact(kUsersCount, "100")
                       .Fact("SELECT max(id) FROM users", "100"));
  // Allowing loss in the parent does not allow what ON DELETE CASCADE takes
  // from the child.
  corpus.push_back(
      Case("CascadeDeleteBeyondDeclaredParent")
          .Base("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);\n"
                "CREATE TABLE orders (id int PRIMARY KEY,\n"
                "  customer_id int NOT NULL REFERENCES customers ON DELETE CASCADE,\n"
                "  total int NOT NULL);\n"
                "INSERT INTO customers SELECT g, 'customer' || g FROM generate_series(1, 100) g;\n"
                "INSERT INTO orders SELECT g, g, g * 3 FROM generate_series(1, 100) g;\n")
          .Up("DELETE FROM customers WHERE id <= 10;")
          .AllowRowLoss({"customers"})
          .VerificationRefuses("orders")
          .Fact("SELECT count(*) FROM customers", "100")
          .Fact("SELECT count(*) FROM orders", "100"));
  corpus.push_back(
      Case("TriggerDeletesOnInsert")
          .Base("CREATE TABLE audit (id int PRIMARY KEY, note text NOT NULL);\n"
                "INSERT INTO audit SELECT g, 'audit' || g FROM generate_series(1, 100) g;\n"
                "CREATE TABLE inbox (id int PRIMARY KEY);\n")
          .Up("CREATE FUNCTION purge_audit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
              "BEGIN\n  DELETE FROM audit;\n  RETURN NEW;\nEND $$;\n"
              "CREATE TRIGGER inbox_purge AFTER INSERT ON inbox\n"
              "  FOR EACH ROW EXECUTE FUNCTION purge_audit();\n"
              "INSERT INTO inbox VALUES (1);")
          .VerificationRefuses("audit")
          .Fact("SELECT count(*) FROM audit", "100")
          .Fact("SELECT count(*) FROM inbox", "0")
          .Fact("SELECT to_regprocedure('purge_audit()') IS NULL", "t"));
}

// Partitions and inheritance.
void AddPartitionsAndInheritance(std::vector<Case>& corpus) {
  corpus.push_back(Case("DropPartitionWithRows")
                       .Base(kEvents)
                       .Up("DROP TABLE events_2024;")
                       .VerificationRefuses("events_2024")
                       .Fact("SELECT count(*) FROM events", "100")
                       .Fact("SELECT count(*) FROM events_2024", "52"));
  // The rows stay in events_2024, now a table of its own: nothing lost.
  corpus.push_back(
      Case("DetachPartition")
          .Base(kEvents)
          .Up("ALTER TABLE events DETACH PARTITION events_2024;")
          .Succeeds()
          .Fact("SELECT count(*) FROM events", "48")
          .Fact("SELECT count(*) FROM events_2024", "52")
          .Fact("SELECT relispartition FROM pg_class WHERE relname = 'events_2024'", "f"));
  corpus.push_back(
      Case("AttachPartition")
          .Base(kEvents)
          .Base("CREATE TABLE events_2026 (id int NOT NULL, day date NOT NULL, payload text);\n"
                "INSERT INTO events_2026 SELECT g, DATE '2026-01-01' + g, 'late' || g "
                "FROM generate_series(101, 120) g;\n")
          .Up("ALTER TABLE events ATTACH PARTITION events_2026\n"
              "  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');")
          .Succeeds()
          .Fact("SELECT count(*) FROM events", "120")
          .Fact("SELECT count(*) FROM events_2026", "20"));
  corpus.push_back(Case("DropPartitionedParent")
                       .Base(kEvents)
                       .Up("DROP TABLE events;")
                       .VerificationRefuses("events")
                       .Fact("SELECT count(*) FROM events", "100")
                       .Fact("SELECT count(*) FROM events_2025", "48"));
  // Detached, then dropped: the partition's rows are gone all the same.
  corpus.push_back(
      Case("DetachThenDropPartition")
          .Base(kEvents)
          .Up("ALTER TABLE events DETACH PARTITION events_2024;\nDROP TABLE events_2024;")
          .VerificationRefuses("events")
          .Fact("SELECT count(*) FROM events_2024", "52")
          .Fact("SELECT relispartition FROM pg_class WHERE relname = 'events_2024'", "t"));
  // Updating the partition key moves ten rows from events_2024 to
  // events_2025: one partition has fewer rows, but nothing is lost.
  corpus.push_back(Case("UpdateMovesRowsBetweenPartitions")
                       .Base(kEvents)
                       .Up("UPDATE events SET day = day + 365 WHERE id <= 10;")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM events", "100")
                       .Fact("SELECT count(*) FROM events_2024", "42")
                       .Fact("SELECT count(*) FROM events_2025", "58"));
  corpus.push_back(Case("DropInheritanceParentCascade")
                       .Base(kVehicles)
                       .Up("DROP TABLE vehicles CASCADE;")
                       .VerificationRefuses("vehicles")
                       .Fact("SELECT count(*) FROM ONLY vehicles", "40")
                       .Fact("SELECT count(*) FROM cars", "60"));
  // The child keeps its rows; the parent's own rows are untouched.
  corpus.push_back(Case("NoInheritChild")
                       .Base(kVehicles)
                       .Up("ALTER TABLE cars NO INHERIT vehicles;")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM vehicles", "40")
                       .Fact("SELECT count(*) FROM cars", "60"));

  // Ten rows move from the parent itself into its child: nothing is lost.
  corpus.push_back(
      Case("MoveRowsFromParentToChild")
          .Base(kVehicles)
          .Up("INSERT INTO cars (id, name) SELECT id, name FROM ONLY vehicles WHERE id <= 10;\n"
              "DELETE FROM ONLY vehicles WHERE id <= 10;")
          .Succeeds()
          .Fact("SELECT count(*) FROM ONLY vehicles", "30")
          .Fact("SELECT count(*) FROM cars", "70")
          .Fact("SELECT count(*) FROM vehicles", "100"));
}

// Renames, moves, rebuilds: nothing lost.
void AddRenamesMovesRebuilds(std::vector<Case>& corpus) {
  corpus.push_back(Case("RenameTable")
                       .Base(kUsers)
                       .Up("ALTER TABLE users RENAME TO customers;")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM customers", "100")
                       .Fact("SELECT name FROM customers WHERE id = 42", "user42")
                       .Fact("SELECT to_regclass('users') IS NULL", "t"));
  corpus.push_back(Case("MoveToOtherSchema")
                       .Base(kUsers)
                       .Up("CREATE SCHEMA archive;\nALTER TABLE users SET SCHEMA archive;")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM archive.users", "100")
                       .Fact("SELECT to_regclass('public.users') IS NULL", "t"));
  corpus.push_back(Case("RenameColumn")
                       .Base(kUsers)
                       .Up("ALTER TABLE users RENAME COLUMN name TO full_name;")
                       .Succeeds()
                       .Fact(kUsersCount, "100")
                       .Fact("SELECT full_name FROM users WHERE id = 42", "user42"));
  corpus.push_back(
      Case("RebuildAndSwap")
          .Base(kUsers)
          .Up("CREATE TABLE users_new AS SELECT id, name, upper(name) AS shout FROM users;\n"
              "DROP TABLE users;\n"
              "ALTER TABLE users_new RENAME TO users;\n"
              "ALTER TABLE users ADD PRIMARY KEY (id);")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT shout FROM users WHERE id = 42", "USER42"));
  corpus.push_back(Case("SwapWithFewerRows")
                       .Base(kUsers)
                       .Up("CREATE TABLE users_new AS SELECT * FROM users WHERE id <= 60;\n"
                           "DROP TABLE users;\n"
                           "ALTER TABLE users_new RENAME TO users;")
                       .VerificationRefuses("users")
                       .Fact(kUsersCount, "100")
                       .Fact("SELECT to_regclass('users_new') IS NULL", "t"));
  // Not a rebuild: the table that takes the name existed before the run
  // and keeps its own rows; users' 100 rows are gone.
  corpus.push_back(
      Case("DropThenRenameOtherTableOver")
          .Base(kUsers)
          .Base("CREATE TABLE guests (id int PRIMARY KEY, name text NOT NULL);\n"
                "INSERT INTO guests SELECT g, 'guest' || g FROM generate_series(1, 150) g;\n")
          .Up("DROP TABLE users;\nALTER TABLE guests RENAME TO users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "user42")
          .Fact("SELECT count(*) FROM guests", "150"));
  // Two tables trade names: by name users "lost" 90 rows, by identity nothing moved.
  corpus.push_back(
      Case("SwapTableNames")
          .Base(kUsers)
          .Base("CREATE TABLE guests (id int PRIMARY KEY, name text NOT NULL);\n"
                "INSERT INTO guests SELECT g, 'guest' || g FROM generate_series(1, 10) g;\n")
          .Up("ALTER TABLE users RENAME TO tmp_swap;\n"
              "ALTER TABLE guests RENAME TO users;\n"
              "ALTER TABLE tmp_swap RENAME TO guests;")
          .Succeeds()
          .Fact(kUsersCount, "10")
          .Fact("SELECT count(*) FROM guests", "100")
          .Fact("SELECT name FROM guests WHERE id = 42", "user42"));
}

// Changes the row guard cannot see.
void AddUnseenByTheRowGuard(std::vector<Case>& corpus) {
  // Known limit: dropping a column destroys its values but keeps the row
  // count, so the guard lets it through; the pre-run backup is what covers it.
  corpus.push_back(
      Case("DropColumnWithData")
          .Base(kUsers)
          .Up("ALTER TABLE users DROP COLUMN name;")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' "
                "AND column_name = 'name'",
                "0"));
  // Known limit: narrowing with USING rounds 7.25 to 7 and keeps every row;
  // the guard lets it through, the backup covers it.
  corpus.push_back(
      Case("NarrowTypeWithUsing")
          .Base("CREATE TABLE prices (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL);\n"
                "INSERT INTO prices SELECT g, g + 0.25 FROM generate_series(1, 100) g;\n")
          .Up("ALTER TABLE prices ALTER COLUMN amount TYPE int USING amount::int;")
          .Succeeds()
          .Fact("SELECT count(*) FROM prices", "100")
          .Fact("SELECT amount FROM prices WHERE id = 7", "7")
          .Fact("SELECT data_type FROM information_schema.columns WHERE table_name = 'prices' "
                "AND column_name = 'amount'",
                "integer"));
  // A narrowing that one value does not survive fails as a statement.
  corpus.push_back(
      Case("NarrowTypeFailsOnValue")
          .Base("CREATE TABLE readings (id int PRIMARY KEY, value bigint NOT NULL);\n"
                "INSERT INTO readings SELECT g, g * 10 FROM generate_series(1, 99) g;\n"
                "INSERT INTO readings VALUES (100, 70000);\n")
          .Up("ALTER TABLE readings ALTER COLUMN value TYPE smallint USING value::smallint;")
          .Refused(Code::kMigrationFailed)
          .Detail("22003")
          .Says("r2")
          .Fact("SELECT count(*) FROM readings", "100")
          .Fact("SELECT value FROM readings WHERE id = 100", "70000")
          .Fact("SELECT data_type FROM information_schema.columns WHERE table_name = 'readings' "
                "AND column_name = 'value'",
                "bigint"));
  corpus.push_back(Case("UpdateAllRows")
                       .Base(kUsers)
                       .Up("UPDATE users SET name = upper(name);")
                       .Succeeds()
                       .Fact(kUsersCount, "100")
                       .Fact(kUser42, "USER42"));
  corpus.push_back(
      Case("InsertRows")
          .Base(kUsers)
          .Up("INSERT INTO users SELECT g, 'user' || g FROM generate_series(101, 150) g;")
          .Succeeds()
          .Fact(kUsersCount, "150")
          .Fact(kUser42, "user42"));
}

// Declared loss.
void AddDeclaredLoss(std::vector<Case>& corpus) {
  corpus.push_back(Case("DeclaredLossUnqualified")
                       .Base(kTwoTs)
                       .Up("DELETE FROM public.t WHERE id > 50;")
                       .AllowRowLoss({"t"})
                       .Succeeds()
                       .Fact("SELECT count(*) FROM public.t", "50")
                       .Fact("SELECT count(*) FROM s.t", "100"));
  corpus.push_back(Case("DeclaredLossQualified")
                       .Base(kTwoTs)
                       .Up("DELETE FROM s.t WHERE id > 50;")
                       .AllowRowLoss({"s.t"})
                       .Succeeds()
                       .Fact("SELECT count(*) FROM s.t", "50")
                       .Fact("SELECT count(*) FROM public.t", "100"));
  corpus.push_back(Case("DeclaredLossOtherSchemaNotCovered")
                       .Base(kTwoTs)
                       .Up("DELETE FROM public.t WHERE id > 50;")
                       .AllowRowLoss({"s.t"})
                       .VerificationRefuses("public.t")
                       .Fact("SELECT count(*) FROM public.t", "100")
                       .Fact("SELECT count(*) FROM s.t", "100"));
  corpus.push_back(Case("DeclaredDropOfTable")
                       .Base(kUsers)
                       .Base("CREATE TABLE legacy (id int PRIMARY KEY);\n"
                             "INSERT INTO legacy SELECT generate_series(1, 100);\n")
                       .Up("DROP TABLE legacy;")
                       .AllowRowLoss({"legacy"})
                       .Succeeds()
                       .Fact("SELECT to_regclass('legacy') IS NULL", "t")
                       .Fact(kUsersCount, "100"));
  corpus.push_back(Case("DeclaredDropDoesNotCoverOthers")
                       .Base(kUsers)
                       .Base("CREATE TABLE legacy (id int PRIMARY KEY);\n"
                             "INSERT INTO legacy SELECT generate_series(1, 100);\n")
                       .Up("DROP TABLE legacy;\nDROP TABLE users;")
                       .AllowRowLoss({"legacy"})
                       .VerificationRefuses("users")
                       .Fact("SELECT count(*) FROM legacy", "100")
                       .Fact(kUsersCount, "100"));
  // Declared names are matched against the names before the run.
  corpus.push_back(
      Case("DeclaredLossFollowsRename")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO customers;\nDELETE FROM customers WHERE id > 50;")
          .AllowRowLoss({"users"})
          .Succeeds()
          .Fact("SELECT count(*) FROM customers", "50"));
  corpus.push_back(
      Case("DeclaredLossUsesNameBeforeRun")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO customers;\nDELETE FROM customers WHERE id > 50;")
          .AllowRowLoss({"customers"})
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT to_regclass('customers') IS NULL", "t"));
}

// Names that trip up string handling.
void AddTrickyNames(std::vector<Case>& corpus) {
  corpus.push_back(Case("QuotedMixedCaseDelete")
                       .Base(kQuotedUsers)
                       .Up("DELETE FROM \"Users\" WHERE id > 10;")
                       .VerificationRefuses("Users")
                       .Fact("SELECT count(*) FROM \"Users\"", "100"));
  corpus.push_back(Case("QuotedMixedCaseDropBesideLowercase")
                       .Base(kUsers)
                       .Base(kQuotedUsers)
                       .Up("DROP TABLE \"Users\";")
                       .VerificationRefuses("Users")
                       .Fact("SELECT count(*) FROM \"Users\"", "100")
                       .Fact(kUsersCount, "100"));
  // `users` (unquoted, as SQL folds it, or exactly) is not "Users".
  corpus.push_back(Case("AllowLowercaseDoesNotCoverQuoted")
                       .Base(kUsers)
                       .Base(kQuotedUsers)
                       .Up("DELETE FROM \"Users\" WHERE id > 10;")
                       .AllowRowLoss({"users"})
                       .VerificationRefuses("Users")
                       .Fact("SELECT count(*) FROM \"Users\"", "100"));
  // Declared as SQL writes it: quoted keeps the case.
  corpus.push_back(Case("DeclaredLossQuotedMixedCase")
                       .Base(kUsers)
                       .Base(kQuotedUsers)
                       .Up("DELETE FROM \"Users\" WHERE id > 10;")
                       .AllowRowLoss({"\"Users\""})
                       .Succeeds()
                       .Fact("SELECT count(*) FROM \"Users\"", "10")
                       .Fact(kUsersCount, "100"));
  corpus.push_back(
      Case("DottedTableName")
          .Base(
              "CREATE TABLE \"order.items\" (id int PRIMARY KEY, sku text NOT NULL);\n"
              "INSERT INTO \"order.items\" SELECT g, 'sku' || g FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE \"order.items\";")
          .VerificationRefuses("order.items")
          .Fact("SELECT count(*) FROM \"order.items\"", "100"));
  // "s.x".y and s."x.y" both print as s.x.y: dropping one while the other
  // (same row count) survives must not pass as a rebuild.
  corpus.push_back(Case("DottedNameCollisionWithExisting")
                       .Base("CREATE SCHEMA \"s.x\";\n"
                             "CREATE TABLE \"s.x\".y (id int PRIMARY KEY);\n"
                             "INSERT INTO \"s.x\".y SELECT generate_series(1, 100);\n"
                             "CREATE SCHEMA s;\n"
                             "CREATE TABLE s.\"x.y\" (id int PRIMARY KEY);\n"
                             "INSERT INTO s.\"x.y\" SELECT generate_series(1, 100);\n")
                       .Up("DROP TABLE \"s.x\".y;")
                       .Refused(Code::kVerificationFailed)
                       .Fact("SELECT count(*) FROM \"s.x\".y", "100")
                       .Fact("SELECT count(*) FROM s.\"x.y\"", "100"));

  // Nor may a new s."x.y" pass as the rebuild of a dropped "s.x".y.
  corpus.push_back(Case("DottedNameCollisionWithNew")
                       .Base("CREATE SCHEMA \"s.x\";\n"
                             "CREATE TABLE \"s.x\".y (id int PRIMARY KEY);\n"
                             "INSERT INTO \"s.x\".y SELECT generate_series(1, 100);\n"
                             "CREATE SCHEMA s;\n")
                       .Up("DROP TABLE \"s.x\".y;\n"
                           "CREATE TABLE s.\"x.y\" AS SELECT generate_series(1, 100) AS id;")
                       .Refused(Code::kVerificationFailed)
                       .Fact("SELECT count(*) FROM \"s.x\".y", "100")
                       .Fact("SELECT to_regclass('s.\"x.y\"') IS NULL", "t"));
}

// transaction:false.
void AddTransactionFalse(std::vector<Case>& corpus) {
  // The transactional segment before a transaction:false section is verified
  // before its COMMIT: refused with nothing committed, no index built.
  corpus.push_back(
      Case("LossBeforeTransactionFalseSection")
          .Base(kUsers)
          .Sections("-- migrate:up\nDELETE FROM users WHERE id > 50;\n\n"
                    "-- migrate:up transaction:false\n"
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n\n"
                    "-- migrate:down transaction:false\n"
                    "DROP INDEX CONCURRENTLY IF EXISTS users_name_idx;\n\n"
                    "-- migrate:down\nSELECT 1;\n")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "0"));
}

// User checks.
void AddUserChecks(std::vector<Case>& corpus) {
  // A user check that is no proper check refuses the run, naming it:
  // `keep` is intact and r2's marker table gone.
  auto refused_check = [](const std::string& name, const std::string& check,
                          const std::string& sql) {
    return Case(name)
        .Base(kKeep)
        .Up(kMarkerUp, kMarkerDown)
        .Check(check, sql)
        .VerificationRefuses(check)
        .Fact("SELECT count(*) FROM keep", "100")
        .Fact("SELECT to_regclass('r2_marker') IS NULL", "t");
  };
  corpus.push_back(refused_check("CheckThatDeletes", "sneaky",
                                 "WITH d AS (DELETE FROM keep RETURNING 1) SELECT true")
                       .SaysOneOf({"writ", "read-only"}));
  corpus.push_back(
      refused_check("CheckWithTwoStatements", "two_statements", "DELETE FROM keep; SELECT true"));
  corpus.push_back(
      refused_check("CheckReturningNonBoolean", "counts_rows", "SELECT count(*) FROM keep"));
  corpus.push_back(refused_check("CheckReturningTwoColumns", "two_columns", "SELECT true, true"));
  corpus.push_back(
      refused_check("CheckReturningTwoRows", "two_rows", "SELECT true FROM generate_series(1, 2)"));
  // The counterpart: a proper check passes and the run commits.
  corpus.push_back(Case("CheckThatHolds")
                       .Base(kKeep)
                       .Up(kMarkerUp, kMarkerDown)
                       .Check("keep_full", "SELECT count(*) = 100 FROM keep")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM keep", "100")
                       .Fact("SELECT to_regclass('r2_marker') IS NOT NULL", "t"));
}

// Downgrades: declared loss and the schema fingerprint.
void AddDowngrades(std::vector<Case>& corpus) {
  corpus.push_back(Case("DownRowLossRemovesSeedRows")
                       .Base(kSettings)
                       .Header("-- down_row_loss: settings")
                       .Down(kSeedSettings, "DELETE FROM settings WHERE key LIKE 'seed%';")
                       .Succeeds()
                       .Fact("SELECT count(*) FROM settings", "100")
                       .Fact("SELECT value FROM settings WHERE key = 'key42'", "value42"));
  corpus.push_back(
      Case("DownRowLossDoesNotCoverOtherTables")
          .Base(kSettings)
          .Base(kUsers)
          .Header("-- down_row_loss: settings")
          .Down(kSeedSettings,
                "DELETE FROM settings WHERE key LIKE 'seed%';\nDELETE FROM users WHERE id > 90;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM settings", "105"));
  corpus.push_back(
      Case("DowngradeDropsTableWithRows")
          .Base(kUsers)
          .Down("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"
                "INSERT INTO notes SELECT g, 'note' || g FROM generate_series(1, 100) g;",
                "DROP TABLE notes;")
          .VerificationRefuses("notes")
          .Fact("SELECT count(*) FROM notes", "100"));
  corpus.push_back(
      Case("DowngradeDropsDeclaredTable")
          .Base(kUsers)
          .Header("-- down_row_loss: notes")
          .Down("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"
                "INSERT INTO notes SELECT g, 'note' || g FROM generate_series(1, 100) g;",
                "DROP TABLE notes;")
          .Succeeds()
          .Fact("SELECT to_regclass('notes') IS NULL", "t")
          .Fact(kUsersCount, "100"));
  corpus.push_back(
      Case("DowngradeForgetsColumn")
          .Base(kUsers)
          .Down("ALTER TABLE users ADD COLUMN extra text;\nUPDATE users SET extra = 'x' || id;",
                "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("users.extra")
          .Says("r1")
          .Fact(kUsersCount, "100")
          .Fact("SELECT extra FROM users WHERE id = 42", "x42"));
  corpus.push_back(
      Case("DowngradeLeavesIndex")
          .Base(kUsers)
          .Down("CREATE INDEX users_name_idx ON users (name);", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("users_name_idx")
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "1"));
  corpus.push_back(
      Case("DowngradeLeavesIndexVerifySchemaOff")
          .Base(kUsers)
          .Down("CREATE INDEX users_name_idx ON users (name);", "SELECT 1;")
          .NoSchemaVerification()
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "1"));
  corpus.push_back(
      Case("DowngradeLeavesTable")
          .Base(kUsers)
          .Down("CREATE TABLE audit_log (id int PRIMARY KEY, entry text);", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("audit_log")
          .Fact("SELECT to_regclass('audit_log') IS NOT NULL", "t"));
  corpus.push_back(
      Case("DowngradeForgetsNotNull")
          .Base("CREATE TABLE contacts (id int PRIMARY KEY, email text, name text NOT NULL);\n"
                "INSERT INTO contacts SELECT g, NULL, 'contact' || g\n"
                "  FROM generate_series(1, 100) g;\n")
          .Down("ALTER TABLE contacts ALTER COLUMN name DROP NOT NULL;", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("contacts.name")
          .Fact("SELECT count(*) FROM contacts", "100"));
  // Column order is not part of the fingerprint: the re-added column lands
  // last, the schema is otherwise the same.
  corpus.push_back(
      Case("DowngradeReaddsColumnElsewhere")
          .Base("CREATE TABLE contacts (id int PRIMARY KEY, email text, name text NOT NULL);\n"
                "INSERT INTO contacts SELECT g, NULL, 'contact' || g\n"
                "  FROM generate_series(1, 100) g;\n")
          .Down("ALTER TABLE contacts DROP COLUMN email;",
                "ALTER TABLE contacts ADD COLUMN email text;")
          .Succeeds()
          .Fact("SELECT count(*) FROM contacts", "100")
          .Fact("SELECT string_agg(column_name, ',' ORDER BY ordinal_position)"
                " FROM information_schema.columns WHERE table_name = 'contacts'",
                "id,name,email"));
}

std::vector<Case> Corpus() {
  std::vector<Case> corpus;
  AddDisappearingTables(corpus);
  AddDisappearingRows(corpus);
  AddPartitionsAndInheritance(corpus);
  AddRenamesMovesRebuilds(corpus);
  AddUnseenByTheRowGuard(corpus);
  AddDeclaredLoss(corpus);
  AddTrickyNames(corpus);
  AddTransactionFalse(corpus);
  AddUserChecks(corpus);
  AddDowngrades(corpus);
  return corpus;
}

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
  WriteBase(std::string(kUsers) + kKeep);
  WriteHostile("", "-- migrate:up\nDROP OWNED BY current_user;\n\n-- migrate:down\nSELECT 1;\n");
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  ASSERT_EQ(Query("SELECT tableowner FROM pg_tables WHERE tablename = 'users'"), role);
  const std::string before = Snapshot();

  auto m = Open(Options());
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
  EXPECT_TRUE(report->status.code() == Code::kVerificationFailed ||
              report->status.code() == Code::kMigrationFailed)
      << report->status.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query(kUsersCount), "100");
  EXPECT_EQ(Query("SELECT count(*) FROM keep"), "100");
  EXPECT_EQ(Query(kUser42), "user42");
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
  EXPECT_EQ(Snapshot(), before);
}

// The same with the guard alone in the way: the role running the migration
// is a superuser other than the bootstrap one (so DROP OWNED is allowed and
// schemaop's own tables, owned by the bootstrap role, stay writable) and
// owns the application's tables. The row guard must name what was dropped.
TEST_F(HostileCorpusSpecialTest, DropOwnedIsCaughtByTheRowGuard) {
  const std::string role = "corpus_admin_owner";
  const std::string password = "corpus-admin-owner-pw";
  WriteBase(std::string(kUsers) + kKeep);
  WriteHostile("", "-- migrate:up\nDROP OWNED BY current_user;\n\n-- migrate:down\nSELECT 1;\n");
  ASSERT_NO_FATAL_FAILURE(Reach("r1"));
  // The owner of the database is not a superuser: the test looks and hands
  // the tables over as the superuser.
  EngineAs(role, password, "SUPERUSER");
  Exec("ALTER TABLE users OWNER TO " + role + "; ALTER TABLE keep OWNER TO " + role);
  const std::string before = Snapshot();

  auto m = Open(Options());
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
  EXPECT_EQ(core::CodeName(report->status.code()),
            std::string(core::CodeName(Code::kVerificationFailed)))
      << report->status.ToString();
  const auto& message = report->status.message();
  EXPECT_TRUE(message.find("users") != std::string::npos ||
              message.find("keep") != std::string::npos)
      << message;
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query(kUsersCount), "100");
  EXPECT_EQ(Query("SELECT count(*) FROM keep"), "100");
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
  EXPECT_EQ(Snapshot(), before);
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
