// The drawing chain's expand phase beside a live old application (issue 10,
// design §3.1 "The drawing chain"): a writer inserts and updates components
// through the original columns for the whole expand phase, and afterwards
// every one of its rows is in dynamic_data with the values it last wrote,
// nothing lost; the same with the run killed in the middle of the backfill
// and resumed. The expand phase runs alone (MigratorOptions::phase, as the
// operator's Expanding runs it) and the writer stops before the window. (The schema at every revision is still the one the files had
// before the phases: drawing_alembic_test compares it with
// migrations/drawing-alembic, written from those files.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "database/migrator.h"
#include "drawing_data.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::database {
namespace {

constexpr long long kExisting = 60000;  // components before the upgrade

// The four original columns as the old application wrote them (nullopt = NULL).
struct Values {
  std::optional<std::string> type, description, material;
  std::optional<int> quantity;
  bool operator==(const Values& o) const {
    return type == o.type && description == o.description && material == o.material &&
           quantity == o.quantity;
  }
};

// The old application: in each transaction it inserts one component and
// updates an existing one through the original columns only. It writes while
// the sync trigger does not exist yet and while it does, and stops for good
// once the trigger has come and gone (the window committed: in the operator
// the writers are at zero from there on). Each transaction holds ROW
// EXCLUSIVE on components from its start, so the window's DROP TRIGGER waits
// for it and it sees the trigger's disappearance before writing again.
class OldAppWriter {
 public:
  explicit OldAppWriter(std::string url) : url_(std::move(url)) {}
  ~OldAppWriter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void WaitForTransactions(int n) const {
    for (int i = 0; i < 3000 && (before_trigger_ + with_trigger_) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // id -> the values of the last committed write (inserts and updates).
  const std::map<long long, Values>& Written() const { return written_; }
  int BeforeTrigger() const { return before_trigger_; }
  int WithTrigger() const { return with_trigger_; }
  const std::string& Error() const { return error_; }
  long long Inserted() const { return inserted_; }

 private:
  static Values Make(int i) {
    Values v;
    if (i % 4 != 0) v.type = "w-type " + std::to_string(i);
    if (i % 5 != 0) v.description = "it's \"w\" " + std::to_string(i) + "\n\\ ✓";
    if (i % 3 != 0) v.material = std::string(static_cast<std::size_t>(1 + i % 100), 'm');
    if (i % 7 != 0) v.quantity = (i % 2 == 0 ? 1 : -1) * (i * 7919 % 2147483647);
    return v;
  }

  void Loop() {
    try {
      pqxx::connection conn(url_);
      bool seen_trigger = false;
      for (int i = 1; !stop_; ++i) {
        pqxx::work tx(conn);
        tx.exec("LOCK TABLE components IN ROW EXCLUSIVE MODE");
        const bool trigger =
            tx.exec1("SELECT count(*) FROM pg_trigger WHERE tgname = "
                     "'components_sync_dynamic_data' AND tgrelid = 'components'::regclass")[0]
                .as<int>() > 0;
        if (seen_trigger && !trigger) {
          break;
        }
        seen_trigger = seen_trigger || trigger;
        const Values in = Make(2 * i), up = Make(2 * i + 1);
        const long long id =
            tx.exec_params1("INSERT INTO components (drawing_id, component_type, description, "
                            "material_type, quantity) VALUES (1 + $1 % 50, $2, $3, $4, $5) "
                            "RETURNING id",
                            i, in.type, in.description, in.material, in.quantity)[0]
                .as<long long>();
        const long long target = 1 + (static_cast<long long>(i) * 7919) % kExisting;
        tx.exec_params0("UPDATE components SET component_type = $2, description = $3, "
                        "material_type = $4, quantity = $5, updated_at = now() WHERE id = $1",
                        target, up.type, up.description, up.material, up.quantity);
        tx.commit();
        written_[id] = in;
        written_[target] = up;
        ++inserted_;
        ++(trigger ? with_trigger_ : before_trigger_);
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  std::string url_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> before_trigger_{0}, with_trigger_{0};
  std::map<long long, Values> written_;
  long long inserted_ = 0;
  std::string error_;
};

class DrawingPhasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = schemaop::testing::CreateScratchDatabase(
        schemaop::testing::DatabaseNameForCurrentTest("drawing_phases_"));
    db_ = std::make_unique<pqxx::connection>(url_);
  }

  std::unique_ptr<Migrator> Open(core::RunPhase phase = core::RunPhase::kAll) {
    return OpenDrawingMigrator(url_, "drawing_phases_test", phase);
  }

  void RunTo(Migrator& m, const std::string& target) {
    auto report = m.Run(target);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  }
  // One run of `phase` (kAll: every phase) to `target`, by a migrator of its own.
  void RunAlone(core::RunPhase phase, const std::string& target) {
    auto m = Open(phase);
    ASSERT_NE(m, nullptr);
    RunTo(*m, target);
  }

  std::string Query(const std::string& sql) {
    pqxx::nontransaction tx(*db_);
    const pqxx::row row = tx.exec1(sql);
    return row[0].is_null() ? "<null>" : row[0].as<std::string>();
  }

  // At 9bc6a98f1c12 with kExisting components.
  void Prepare() {
    auto m = Open();
    ASSERT_NE(m, nullptr);
    RunTo(*m, "9bc6a98f1c12");
    pqxx::nontransaction tx(*db_);
    tx.exec(
        "INSERT INTO drawings (name) SELECT 'drawing ' || g FROM generate_series(1, 50) g;"
        "INSERT INTO components (drawing_id, component_type, description, material_type, "
        "quantity, instance_identifier) SELECT 1 + g % 50, "
        "CASE WHEN g % 9 = 0 THEN NULL ELSE 'type ' || g % 5 END, 'part ' || g, "
        "CASE WHEN g % 7 = 0 THEN NULL ELSE 'steel' END, CASE WHEN g % 13 = 0 THEN NULL "
        "ELSE g END, 'R' || g FROM generate_series(1, " +
        std::to_string(kExisting) + ") g;");
  }

  // Every component is on a schema with the four column values in
  // dynamic_data; every row the writer wrote holds what it last wrote; no
  // helper of the expand phase is left.
  void ExpectEveryRowInStep(const OldAppWriter& writer) {
    EXPECT_EQ(writer.Error(), "") << "the old application got an error";
    EXPECT_GT(writer.BeforeTrigger(), 0);
    EXPECT_GT(writer.WithTrigger(), 0);
    EXPECT_EQ(Query("SELECT count(*) FROM components"),
              std::to_string(kExisting + writer.Inserted()));
    EXPECT_EQ(Query("SELECT count(*) FROM components c LEFT JOIN component_schemas s "
                    "ON s.id = c.schema_id WHERE s.name IS DISTINCT FROM 'default' "
                    "OR (c.dynamic_data ->> 'component_type') IS DISTINCT FROM c.component_type "
                    "OR (c.dynamic_data ->> 'description') IS DISTINCT FROM c.description "
                    "OR (c.dynamic_data ->> 'material_type') IS DISTINCT FROM c.material_type "
                    "OR (c.dynamic_data ->> 'quantity')::integer IS DISTINCT FROM c.quantity "
                    "OR NOT c.dynamic_data ?& ARRAY['component_type', 'description', "
                    "'material_type', 'quantity']"),
              "0");
    std::map<long long, Values> stored;
    {
      pqxx::nontransaction tx(*db_);
      for (const auto& r : tx.exec("SELECT id, dynamic_data ->> 'component_type', "
                                   "dynamic_data ->> 'description', dynamic_data ->> "
                                   "'material_type', (dynamic_data ->> 'quantity')::integer "
                                   "FROM components")) {
        auto text = [&r](int i) {
          return r[i].is_null() ? std::nullopt : std::optional<std::string>(r[i].c_str());
        };
        stored[r[0].as<long long>()] =
            Values{text(1), text(2), text(3),
                   r[4].is_null() ? std::nullopt : std::optional<int>(r[4].as<int>())};
      }
    }
    std::size_t wrong = 0;
    long long first_wrong = -1;
    for (const auto& [id, values] : writer.Written()) {
      const auto it = stored.find(id);
      if (it == stored.end() || !(it->second == values)) {
        ++wrong;
        first_wrong = first_wrong < 0 ? id : first_wrong;
      }
    }
    EXPECT_EQ(wrong, 0u) << "rows written by the old application missing or stale in "
                            "dynamic_data, first id "
                         << first_wrong;
    EXPECT_EQ(Query("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'components'::regclass "
                    "AND NOT tgisinternal"),
              "0");
    EXPECT_EQ(Query("SELECT count(*) FROM pg_proc WHERE proname LIKE 'components_%'"), "0");
    EXPECT_EQ(Query("SELECT to_regclass('components_sync_todo') IS NULL"), "t");
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> db_;
};

// The expand phase runs alone (`--phase expand`) beside a writer of the old
// application; the writer stops (the writers are scaled to zero), then the
// window and the contract run. Every row the writer wrote is in step.
TEST_F(DrawingPhasesTest, OldApplicationWritingDuringExpandLosesNothing) {
  Prepare();
  OldAppWriter writer(url_);
  writer.Start();
  writer.WaitForTransactions(20);
  auto expand = Open(core::RunPhase::kExpand);
  ASSERT_NE(expand, nullptr);
  RunTo(*expand, "head");
  // The old application writes on after the expand, on the trigger.
  writer.WaitForTransactions(writer.BeforeTrigger() + writer.WithTrigger() + 20);
  writer.Stop();
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "9bc6a98f1c12");
  expand.reset();
  auto rest = Open();
  ASSERT_NE(rest, nullptr);
  RunTo(*rest, "head");
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "seed_default_schemas");
  ExpectEveryRowInStep(writer);
}

// The controller is killed (every schemaop session terminated) in the 3rd
// repetition of the expand phase's backfill; the writer goes on; recovery
// resumes the backfill at the next repetition and finishes the expand only
// (the version table stays at the old revision); then the writer stops and
// the window and contract run.
TEST_F(DrawingPhasesTest, RunKilledInTheBackfillResumesAndLosesNothing) {
  Prepare();
  OldAppWriter writer(url_);
  writer.Start();
  writer.WaitForTransactions(20);
  std::atomic<bool> killed{false};
  std::thread killer([this, &killed] {
    pqxx::connection conn(url_);
    for (int i = 0; i < 60000 && !killed; ++i) {
      pqxx::nontransaction tx(conn);
      const auto r = tx.exec(
          "SELECT 1 FROM schemaop.run_log WHERE outcome = 'running' AND progress -> 'batch' "
          "->> 'revision' = 'seed_default_schemas' AND (progress -> 'batch' ->> 'section')::int = 3 "
          "AND (progress -> 'batch' ->> 'repetitions')::int >= 2");
      if (!r.empty()) {
        tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                "current_database() AND application_name LIKE 'schemaop%' AND pid <> "
                "pg_backend_pid()");
        killed = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto m = Open(core::RunPhase::kExpand);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  killer.join();
  ASSERT_TRUE(killed);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kFailed) << report->status.ToString();
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "9bc6a98f1c12");
  const std::string done_before = Query(
      "SELECT count(*) FROM components WHERE schema_id IS NOT NULL");
  EXPECT_NE(done_before, "0");

  m.reset();
  auto recovering = Open(core::RunPhase::kExpand);
  ASSERT_NE(recovering, nullptr);
  auto recovered = recovering->RecoverInterruptedRun();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_TRUE(recovered->has_value());
  EXPECT_NE(recovered->value().find("resumed"), std::string::npos) << recovered->value();
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "9bc6a98f1c12");
  EXPECT_EQ(Query("SELECT progress -> 'batch' ->> 'repetitions' FROM schemaop.run_log "
                  "WHERE outcome = 'succeeded' ORDER BY id DESC LIMIT 1") != "<null>",
            true);
  writer.WaitForTransactions(writer.BeforeTrigger() + writer.WithTrigger() + 20);
  writer.Stop();
  recovering.reset();
  auto rest = Open();
  ASSERT_NE(rest, nullptr);
  RunTo(*rest, "head");
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "seed_default_schemas");
  ExpectEveryRowInStep(writer);
}

// The downgrade to add_flexible_schemas in phases (design §3.1, "The
// drawing chain"). Invariant: the window rewrites only the rows whose
// original columns differ from dynamic_data, and the clearing of the
// seeded schema, done by the contract beside the application at
// add_flexible_schemas, loses none of that application's writes; at the end
// the database is exactly what the downgrade in one piece left. An upgrade
// is refused, nothing changed, until that contract has finished.
TEST_F(DrawingPhasesTest, DowngradeWindowRewritesOnlyChangedRowsAndTheContractLosesNoWrite) {
  Prepare();
  RunAlone(core::RunPhase::kAll, "head");
  // The newer application: edits through dynamic_data, a component with
  // dynamic_data only, a schema of its own.
  pqxx::nontransaction(*db_).exec(
      "UPDATE components SET dynamic_data = dynamic_data || '{\"quantity\": 999, "
      "\"description\": \"edited\"}' WHERE id = 10;"
      "UPDATE components SET dynamic_data = dynamic_data - 'component_type' WHERE id = 11;"
      "INSERT INTO components (drawing_id, schema_id, dynamic_data) SELECT 1, id, "
      "'{\"component_type\": \"valve\", \"quantity\": \"7\"}' FROM component_schemas "
      "WHERE name = 'default';"
      "INSERT INTO component_schemas (name) VALUES ('pump');"
      "INSERT INTO component_schema_fields (schema_id, field_name, field_type) "
      "SELECT id, 'pressure', 'number' FROM component_schemas WHERE name = 'pump';"
      "INSERT INTO components (id, drawing_id, schema_id, dynamic_data) SELECT 900001, 1, id, "
      "'{\"component_type\": \"pump\", \"quantity\": 2, \"pressure\": 3.5}' "
      "FROM component_schemas WHERE name = 'pump';");
  const long long rows_before = std::stoll(Query("SELECT count(*) FROM components"));
  auto xmins = [this] {
    std::map<long long, std::string> out;
    pqxx::nontransaction tx(*db_);
    for (const auto& r : tx.exec("SELECT id, xmin::text FROM components")) {
      out[r[0].as<long long>()] = r[1].c_str();
    }
    return out;
  };
  const auto before_window = xmins();

  RunAlone(core::RunPhase::kWindow, "add_flexible_schemas");
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "add_flexible_schemas");
  std::size_t rewritten = 0;
  for (const auto& [id, xmin] : xmins()) {
    rewritten += before_window.at(id) != xmin ? 1 : 0;
  }
  // ids 10 and 11, the component with dynamic_data only, the pump one.
  EXPECT_EQ(rewritten, 4u) << "the window rewrote rows that were in step";
  EXPECT_EQ(Query("SELECT description || '|' || quantity FROM components WHERE id = 10"),
            "edited|999");
  EXPECT_EQ(Query("SELECT component_type FROM components WHERE id = 11"), "<null>");
  EXPECT_EQ(Query("SELECT count(*) FROM component_schemas WHERE name = 'default' OR is_default"),
            "0");

  const std::string runs = Query("SELECT count(*) FROM schemaop.run_log");
  EXPECT_EQ(Query("SELECT count(*) FROM component_schema_fields f JOIN component_schemas s "
                  "ON s.id = f.schema_id WHERE NOT s.is_active"),
            "0");

  // The application at add_flexible_schemas writes the original columns
  // while the contract clears the seeded schema in batches.
  OldAppWriter writer(url_);
  writer.Start();
  writer.WaitForTransactions(20);
  RunAlone(core::RunPhase::kContract, "add_flexible_schemas");
  writer.WaitForTransactions(writer.BeforeTrigger() + 20);
  writer.Stop();
  EXPECT_EQ(writer.Error(), "") << "the application got an error";
  EXPECT_GT(std::stoll(Query("SELECT count(*) FROM schemaop.run_log")), std::stoll(runs));
  EXPECT_EQ(Query("SELECT count(*) FROM components"),
            std::to_string(rows_before + writer.Inserted()));
  EXPECT_EQ(Query("SELECT count(*) FROM components WHERE id <> 900001 AND "
                  "(schema_id IS NOT NULL OR dynamic_data IS NOT NULL)"),
            "0");
  EXPECT_EQ(Query("SELECT string_agg(name, ',') FROM component_schemas"), "pump");
  EXPECT_EQ(Query("SELECT count(*) FROM component_schema_fields"), "1");
  EXPECT_EQ(Query("SELECT component_type || '|' || quantity || '|' || (dynamic_data ->> "
                  "'pressure') FROM components WHERE id = 900001"),
            "pump|2|3.5");
  std::size_t wrong = 0;
  {
    pqxx::nontransaction tx(*db_);
    for (const auto& [id, values] : writer.Written()) {
      const auto r = tx.exec1("SELECT component_type, description, material_type, quantity "
                              "FROM components WHERE id = " + std::to_string(id));
      auto text = [&r](int i) {
        return r[i].is_null() ? std::nullopt : std::optional<std::string>(r[i].c_str());
      };
      const Values stored{text(0), text(1), text(2),
                          r[3].is_null() ? std::nullopt : std::optional<int>(r[3].as<int>())};
      wrong += stored == values ? 0 : 1;
    }
  }
  EXPECT_EQ(wrong, 0u) << "writes of the application lost by the contract";
  EXPECT_EQ(Query("SELECT description || '|' || quantity FROM components WHERE id = 10"),
            "edited|999");

  // And the seeding runs again from here.
  RunAlone(core::RunPhase::kAll, "head");
  EXPECT_EQ(Query("SELECT count(*) FROM components WHERE schema_id IS NULL"), "0");
}

// An upgrade while the downgrade's contract is pending (it failed, or the
// target moved on before it ran) takes the renamed seeded schema back.
// Invariant: every component ends on a schema with the values the
// application at add_flexible_schemas last wrote in its original columns,
// whether the contract had cleared it yet or not; nothing is lost.
TEST_F(DrawingPhasesTest, AnUpgradeBeforeTheDowngradesContractTakesTheSeededSchemaBack) {
  Prepare();
  RunAlone(core::RunPhase::kAll, "head");
  pqxx::nontransaction(*db_).exec(
      "INSERT INTO component_schemas (name) VALUES ('pump');"
      "INSERT INTO components (id, drawing_id, schema_id, dynamic_data) SELECT 900001, 1, id, "
      "'{\"component_type\": \"pump\", \"quantity\": 2, \"pressure\": 3.5}' "
      "FROM component_schemas WHERE name = 'pump';");
  RunAlone(core::RunPhase::kWindow, "add_flexible_schemas");
  // Half cleared, as a contract that stopped midway leaves it.
  pqxx::nontransaction(*db_).exec(
      "UPDATE components SET schema_id = NULL, dynamic_data = NULL WHERE id <= 30000 AND "
      "schema_id = (SELECT id FROM component_schemas WHERE NOT is_active)");
  // The application at add_flexible_schemas writes the original columns,
  // on both halves, and inserts.
  pqxx::nontransaction(*db_).exec(
      "UPDATE components SET quantity = 4242, component_type = 'moved' WHERE id IN (5, 50000);"
      "INSERT INTO components (id, drawing_id, component_type, quantity) "
      "VALUES (900002, 1, 'late', 1)");
  RunAlone(core::RunPhase::kAll, "head");
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "seed_default_schemas");
  EXPECT_EQ(Query("SELECT string_agg(name || ':' || is_default || ':' || is_active, ',' "
                  "ORDER BY name) FROM component_schemas"),
            "default:true:true,pump:false:true");
  EXPECT_EQ(Query("SELECT count(*) FROM component_schema_fields"), "4");
  EXPECT_EQ(Query("SELECT count(*) FROM components c LEFT JOIN component_schemas s "
                  "ON s.id = c.schema_id WHERE c.id <> 900001 AND (s.name IS DISTINCT FROM "
                  "'default' OR (c.dynamic_data ->> 'component_type') IS DISTINCT FROM "
                  "c.component_type OR (c.dynamic_data ->> 'description') IS DISTINCT FROM "
                  "c.description OR (c.dynamic_data ->> 'material_type') IS DISTINCT FROM "
                  "c.material_type OR (c.dynamic_data ->> 'quantity')::integer IS DISTINCT FROM "
                  "c.quantity)"),
            "0");
  EXPECT_EQ(Query("SELECT string_agg(dynamic_data ->> 'component_type' || '|' || "
                  "(dynamic_data ->> 'quantity'), ',' ORDER BY id) FROM components "
                  "WHERE id IN (5, 50000, 900002)"),
            "moved|4242,moved|4242,late|1");
  EXPECT_EQ(Query("SELECT s.name || '|' || (c.dynamic_data ->> 'pressure') FROM components c "
                  "JOIN component_schemas s ON s.id = c.schema_id WHERE c.id = 900001"),
            "pump|3.5");
  EXPECT_EQ(Query("SELECT count(*) FROM components"), std::to_string(kExisting + 2));
}

// Components that had a user's schema and dynamic_data before the upgrade
// (add_flexible_schemas) keep both and get the four values once: merged
// into an object, appended to anything else, as the single UPDATE before
// the phases did.
TEST_F(DrawingPhasesTest, ComponentsOnAUserSchemaGetTheValuesOnce) {
  auto m = Open();
  ASSERT_NE(m, nullptr);
  RunTo(*m, "add_flexible_schemas");
  pqxx::nontransaction(*db_).exec(
      "INSERT INTO drawings (name) VALUES ('d');"
          "INSERT INTO component_schemas (name) VALUES ('pump');"
          "INSERT INTO components (id, drawing_id, component_type, quantity, schema_id, "
          "dynamic_data) SELECT 1, 1, 'pump', 2, id, '{\"pressure\": 3.5, \"quantity\": 9}' "
          "FROM component_schemas;"
          "INSERT INTO components (id, drawing_id, component_type, quantity, schema_id, "
          "dynamic_data) SELECT 2, 1, 'odd', 3, id, '[1]' FROM component_schemas;"
                "INSERT INTO components (id, drawing_id, component_type, quantity) VALUES (3, 1, 'x', 4)");
  RunTo(*m, "head");
  EXPECT_EQ(Query("SELECT s.name || ' ' || (c.dynamic_data = '{\"pressure\": 3.5, \"quantity\": 2, "
                  "\"description\": null, \"material_type\": null, \"component_type\": "
                  "\"pump\"}') FROM components c JOIN component_schemas s ON s.id = c.schema_id "
                  "WHERE c.id = 1"),
            "pump true");
  EXPECT_EQ(Query("SELECT s.name || ' ' || (c.dynamic_data = '[1, {\"quantity\": 3, \"description\": "
                  "null, \"material_type\": null, \"component_type\": \"odd\"}]') FROM "
                  "components c JOIN component_schemas s ON s.id = c.schema_id WHERE c.id = 2"),
            "pump true");
  EXPECT_EQ(Query("SELECT s.name || ' ' || (c.dynamic_data = '{\"quantity\": 4, \"description\": "
                  "null, \"material_type\": null, \"component_type\": \"x\"}') FROM components c "
                  "JOIN component_schemas s ON s.id = c.schema_id WHERE c.id = 3"),
            "default true");
}

}  // namespace
}  // namespace schemaop::database
