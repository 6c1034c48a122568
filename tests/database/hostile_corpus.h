#pragma once
// The hostile corpus's table (hostile_corpus_test.cpp runs it): one Case per
// hostile or tricky migration, built in hostile_corpus_cases.cpp, and the
// base schemas the cases and the special tests share.
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "database/migrator.h"

namespace schemaop::database::corpus {

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
  core::Code expected = core::Code::kOk;  // kOk: kSucceeded; else kRolledBack with this code
  std::string expected_detail;            // SQLSTATE, when it matters
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
    expected = core::Code::kOk;
    return *this;
  }
  Case& Refused(core::Code code) {
    expected = code;
    return *this;
  }
  Case& Detail(const std::string& sqlstate) {
    expected_detail = sqlstate;
    return *this;
  }
  // Refused by verification (row guard, checks), the message naming `text`.
  Case& VerificationRefuses(const std::string& text) {
    return Refused(core::Code::kVerificationFailed).Says(text);
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

inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Every case, in the order of hostile_corpus_cases.cpp.
std::vector<Case> Corpus();

inline constexpr const char* kUsers =
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);\n"
    "INSERT INTO users SELECT g, 'user' || g FROM generate_series(1, 100) g;\n";
inline constexpr const char* kUsersCount = "SELECT count(*) FROM users";
inline constexpr const char* kUser42 = "SELECT name FROM users WHERE id = 42";

// A range-partitioned table: 52 rows in events_2024, 48 in events_2025.
inline constexpr const char* kEvents =
    "CREATE TABLE events (id int NOT NULL, day date NOT NULL, payload text)\n"
    "  PARTITION BY RANGE (day);\n"
    "CREATE TABLE events_2024 PARTITION OF events\n"
    "  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n"
    "CREATE TABLE events_2025 PARTITION OF events\n"
    "  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n"
    "INSERT INTO events SELECT g, DATE '2024-01-01' + g * 7, 'event' || g\n"
    "  FROM generate_series(1, 100) g;\n";

// Inheritance: 40 rows in vehicles itself, 60 in its child cars.
inline constexpr const char* kVehicles =
    "CREATE TABLE vehicles (id int NOT NULL, name text NOT NULL);\n"
    "CREATE TABLE cars (doors int NOT NULL DEFAULT 4) INHERITS (vehicles);\n"
    "INSERT INTO vehicles SELECT g, 'vehicle' || g FROM generate_series(1, 40) g;\n"
    "INSERT INTO cars (id, name, doors)\n"
    "  SELECT g, 'car' || g, 2 + g % 3 FROM generate_series(41, 100) g;\n";

// public.t and s.t, 100 rows each.
inline constexpr const char* kTwoTs =
    "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);\n"
    "INSERT INTO t SELECT g, 'public' || g FROM generate_series(1, 100) g;\n"
    "CREATE SCHEMA s;\n"
    "CREATE TABLE s.t (id int PRIMARY KEY, v text NOT NULL);\n"
    "INSERT INTO s.t SELECT g, 's' || g FROM generate_series(1, 100) g;\n";

inline constexpr const char* kQuotedUsers =
    "CREATE TABLE \"Users\" (id int PRIMARY KEY, name text NOT NULL);\n"
    "INSERT INTO \"Users\" SELECT g, 'User' || g FROM generate_series(1, 100) g;\n";

// For the check cases: `keep` is what a check must not be able to touch.
inline constexpr const char* kKeep =
    "CREATE TABLE keep (id int PRIMARY KEY, note text NOT NULL);\n"
    "INSERT INTO keep SELECT g, 'keep' || g FROM generate_series(1, 100) g;\n";
inline constexpr const char* kMarkerUp = "CREATE TABLE r2_marker (id int);";
inline constexpr const char* kMarkerDown = "DROP TABLE r2_marker;";

inline constexpr const char* kSettings =
    "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);\n"
    "INSERT INTO settings SELECT 'key' || g, 'value' || g FROM generate_series(1, 100) g;\n";
inline constexpr const char* kSeedSettings =
    "INSERT INTO settings SELECT 'seed' || g, 'default' FROM generate_series(1, 5) g;";

}  // namespace schemaop::database::corpus
