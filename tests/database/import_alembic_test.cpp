// `schemaop import-alembic` (issue 13 item 5, design §3.2) with the real
// binary and the real `alembic`: the drawing chain converts into files whose
// schema equals the hand-written files' at every revision (harness
// PostgreSQL); a branch and a merge keep their graph; a data-dependent
// revision is reported and gets no file; hostile ids and planted files
// never make the import write outside OUTDIR.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/migration_file.h"
#include "database/migrator.h"
#include "database/process.h"
#include "database/schema_fingerprint.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using schemaop::testing::ReadTextFile;
using schemaop::testing::WriteTextFile;

const std::vector<std::string> kChain = {"5e2f8d4b7a10", "9bc6a98f1c12", "add_flexible_schemas",
                                         "seed_default_schemas"};

// `schemaop ARGS`, stdout and stderr together.
internal::ProcessResult Schemaop(const std::vector<std::string>& args) {
  return internal::RunProcess(SCHEMAOP_BINARY, args, {});
}

// One Alembic revision file as `alembic revision` writes them.
void WriteRevision(const std::string& dir, const std::string& id, const std::string& down,
                   const std::string& upgrade, const std::string& downgrade,
                   const std::string& extra = "") {
  WriteTextFile(dir + "/" + id + "_rev.py",
                "\"\"\"revision " + id + "\n\nRevision ID: " + id + "\n\"\"\"\n"
                "from alembic import context, op\nimport sqlalchemy as sa\n\n"
                "revision = \"" + id + "\"\ndown_revision = " + down + "\n"
                "branch_labels = None\ndepends_on = None\n" + extra + "\n\n"
                "def upgrade():\n    " + upgrade + "\n\n\ndef downgrade():\n    " + downgrade +
                "\n");
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ImportAlembicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = schemaop::testing::MakeTempDir("import-alembic");
    versions_ = root_ + "/versions";
    out_ = root_ + "/out";
    fs::create_directories(versions_);
  }
  void TearDown() override { fs::remove_all(root_); }

  internal::ProcessResult Import(const std::string& versions) {
    return Schemaop({"import-alembic", versions, "--out", out_});
  }

  std::string root_;
  std::string versions_;
  std::string out_;
};

// The engine at `target` on the files of `dir`; `allow_row_loss` as
// --allow-row-loss.
core::Status RunFiles(const std::string& url, const std::string& dir, const std::string& target,
                      std::vector<std::string> allow_row_loss = {}) {
  auto files = LoadMigrationDirectory(dir);
  if (!files.ok()) {
    return files.status();
  }
  MigratorOptions options;
  options.backup_policy = BackupPolicy::kNever;
  options.pg_bin_dir = schemaop::testing::HarnessBinDir();
  options.actor = "import_alembic_test";
  options.allow_row_loss = std::move(allow_row_loss);
  auto migrator = Migrator::Open(url, std::move(files).value(), std::move(options));
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto report = (*migrator)->Run(target);
  if (!report.ok()) {
    return report.status();
  }
  return report->outcome == RunOutcome::kSucceeded ? core::Status::Ok() : report->status;
}

std::string Digest(const std::string& url) {
  pqxx::connection connection(url);
  pqxx::read_transaction tx(connection);
  return internal::ReadSchemaFingerprint(tx, "alembic_version").digest;
}

TEST_F(ImportAlembicTest, DrawingChainConvertsToTheHandWrittenSchemaAtEveryRevision) {
  const auto result =
      Import(schemaop::testing::SourceDir() + "/migrations/drawing-alembic/versions");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(FilesIn(out_), (std::vector<std::string>{"5e2f8d4b7a10.sql", "9bc6a98f1c12.sql",
                                                      "add_flexible_schemas.sql",
                                                      "seed_default_schemas.sql"}));
  EXPECT_NE(result.output.find("4 revision(s) converted"), std::string::npos) << result.output;
  // The transaction:false section survives the conversion.
  EXPECT_NE(ReadTextFile(out_ + "/add_flexible_schemas.sql")
                .find("-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY"),
            std::string::npos);

  const std::string name = schemaop::testing::DatabaseNameForCurrentTest("imp_");
  const std::string converted = schemaop::testing::CreateScratchDatabase(name.substr(0, 55) + "_c");
  const std::string hand = schemaop::testing::CreateScratchDatabase(name.substr(0, 55) + "_h");
  const std::string hand_dir = schemaop::testing::SourceDir() + "/migrations/drawing";
  for (const auto& revision : kChain) {
    ASSERT_TRUE(RunFiles(converted, out_, revision).ok()) << revision;
    ASSERT_TRUE(RunFiles(hand, hand_dir, revision).ok()) << revision;
    EXPECT_EQ(Digest(converted), Digest(hand)) << "at " << revision << " (up)";
  }
  // Alembic has no down_row_loss: the seed revision's down deletes the rows
  // its up created, which the row guard refuses until it is declared.
  const core::Status refused = RunFiles(converted, out_, kChain[2]);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("component_schema"), std::string::npos) << refused.message();
  const std::vector<std::string> seeded = {"component_schemas", "component_schema_fields"};
  for (std::size_t i = kChain.size() - 1; i-- > 0;) {
    ASSERT_TRUE(RunFiles(converted, out_, kChain[i], seeded).ok()) << kChain[i];
    ASSERT_TRUE(RunFiles(hand, hand_dir, kChain[i]).ok()) << kChain[i];
    EXPECT_EQ(Digest(converted), Digest(hand)) << "at " << kChain[i] << " (down)";
  }
  ASSERT_TRUE(RunFiles(converted, out_, "base").ok());
  ASSERT_TRUE(RunFiles(hand, hand_dir, "base").ok());
  EXPECT_EQ(Digest(converted), Digest(hand)) << "at base";
}

TEST_F(ImportAlembicTest, BranchesAndMergesKeepTheirGraph) {
  WriteRevision(versions_, "a1", "None", "op.create_table('t', sa.Column('id', sa.Integer))",
                "op.drop_table('t')");
  WriteRevision(versions_, "b1", "\"a1\"", "op.add_column('t', sa.Column('b', sa.Integer))",
                "op.drop_column('t', 'b')");
  WriteRevision(versions_, "c1", "\"a1\"", "op.add_column('t', sa.Column('c', sa.Text))",
                "op.drop_column('t', 'c')");
  WriteRevision(versions_, "m1", "(\"b1\", \"c1\")", "pass", "pass");
  WriteRevision(versions_, "d1", "\"m1\"", "op.create_index('t_b', 't', ['b'])",
                "op.drop_index('t_b')");
  const auto result = Import(versions_);
  ASSERT_EQ(result.exit_code, 0) << result.output;

  auto files = LoadMigrationDirectory(out_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  std::map<std::string, std::vector<std::string>> parents;
  for (const auto& file : *files) {
    parents[file.revision] = file.down_revisions;
  }
  EXPECT_EQ(parents, (std::map<std::string, std::vector<std::string>>{
                         {"a1", {}}, {"b1", {"a1"}}, {"c1", {"a1"}}, {"m1", {"b1", "c1"}},
                         {"d1", {"m1"}}}));
  const auto heads = Schemaop({"heads", "--migrations", out_});
  EXPECT_EQ(heads.output.rfind("d1 (head)", 0), 0u) << heads.output;

  // The converted graph runs: up to the head through both branches, and back.
  const std::string url = schemaop::testing::CreateScratchDatabase(
      schemaop::testing::DatabaseNameForCurrentTest("imp_"));
  ASSERT_TRUE(RunFiles(url, out_, "head").ok());
  EXPECT_EQ(schemaop::testing::QueryValue(url, "SELECT count(*) FROM information_schema.columns "
                                               "WHERE table_name = 't'"),
            "3");
  ASSERT_TRUE(RunFiles(url, out_, "base").ok());
  EXPECT_EQ(schemaop::testing::QueryValue(url, "SELECT to_regclass('t') IS NULL"), "t");
}

TEST_F(ImportAlembicTest, ADataDependentRevisionIsReportedAndGetsNoFile) {
  WriteRevision(versions_, "a1", "None", "op.execute('CREATE TABLE t (id int)')",
                "op.execute('DROP TABLE t')");
  WriteRevision(versions_, "b1", "\"a1\"",
                "rows = op.get_bind().execute(sa.text('SELECT id FROM t')).fetchall()", "pass");
  WriteRevision(versions_, "c1", "\"b1\"",
                "if not context.is_offline_mode():\n        op.execute('UPDATE t SET id = 1')",
                "pass");
  WriteRevision(versions_, "e1", "\"c1\"", "raise NotImplementedError('no')", "pass");
  WriteRevision(versions_, "f1", "\"e1\"", "op.execute('ALTER TABLE t ADD COLUMN f int')",
                "raise NotImplementedError()");
  const auto result = Import(versions_);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(FilesIn(out_), (std::vector<std::string>{"a1.sql", "f1.sql"}));
  EXPECT_NE(result.output.find("revision b1 (b1_rev.py) was not converted, no file written: its "
                               "upgrade() calls op.get_bind() at b1_rev.py:15"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("Fix: write b1.sql by hand"), std::string::npos);
  EXPECT_NE(result.output.find("revision c1 (c1_rev.py) was not converted, no file written: its "
                               "upgrade() calls context.is_offline_mode() at c1_rev.py:15: it does "
                               "something else offline than online"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("revision e1 (e1_rev.py) was not converted, no file written: its "
                               "upgrade() failed in Alembic's offline mode"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("NotImplementedError: no at e1_rev.py:15"), std::string::npos)
      << result.output;
  // An irreversible downgrade converts into a file without a down section.
  auto f1 = core::ParseMigrationFile(ReadTextFile(out_ + "/f1.sql"), "f1.sql");
  ASSERT_TRUE(f1.ok()) << f1.status().ToString();
  EXPECT_FALSE(f1->HasDown());
  EXPECT_NE(result.output.find("note: f1.sql: no down section"), std::string::npos);
}

// Invariant (design §3.2): nothing is written outside OUTDIR, and a name
// already taken there (a file or a planted symlink) stops the import before
// anything is written.
TEST_F(ImportAlembicTest, HostileIdsAndPlantedFilesNeverWriteOutsideOutdir) {
  WriteRevision(versions_, "a1", "None", "op.execute('CREATE TABLE t (id int)')", "pass");
  WriteRevision(versions_, "x", "\"a1\"", "op.execute('SELECT 1')", "pass",
                "revision = \"../escaped\"");
  WriteRevision(versions_, "long", "\"a1\"", "op.execute('SELECT 2')", "pass",
                "revision = \"" + std::string(40, 'l') + "\"");
  const auto result = Import(versions_);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(FilesIn(out_), (std::vector<std::string>{"a1.sql"}));
  EXPECT_FALSE(fs::exists(root_ + "/escaped.sql"));
  EXPECT_EQ(FilesIn(root_), (std::vector<std::string>{"out", "versions"}));
  EXPECT_NE(result.output.find("revision ../escaped (x_rev.py) was not converted, no file "
                               "written: its revision id is not a valid schemaop revision id"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("revision " + std::string(40, 'l')), std::string::npos);
  // No bytecode was written into the imported directory either.
  EXPECT_FALSE(fs::exists(versions_ + "/__pycache__"));

  // A second import into the same OUTDIR: a1.sql exists, nothing is written.
  fs::remove_all(versions_);
  fs::create_directories(versions_);
  WriteRevision(versions_, "a1", "None", "op.execute('CREATE TABLE u (id int)')", "pass");
  WriteRevision(versions_, "b2", "\"a1\"", "op.execute('SELECT 3')", "pass");
  const std::string before = ReadTextFile(out_ + "/a1.sql");
  const auto again = Import(versions_);
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("a1.sql already exists there; nothing was written"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(ReadTextFile(out_ + "/a1.sql"), before);
  EXPECT_EQ(FilesIn(out_), (std::vector<std::string>{"a1.sql"}));

  // A symlink planted under a converted file's name is not written through.
  fs::remove(out_ + "/a1.sql");
  WriteTextFile(root_ + "/target", "untouched");
  fs::create_symlink(root_ + "/target", out_ + "/a1.sql");
  const auto planted = Import(versions_);
  EXPECT_EQ(planted.exit_code, 2) << planted.output;
  EXPECT_EQ(ReadTextFile(root_ + "/target"), "untouched");
  EXPECT_TRUE(fs::is_symlink(out_ + "/a1.sql"));
  EXPECT_FALSE(fs::exists(out_ + "/b2.sql"));
}

TEST_F(ImportAlembicTest, BadInputIsRefusedWithTheFix) {
  const auto missing = Import(root_ + "/nope");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("is not a directory; give the Alembic versions/ directory"),
            std::string::npos)
      << missing.output;

  const auto empty = Import(versions_);
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_NE(empty.output.find("no Alembic revisions in"), std::string::npos) << empty.output;

  WriteTextFile(versions_ + "/broken.py", "revision = 'a1'\ndown_revision = 'nope'\n");
  const auto broken = Import(versions_);
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_NE(broken.output.find("Alembic could not read the revisions"), std::string::npos)
      << broken.output;

  const auto no_alembic =
      Schemaop({"import-alembic", versions_, "--out", out_, "--alembic", root_ + "/no-alembic"});
  EXPECT_EQ(no_alembic.exit_code, 2) << no_alembic.output;
  EXPECT_NE(no_alembic.output.find("cannot run"), std::string::npos) << no_alembic.output;
  EXPECT_FALSE(fs::exists(out_));
}

}  // namespace
}  // namespace schemaop::database
