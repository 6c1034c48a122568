// core/alembic_offline: Alembic's offline output and graph entries become
// schemaop sections and headers (design §3.2), and revision ids that are
// not schemaop ids (paths, too long) are refused before any file is named.
#include "core/alembic_offline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace schemaop::core {
namespace {

constexpr char kTable[] = "schemaop_import_version";

TEST(AlembicOfflineTest, TransactionalStatementsFormOneSectionWithoutAlembicsBookkeeping) {
  const std::vector<std::string> pieces = {
      "BEGIN;\n\n",
      "CREATE TABLE schemaop_import_version (\n    version_num VARCHAR(32) NOT NULL\n);\n\n",
      "-- Running upgrade  -> a1\n\n",
      "CREATE TABLE t (id int);\n\n",
      "INSERT INTO schemaop_import_version (version_num) VALUES ('a1');\n\n",
      "COMMIT;\n\n"};
  EXPECT_EQ(SectionsFromOfflineOutput(pieces, Direction::kUp, kTable),
            "-- migrate:up\nCREATE TABLE t (id int);\n");
}

TEST(AlembicOfflineTest, AnAutocommitBlockBecomesATransactionFalseSection) {
  const std::vector<std::string> pieces = {
      "BEGIN;\n\n", "ALTER TABLE t ADD COLUMN c int;\n\n", "COMMIT;\n\n",
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);\n\n", "BEGIN;\n\n",
      "UPDATE schemaop_import_version SET version_num='b1' WHERE "
      "schemaop_import_version.version_num = 'a1';\n\n",
      "COMMIT;\n\n"};
  EXPECT_EQ(SectionsFromOfflineOutput(pieces, Direction::kUp, kTable),
            "-- migrate:up\nALTER TABLE t ADD COLUMN c int;\n\n"
            "-- migrate:up transaction:false\n"
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);\n");
}

TEST(AlembicOfflineTest, DownDeletesAndDropsOfTheVersionTableAreLeftOut) {
  const std::vector<std::string> pieces = {
      "BEGIN;\n\n", "DROP TABLE t;\n\n",
      "DELETE FROM schemaop_import_version WHERE schemaop_import_version.version_num = 'a1';\n\n",
      "COMMIT;\n\n", "DROP TABLE schemaop_import_version;\n\n"};
  EXPECT_EQ(SectionsFromOfflineOutput(pieces, Direction::kDown, kTable),
            "-- migrate:down\nDROP TABLE t;\n");
}

// A statement on a table that merely starts with the version table's name,
// or mentions it in a string, is the revision's own and is kept.
TEST(AlembicOfflineTest, OnlyStatementsOnTheVersionTableItselfAreLeftOut) {
  const std::vector<std::string> pieces = {
      "BEGIN;\n\n", "UPDATE schemaop_import_version_x SET a = 1;\n\n",
      "INSERT INTO notes VALUES ('UPDATE schemaop_import_version');\n\n", "COMMIT;\n\n"};
  EXPECT_EQ(SectionsFromOfflineOutput(pieces, Direction::kUp, kTable),
            "-- migrate:up\nUPDATE schemaop_import_version_x SET a = 1;\n"
            "INSERT INTO notes VALUES ('UPDATE schemaop_import_version');\n");
}

// op.execute("...;") is printed with Alembic's terminator added (`;;`), and
// a trailing `--` comment would swallow a terminator on the same line: each
// statement is split out and terminated once.
TEST(AlembicOfflineTest, DoubledTerminatorsAndTrailingCommentsStayCorrect) {
  const std::vector<std::string> pieces = {
      "BEGIN;\n\n", "DO $$ BEGIN PERFORM 1; END $$;;\n\n", "UPDATE t SET a = 1 -- all rows;\n\n",
      "COMMIT;\n\n"};
  const std::string sections = SectionsFromOfflineOutput(pieces, Direction::kUp, kTable);
  EXPECT_EQ(sections,
            "-- migrate:up\nDO $$ BEGIN PERFORM 1; END $$;\nUPDATE t SET a = 1;\n");
  auto parsed = ParseMigrationFile("-- revision: a1\n" + sections, "a1.sql");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
}

TEST(AlembicOfflineTest, ADirectionWithoutStatementsIsAnEmptySectionTheParserAccepts) {
  const std::string up =
      SectionsFromOfflineOutput({"BEGIN;\n\n", "-- Running upgrade b1, c1 -> m1\n\n",
                                 "DELETE FROM schemaop_import_version WHERE x = 'b1';\n\n",
                                 "COMMIT;\n\n"},
                                Direction::kUp, kTable);
  const std::string down = SectionsFromOfflineOutput({}, Direction::kDown, kTable);
  AlembicRevision merge{"m1", {"b1", "c1"}, {}, {}, "merge b and c", "m1_merge.py"};
  const std::string text = ImportedMigrationText(merge, up, down);
  auto parsed = ParseMigrationFile(text, "m1.sql");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  EXPECT_EQ(parsed->revision, "m1");
  EXPECT_EQ(parsed->down_revisions, (std::vector<std::string>{"b1", "c1"}));
  EXPECT_EQ(parsed->message, "merge b and c");
  EXPECT_TRUE(parsed->HasDown());
}

TEST(AlembicOfflineTest, HeaderKeepsTheGraphAndAnIrreversibleRevisionHasNoDown) {
  AlembicRevision base{"a1", {}, {"core"}, {}, "create\tthings", "a1_create.py"};
  const std::string text = ImportedMigrationText(
      base, "-- migrate:up\nCREATE TABLE t (id int);\n", std::nullopt);
  auto parsed = ParseMigrationFile(text, "a1.sql");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  EXPECT_TRUE(parsed->down_revisions.empty());
  EXPECT_EQ(parsed->message, "create things");
  EXPECT_FALSE(parsed->HasDown());
  EXPECT_NE(text.find("a1_create.py"), std::string::npos);
  EXPECT_NE(text.find("core"), std::string::npos);  // the branch label, as a comment
}

TEST(AlembicOfflineTest, IdsThatAreNotSchemaopIdsAreRefusedWithTheFix) {
  AlembicRevision ok{"ae1027a6acf", {"1975ea83b712"}, {}, {}, "", "x.py"};
  EXPECT_EQ(AlembicGraphProblem(ok), "");
  for (const std::string& id :
       std::vector<std::string>{"../x", "a/b", "", "x.sql", "a b", std::string(33, 'a'), "-x"}) {
    AlembicRevision bad{id, {}, {}, {}, "", "x.py"};
    EXPECT_NE(AlembicGraphProblem(bad).find("rename the revision"), std::string::npos) << id;
    AlembicRevision child{"c1", {id}, {}, {}, "", "c.py"};
    EXPECT_NE(AlembicGraphProblem(child).find("down_revision"), std::string::npos) << id;
  }
  AlembicRevision depends{"d1", {"c1"}, {}, {"a1"}, "", "d.py"};
  EXPECT_NE(AlembicGraphProblem(depends).find("depends_on"), std::string::npos);
}

}  // namespace
}  // namespace schemaop::core
