// The hostile corpus's cases (hostile_corpus.h), by theme. To add a case,
// add it to its theme: a base revision r1 with distinctive data, the hostile
// revision r2 (its up section, or for a downgrade case its down section),
// the options, and the expected outcome and facts.
#include "hostile_corpus.h"

namespace schemaop::database::corpus {
namespace {

using core::Code;

// Tables and schemas that disappear.
std::vector<Case> DisappearingTables() {
  return {
      Case("DropTableWithRows")
          .Base(kUsers)
          .Up("DROP TABLE users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "user42"),
      Case("DropEmptyTable")
          .Base(kUsers)
          .Base("CREATE TABLE scratch (id int);")
          .Up("DROP TABLE scratch;")
          .Succeeds()
          .Fact("SELECT to_regclass('scratch') IS NULL", "t")
          .Fact(kUsersCount, "100"),
      Case("DropSchemaCascade")
          .Base("CREATE SCHEMA s;\n"
                "CREATE TABLE s.accounts (id int PRIMARY KEY, owner text NOT NULL);\n"
                "INSERT INTO s.accounts SELECT g, 'owner' || g FROM generate_series(1, 100) g;\n"
                "CREATE VIEW s.rich AS SELECT * FROM s.accounts WHERE id > 90;\n")
          .Up("DROP SCHEMA s CASCADE;")
          .VerificationRefuses("accounts")
          .Fact("SELECT count(*) FROM s.accounts", "100")
          .Fact("SELECT count(*) FROM s.rich", "10"),
      Case("UnloggedTableDropped")
          .Base(kUsers)
          .Base("CREATE UNLOGGED TABLE sessions (token text PRIMARY KEY, user_id int NOT NULL);\n"
                "INSERT INTO sessions SELECT md5(g::text), g FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE sessions;")
          .VerificationRefuses("sessions")
          .Fact("SELECT count(*) FROM sessions", "100")
          .Fact("SELECT relpersistence FROM pg_class WHERE relname = 'sessions'", "u"),
      Case("SecondSchemaTableDropped")
          .Base("CREATE SCHEMA billing;\n"
                "CREATE TABLE billing.invoices (id int PRIMARY KEY, amount int NOT NULL);\n"
                "INSERT INTO billing.invoices SELECT g, g * 100 FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE billing.invoices;")
          .VerificationRefuses("billing.invoices")
          .Fact("SELECT count(*) FROM billing.invoices", "100")
          .Fact("SELECT sum(amount) FROM billing.invoices", "505000"),
      // The rebuild rule accepts a disappeared relation when one of the same
      // name exists afterwards with at least as many rows; an empty one is not that.
      Case("DropAndRecreateEmpty")
          .Base(kUsers)
          .Up("DROP TABLE users;\nCREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "user42"),
      // A rename must not launder a drop: the relation's identity is gone with rows.
      Case("RenameThenDrop")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO legacy_users;\nDROP TABLE legacy_users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT to_regclass('legacy_users') IS NULL", "t"),
  };
}

// Rows that disappear from tables that stay.
std::vector<Case> DisappearingRows() {
  return {
      Case("Truncate")
          .Base(kUsers)
          .Up("TRUNCATE users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100"),
      Case("DeleteAll")
          .Base(kUsers)
          .Up("DELETE FROM users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100"),
      Case("DeleteSome")
          .Base(kUsers)
          .Up("DELETE FROM users WHERE id > 90;")
          .VerificationRefuses("users")
          .Says("100")
          .Says("90")
          .Fact(kUsersCount, "100")
          .Fact("SELECT max(id) FROM users", "100"),
      // Allowing loss in the parent does not allow what ON DELETE CASCADE takes
      // from the child.
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
          .Fact("SELECT count(*) FROM orders", "100"),
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
          .Fact("SELECT to_regprocedure('purge_audit()') IS NULL", "t"),
  };
}

// Partitions and inheritance.
std::vector<Case> PartitionsAndInheritance() {
  return {
      Case("DropPartitionWithRows")
          .Base(kEvents)
          .Up("DROP TABLE events_2024;")
          .VerificationRefuses("events_2024")
          .Fact("SELECT count(*) FROM events", "100")
          .Fact("SELECT count(*) FROM events_2024", "52"),
      // The rows stay in events_2024, now a table of its own: nothing lost.
      Case("DetachPartition")
          .Base(kEvents)
          .Up("ALTER TABLE events DETACH PARTITION events_2024;")
          .Succeeds()
          .Fact("SELECT count(*) FROM events", "48")
          .Fact("SELECT count(*) FROM events_2024", "52")
          .Fact("SELECT relispartition FROM pg_class WHERE relname = 'events_2024'", "f"),
      Case("AttachPartition")
          .Base(kEvents)
          .Base("CREATE TABLE events_2026 (id int NOT NULL, day date NOT NULL, payload text);\n"
                "INSERT INTO events_2026 SELECT g, DATE '2026-01-01' + g, 'late' || g "
                "FROM generate_series(101, 120) g;\n")
          .Up("ALTER TABLE events ATTACH PARTITION events_2026\n"
              "  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');")
          .Succeeds()
          .Fact("SELECT count(*) FROM events", "120")
          .Fact("SELECT count(*) FROM events_2026", "20"),
      Case("DropPartitionedParent")
          .Base(kEvents)
          .Up("DROP TABLE events;")
          .VerificationRefuses("events")
          .Fact("SELECT count(*) FROM events", "100")
          .Fact("SELECT count(*) FROM events_2025", "48"),
      // Detached, then dropped: the partition's rows are gone all the same.
      Case("DetachThenDropPartition")
          .Base(kEvents)
          .Up("ALTER TABLE events DETACH PARTITION events_2024;\nDROP TABLE events_2024;")
          .VerificationRefuses("events")
          .Fact("SELECT count(*) FROM events_2024", "52")
          .Fact("SELECT relispartition FROM pg_class WHERE relname = 'events_2024'", "t"),
      // Updating the partition key moves ten rows from events_2024 to
      // events_2025: one partition has fewer rows, but nothing is lost.
      Case("UpdateMovesRowsBetweenPartitions")
          .Base(kEvents)
          .Up("UPDATE events SET day = day + 365 WHERE id <= 10;")
          .Succeeds()
          .Fact("SELECT count(*) FROM events", "100")
          .Fact("SELECT count(*) FROM events_2024", "42")
          .Fact("SELECT count(*) FROM events_2025", "58"),
      Case("DropInheritanceParentCascade")
          .Base(kVehicles)
          .Up("DROP TABLE vehicles CASCADE;")
          .VerificationRefuses("vehicles")
          .Fact("SELECT count(*) FROM ONLY vehicles", "40")
          .Fact("SELECT count(*) FROM cars", "60"),
      // The child keeps its rows; the parent's own rows are untouched.
      Case("NoInheritChild")
          .Base(kVehicles)
          .Up("ALTER TABLE cars NO INHERIT vehicles;")
          .Succeeds()
          .Fact("SELECT count(*) FROM vehicles", "40")
          .Fact("SELECT count(*) FROM cars", "60"),
      // Ten rows move from the parent itself into its child: nothing is lost.
      Case("MoveRowsFromParentToChild")
          .Base(kVehicles)
          .Up("INSERT INTO cars (id, name) SELECT id, name FROM ONLY vehicles WHERE id <= 10;\n"
              "DELETE FROM ONLY vehicles WHERE id <= 10;")
          .Succeeds()
          .Fact("SELECT count(*) FROM ONLY vehicles", "30")
          .Fact("SELECT count(*) FROM cars", "70")
          .Fact("SELECT count(*) FROM vehicles", "100"),
  };
}

// Renames, moves, rebuilds: nothing lost.
std::vector<Case> RenamesMovesRebuilds() {
  return {
      Case("RenameTable")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO customers;")
          .Succeeds()
          .Fact("SELECT count(*) FROM customers", "100")
          .Fact("SELECT name FROM customers WHERE id = 42", "user42")
          .Fact("SELECT to_regclass('users') IS NULL", "t"),
      Case("MoveToOtherSchema")
          .Base(kUsers)
          .Up("CREATE SCHEMA archive;\nALTER TABLE users SET SCHEMA archive;")
          .Succeeds()
          .Fact("SELECT count(*) FROM archive.users", "100")
          .Fact("SELECT to_regclass('public.users') IS NULL", "t"),
      Case("RenameColumn")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME COLUMN name TO full_name;")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT full_name FROM users WHERE id = 42", "user42"),
      Case("RebuildAndSwap")
          .Base(kUsers)
          .Up("CREATE TABLE users_new AS SELECT id, name, upper(name) AS shout FROM users;\n"
              "DROP TABLE users;\n"
              "ALTER TABLE users_new RENAME TO users;\n"
              "ALTER TABLE users ADD PRIMARY KEY (id);")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT shout FROM users WHERE id = 42", "USER42"),
      Case("SwapWithFewerRows")
          .Base(kUsers)
          .Up("CREATE TABLE users_new AS SELECT * FROM users WHERE id <= 60;\n"
              "DROP TABLE users;\n"
              "ALTER TABLE users_new RENAME TO users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT to_regclass('users_new') IS NULL", "t"),
      // Not a rebuild: the table that takes the name existed before the run
      // and keeps its own rows; users' 100 rows are gone.
      Case("DropThenRenameOtherTableOver")
          .Base(kUsers)
          .Base("CREATE TABLE guests (id int PRIMARY KEY, name text NOT NULL);\n"
                "INSERT INTO guests SELECT g, 'guest' || g FROM generate_series(1, 150) g;\n")
          .Up("DROP TABLE users;\nALTER TABLE guests RENAME TO users;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "user42")
          .Fact("SELECT count(*) FROM guests", "150"),
      // Two tables trade names: by name users "lost" 90 rows, by identity nothing moved.
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
          .Fact("SELECT name FROM guests WHERE id = 42", "user42"),
  };
}

// Changes the row guard cannot see.
std::vector<Case> UnseenByTheRowGuard() {
  return {
      // Known limit: dropping a column destroys its values but keeps the row
      // count, so the guard lets it through; the pre-run backup is what covers it.
      Case("DropColumnWithData")
          .Base(kUsers)
          .Up("ALTER TABLE users DROP COLUMN name;")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' "
                "AND column_name = 'name'",
                "0"),
      // Known limit: narrowing with USING rounds 7.25 to 7 and keeps every row;
      // the guard lets it through, the backup covers it.
      Case("NarrowTypeWithUsing")
          .Base("CREATE TABLE prices (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL);\n"
                "INSERT INTO prices SELECT g, g + 0.25 FROM generate_series(1, 100) g;\n")
          .Up("ALTER TABLE prices ALTER COLUMN amount TYPE int USING amount::int;")
          .Succeeds()
          .Fact("SELECT count(*) FROM prices", "100")
          .Fact("SELECT amount FROM prices WHERE id = 7", "7")
          .Fact("SELECT data_type FROM information_schema.columns WHERE table_name = 'prices' "
                "AND column_name = 'amount'",
                "integer"),
      // A narrowing that one value does not survive fails as a statement.
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
                "bigint"),
      Case("UpdateAllRows")
          .Base(kUsers)
          .Up("UPDATE users SET name = upper(name);")
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact(kUser42, "USER42"),
      Case("InsertRows")
          .Base(kUsers)
          .Up("INSERT INTO users SELECT g, 'user' || g FROM generate_series(101, 150) g;")
          .Succeeds()
          .Fact(kUsersCount, "150")
          .Fact(kUser42, "user42"),
  };
}

// Declared loss.
std::vector<Case> DeclaredLoss() {
  return {
      Case("DeclaredLossUnqualified")
          .Base(kTwoTs)
          .Up("DELETE FROM public.t WHERE id > 50;")
          .AllowRowLoss({"t"})
          .Succeeds()
          .Fact("SELECT count(*) FROM public.t", "50")
          .Fact("SELECT count(*) FROM s.t", "100"),
      Case("DeclaredLossQualified")
          .Base(kTwoTs)
          .Up("DELETE FROM s.t WHERE id > 50;")
          .AllowRowLoss({"s.t"})
          .Succeeds()
          .Fact("SELECT count(*) FROM s.t", "50")
          .Fact("SELECT count(*) FROM public.t", "100"),
      Case("DeclaredLossOtherSchemaNotCovered")
          .Base(kTwoTs)
          .Up("DELETE FROM public.t WHERE id > 50;")
          .AllowRowLoss({"s.t"})
          .VerificationRefuses("public.t")
          .Fact("SELECT count(*) FROM public.t", "100")
          .Fact("SELECT count(*) FROM s.t", "100"),
      Case("DeclaredDropOfTable")
          .Base(kUsers)
          .Base("CREATE TABLE legacy (id int PRIMARY KEY);\n"
                "INSERT INTO legacy SELECT generate_series(1, 100);\n")
          .Up("DROP TABLE legacy;")
          .AllowRowLoss({"legacy"})
          .Succeeds()
          .Fact("SELECT to_regclass('legacy') IS NULL", "t")
          .Fact(kUsersCount, "100"),
      Case("DeclaredDropDoesNotCoverOthers")
          .Base(kUsers)
          .Base("CREATE TABLE legacy (id int PRIMARY KEY);\n"
                "INSERT INTO legacy SELECT generate_series(1, 100);\n")
          .Up("DROP TABLE legacy;\nDROP TABLE users;")
          .AllowRowLoss({"legacy"})
          .VerificationRefuses("users")
          .Fact("SELECT count(*) FROM legacy", "100")
          .Fact(kUsersCount, "100"),
      // Declared names are matched against the names before the run.
      Case("DeclaredLossFollowsRename")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO customers;\nDELETE FROM customers WHERE id > 50;")
          .AllowRowLoss({"users"})
          .Succeeds()
          .Fact("SELECT count(*) FROM customers", "50"),
      Case("DeclaredLossUsesNameBeforeRun")
          .Base(kUsers)
          .Up("ALTER TABLE users RENAME TO customers;\nDELETE FROM customers WHERE id > 50;")
          .AllowRowLoss({"customers"})
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT to_regclass('customers') IS NULL", "t"),
  };
}

// Names that trip up string handling.
std::vector<Case> TrickyNames() {
  return {
      Case("QuotedMixedCaseDelete")
          .Base(kQuotedUsers)
          .Up("DELETE FROM \"Users\" WHERE id > 10;")
          .VerificationRefuses("Users")
          .Fact("SELECT count(*) FROM \"Users\"", "100"),
      Case("QuotedMixedCaseDropBesideLowercase")
          .Base(kUsers)
          .Base(kQuotedUsers)
          .Up("DROP TABLE \"Users\";")
          .VerificationRefuses("Users")
          .Fact("SELECT count(*) FROM \"Users\"", "100")
          .Fact(kUsersCount, "100"),
      // `users` (unquoted, as SQL folds it, or exactly) is not "Users".
      Case("AllowLowercaseDoesNotCoverQuoted")
          .Base(kUsers)
          .Base(kQuotedUsers)
          .Up("DELETE FROM \"Users\" WHERE id > 10;")
          .AllowRowLoss({"users"})
          .VerificationRefuses("Users")
          .Fact("SELECT count(*) FROM \"Users\"", "100"),
      // Declared as SQL writes it: quoted keeps the case.
      Case("DeclaredLossQuotedMixedCase")
          .Base(kUsers)
          .Base(kQuotedUsers)
          .Up("DELETE FROM \"Users\" WHERE id > 10;")
          .AllowRowLoss({"\"Users\""})
          .Succeeds()
          .Fact("SELECT count(*) FROM \"Users\"", "10")
          .Fact(kUsersCount, "100"),
      Case("DottedTableName")
          .Base(
              "CREATE TABLE \"order.items\" (id int PRIMARY KEY, sku text NOT NULL);\n"
              "INSERT INTO \"order.items\" SELECT g, 'sku' || g FROM generate_series(1, 100) g;\n")
          .Up("DROP TABLE \"order.items\";")
          .VerificationRefuses("order.items")
          .Fact("SELECT count(*) FROM \"order.items\"", "100"),
      // "s.x".y and s."x.y" both print as s.x.y: dropping one while the other
      // (same row count) survives must not pass as a rebuild.
      Case("DottedNameCollisionWithExisting")
          .Base("CREATE SCHEMA \"s.x\";\n"
                "CREATE TABLE \"s.x\".y (id int PRIMARY KEY);\n"
                "INSERT INTO \"s.x\".y SELECT generate_series(1, 100);\n"
                "CREATE SCHEMA s;\n"
                "CREATE TABLE s.\"x.y\" (id int PRIMARY KEY);\n"
                "INSERT INTO s.\"x.y\" SELECT generate_series(1, 100);\n")
          .Up("DROP TABLE \"s.x\".y;")
          .Refused(Code::kVerificationFailed)
          .Fact("SELECT count(*) FROM \"s.x\".y", "100")
          .Fact("SELECT count(*) FROM s.\"x.y\"", "100"),
      // Nor may a new s."x.y" pass as the rebuild of a dropped "s.x".y.
      Case("DottedNameCollisionWithNew")
          .Base("CREATE SCHEMA \"s.x\";\n"
                "CREATE TABLE \"s.x\".y (id int PRIMARY KEY);\n"
                "INSERT INTO \"s.x\".y SELECT generate_series(1, 100);\n"
                "CREATE SCHEMA s;\n")
          .Up("DROP TABLE \"s.x\".y;\n"
              "CREATE TABLE s.\"x.y\" AS SELECT generate_series(1, 100) AS id;")
          .Refused(Code::kVerificationFailed)
          .Fact("SELECT count(*) FROM \"s.x\".y", "100")
          .Fact("SELECT to_regclass('s.\"x.y\"') IS NULL", "t"),
  };
}

// transaction:false.
std::vector<Case> TransactionFalse() {
  return {
      // The transactional segment before a transaction:false section is verified
      // before its COMMIT: refused with nothing committed, no index built.
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
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "0"),
  };
}

// User checks.
std::vector<Case> UserChecks() {
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
  return {
      refused_check("CheckThatDeletes", "sneaky",
                    "WITH d AS (DELETE FROM keep RETURNING 1) SELECT true")
          .SaysOneOf({"writ", "read-only"}),
      refused_check("CheckWithTwoStatements", "two_statements", "DELETE FROM keep; SELECT true"),
      refused_check("CheckReturningNonBoolean", "counts_rows", "SELECT count(*) FROM keep"),
      refused_check("CheckReturningTwoColumns", "two_columns", "SELECT true, true"),
      refused_check("CheckReturningTwoRows", "two_rows", "SELECT true FROM generate_series(1, 2)"),
      // The counterpart: a proper check passes and the run commits.
      Case("CheckThatHolds")
          .Base(kKeep)
          .Up(kMarkerUp, kMarkerDown)
          .Check("keep_full", "SELECT count(*) = 100 FROM keep")
          .Succeeds()
          .Fact("SELECT count(*) FROM keep", "100")
          .Fact("SELECT to_regclass('r2_marker') IS NOT NULL", "t"),
  };
}

// Downgrades: declared loss, rows and tables.
std::vector<Case> Downgrades() {
  return {
      Case("DownRowLossRemovesSeedRows")
          .Base(kSettings)
          .Header("-- down_row_loss: settings")
          .Down(kSeedSettings, "DELETE FROM settings WHERE key LIKE 'seed%';")
          .Succeeds()
          .Fact("SELECT count(*) FROM settings", "100")
          .Fact("SELECT value FROM settings WHERE key = 'key42'", "value42"),
      Case("DownRowLossDoesNotCoverOtherTables")
          .Base(kSettings)
          .Base(kUsers)
          .Header("-- down_row_loss: settings")
          .Down(kSeedSettings,
                "DELETE FROM settings WHERE key LIKE 'seed%';\nDELETE FROM users WHERE id > 90;")
          .VerificationRefuses("users")
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM settings", "105"),
      Case("DowngradeDropsTableWithRows")
          .Base(kUsers)
          .Down("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"
                "INSERT INTO notes SELECT g, 'note' || g FROM generate_series(1, 100) g;",
                "DROP TABLE notes;")
          .VerificationRefuses("notes")
          .Fact("SELECT count(*) FROM notes", "100"),
      Case("DowngradeDropsDeclaredTable")
          .Base(kUsers)
          .Header("-- down_row_loss: notes")
          .Down("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"
                "INSERT INTO notes SELECT g, 'note' || g FROM generate_series(1, 100) g;",
                "DROP TABLE notes;")
          .Succeeds()
          .Fact("SELECT to_regclass('notes') IS NULL", "t")
          .Fact(kUsersCount, "100"),
  };
}

// Downgrades checked against the schema fingerprint of the target.
std::vector<Case> DowngradeSchemaDrift() {
  return {
      Case("DowngradeForgetsColumn")
          .Base(kUsers)
          .Down("ALTER TABLE users ADD COLUMN extra text;\nUPDATE users SET extra = 'x' || id;",
                "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("users.extra")
          .Says("r1")
          .Fact(kUsersCount, "100")
          .Fact("SELECT extra FROM users WHERE id = 42", "x42"),
      Case("DowngradeLeavesIndex")
          .Base(kUsers)
          .Down("CREATE INDEX users_name_idx ON users (name);", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("users_name_idx")
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "1"),
      Case("DowngradeLeavesIndexVerifySchemaOff")
          .Base(kUsers)
          .Down("CREATE INDEX users_name_idx ON users (name);", "SELECT 1;")
          .NoSchemaVerification()
          .Succeeds()
          .Fact(kUsersCount, "100")
          .Fact("SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'", "1"),
      Case("DowngradeLeavesTable")
          .Base(kUsers)
          .Down("CREATE TABLE audit_log (id int PRIMARY KEY, entry text);", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("audit_log")
          .Fact("SELECT to_regclass('audit_log') IS NOT NULL", "t"),
      Case("DowngradeForgetsNotNull")
          .Base("CREATE TABLE contacts (id int PRIMARY KEY, email text, name text NOT NULL);\n"
                "INSERT INTO contacts SELECT g, NULL, 'contact' || g\n"
                "  FROM generate_series(1, 100) g;\n")
          .Down("ALTER TABLE contacts ALTER COLUMN name DROP NOT NULL;", "SELECT 1;")
          .Refused(Code::kSchemaDrift)
          .Says("contacts.name")
          .Fact("SELECT count(*) FROM contacts", "100"),
      // Column order is not part of the fingerprint: the re-added column lands
      // last, the schema is otherwise the same.
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
                "id,name,email"),
  };
}

}  // namespace

std::vector<Case> Corpus() {
  std::vector<Case> corpus;
  for (auto group : {&DisappearingTables, &DisappearingRows, &PartitionsAndInheritance,
                     &RenamesMovesRebuilds, &UnseenByTheRowGuard, &DeclaredLoss, &TrickyNames,
                     &TransactionFalse, &UserChecks, &Downgrades, &DowngradeSchemaDrift}) {
    for (auto& c : group()) {
      corpus.push_back(std::move(c));
    }
  }
  return corpus;
}

}  // namespace schemaop::database::corpus
