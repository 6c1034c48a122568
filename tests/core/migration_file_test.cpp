#include "core/migration_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/revision_graph.h"

namespace schemaop::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

MigrationFile ParseOk(std::string_view text) {
  Result<MigrationFile> result = ParseMigrationFile(text, "f.sql");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? std::move(result).value() : MigrationFile{};
}

Status ParseError(std::string_view text) {
  Result<MigrationFile> result = ParseMigrationFile(text, "f.sql");
  EXPECT_FALSE(result.ok()) << "parsed although it should not:\n" << text;
  if (result.ok()) {
    return Status::Ok();
  }
  EXPECT_EQ(result.status().code(), Code::kParseError) << result.status().ToString();
  return result.status();
}

TEST(MigrationFileTest, ParsesHeaderAndSections) {
  const std::string text =
      "-- revision: add_flexible_schemas\n"                     // 1
      "-- down_revision: 9bc6a98f1c12\n"                        // 2
      "-- message: flexible component schemas\n"                // 3
      "\n"                                                      // 4
      "-- migrate:up\n"                                         // 5
      "CREATE TABLE t (id int);\n"                              // 6
      "\n"                                                      // 7
      "-- migrate:up transaction:false\n"                       // 8
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);\n"  // 9
      "-- migrate:down transaction:false\n"                     // 10
      "DROP INDEX CONCURRENTLY IF EXISTS i;\n"                  // 11
      "-- migrate:down\n"                                       // 12
      "DROP TABLE t;\n";                                        // 13
  const MigrationFile file = ParseOk(text);
  EXPECT_EQ(file.revision, "add_flexible_schemas");
  EXPECT_THAT(file.down_revisions, ElementsAre("9bc6a98f1c12"));
  EXPECT_EQ(file.message, "flexible component schemas");
  EXPECT_EQ(file.source_name, "f.sql");
  EXPECT_EQ(file.text, text);
  EXPECT_THAT(file.warnings, IsEmpty());
  ASSERT_EQ(file.sections.size(), 4u);
  EXPECT_EQ(file.sections[0].direction, Direction::kUp);
  EXPECT_TRUE(file.sections[0].transactional);
  EXPECT_EQ(file.sections[0].first_line, 5);
  EXPECT_EQ(file.sections[0].sql, "CREATE TABLE t (id int);\n\n");
  EXPECT_EQ(file.sections[1].direction, Direction::kUp);
  EXPECT_FALSE(file.sections[1].transactional);
  EXPECT_EQ(file.sections[1].first_line, 8);
  EXPECT_EQ(file.sections[2].direction, Direction::kDown);
  EXPECT_FALSE(file.sections[2].transactional);
  EXPECT_EQ(file.sections[3].direction, Direction::kDown);
  EXPECT_TRUE(file.sections[3].transactional);
  EXPECT_EQ(file.sections[3].sql, "DROP TABLE t;\n");
  EXPECT_TRUE(file.HasDown());
  const auto up = file.SectionsFor(Direction::kUp);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0], &file.sections[0]);
  EXPECT_EQ(up[1], &file.sections[1]);
  EXPECT_EQ(file.SectionsFor(Direction::kDown).size(), 2u);
}

TEST(MigrationFileTest, BaseRevisionWithEmptyOrNoneOrMissingDownRevision) {
  for (const char* header :
       {"-- down_revision:\n", "-- down_revision: None\n", "-- down_revision: none\n", ""}) {
    const MigrationFile file =
        ParseOk(std::string("-- revision: a1\n") + header + "-- migrate:up\nSELECT 1;\n");
    EXPECT_THAT(file.down_revisions, IsEmpty()) << header;
    EXPECT_FALSE(file.HasDown());
  }
}

TEST(MigrationFileTest, MergeRevisionListsSeveralParents) {
  for (const char* list : {"a, b", "a b", "a,b", " a ,  b ,"}) {
    const MigrationFile file = ParseOk(std::string("-- revision: m\n-- down_revision: ") + list +
                                       "\n-- migrate:up\nSELECT 1;\n");
    EXPECT_THAT(file.down_revisions, ElementsAre("a", "b")) << list;
  }
}

TEST(MigrationFileTest, DownRowLossListsTables) {
  const MigrationFile file = ParseOk(
      "-- revision: r\n-- down_row_loss: component_schemas, component_schema_fields\n"
      "-- migrate:up\nSELECT 1;\n");
  EXPECT_THAT(file.down_row_loss, ElementsAre("component_schemas", "component_schema_fields"));
}

TEST(MigrationFileTest, PlainCommentsAndBlankLinesAllowedInHeader) {
  const MigrationFile file = ParseOk(
      "-- This file creates tables\n"
      "--\n"
      "-- revision: r1\n"
      "   \n"
      "-- see http://example.com/x for details\n"
      "-- Revision ID: r1 (Alembic docstring style)\n"
      "-- migrate:up\nSELECT 1;\n");
  EXPECT_EQ(file.revision, "r1");
}

TEST(MigrationFileTest, HeaderLookingLinesInsideSectionsAreSql) {
  const MigrationFile file =
      ParseOk("-- revision: r1\n-- migrate:up\n-- note: this is SQL now\nSELECT 1;\n");
  EXPECT_EQ(file.sections[0].sql, "-- note: this is SQL now\nSELECT 1;\n");
}

TEST(MigrationFileTest, CrLfLineEndings) {
  const MigrationFile file =
      ParseOk("-- revision: r1\r\n-- down_revision: r0\r\n-- migrate:up\r\nSELECT 1;\r\n");
  EXPECT_EQ(file.revision, "r1");
  EXPECT_THAT(file.down_revisions, ElementsAre("r0"));
  EXPECT_EQ(file.sections[0].sql, "SELECT 1;\n");
}

TEST(MigrationFileTest, MissingRevisionHeader) {
  const Status status = ParseError("-- down_revision: a\n-- migrate:up\nSELECT 1;\n");
  EXPECT_THAT(status.message(), StartsWith("f.sql:1: "));
  EXPECT_THAT(status.message(), HasSubstr("missing `-- revision: <id>` header"));
  EXPECT_THAT(ParseError("").message(), HasSubstr("missing `-- revision"));
}

TEST(MigrationFileTest, UnknownHeaderKeyNamesItAndTheLine) {
  const Status status =
      ParseError("-- revision: a\n-- down_revison: b\n-- migrate:up\nSELECT 1;\n");
  EXPECT_THAT(status.message(), StartsWith("f.sql:2: unknown header key 'down_revison'"));
  EXPECT_THAT(status.message(), HasSubstr("down_revision"));
}

TEST(MigrationFileTest, DuplicateHeaderKey) {
  const Status status =
      ParseError("-- revision: a\n-- message: x\n-- revision: b\n-- migrate:up\n");
  EXPECT_THAT(status.message(), StartsWith("f.sql:3: duplicate header key 'revision'"));
  EXPECT_THAT(status.message(), HasSubstr("line 1"));
}

TEST(MigrationFileTest, BadRevisionIds) {
  EXPECT_THAT(ParseError("-- revision: has-dash\n-- migrate:up\n").message(),
              StartsWith("f.sql:1: bad revision id 'has-dash'"));
  EXPECT_THAT(ParseError("-- revision:\n-- migrate:up\n").message(),
              StartsWith("f.sql:1: bad revision id ''"));
  EXPECT_THAT(ParseError("-- revision: " + std::string(33, 'a') + "\n-- migrate:up\n").message(),
              HasSubstr("bad revision id"));
  EXPECT_THAT(ParseError("-- revision: ok\n-- down_revision: a, b.c\n-- migrate:up\n").message(),
              StartsWith("f.sql:2: bad revision id 'b.c' in down_revision"));
  EXPECT_THAT(ParseError("-- revision: ok\n-- down_revision: a, a\n-- migrate:up\n").message(),
              HasSubstr("twice"));
}

TEST(MigrationFileTest, IsValidRevisionId) {
  EXPECT_TRUE(IsValidRevisionId("9bc6a98f1c12"));
  EXPECT_TRUE(IsValidRevisionId("seed_default_schemas"));
  EXPECT_TRUE(IsValidRevisionId(std::string(32, 'x')));
  EXPECT_FALSE(IsValidRevisionId(std::string(33, 'x')));
  EXPECT_FALSE(IsValidRevisionId(""));
  EXPECT_FALSE(IsValidRevisionId("a b"));
  EXPECT_FALSE(IsValidRevisionId("a+1"));
  EXPECT_FALSE(IsValidRevisionId("ümlaut"));
}

TEST(MigrationFileTest, UnknownMarkerAndMarkerOption) {
  EXPECT_THAT(ParseError("-- revision: a\n-- migrate:up transaction:off\n").message(),
              StartsWith("f.sql:2: unknown marker option 'transaction:off'"));
  EXPECT_THAT(ParseError("-- revision: a\n-- migrate:upgrade\n").message(),
              StartsWith("f.sql:2: unknown marker 'migrate:upgrade'"));
}

TEST(MigrationFileTest, DuplicateSection) {
  EXPECT_THAT(
      ParseError("-- revision: a\n-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n").message(),
      StartsWith("f.sql:4: duplicate section `-- migrate:up`"));
  EXPECT_THAT(ParseError("-- revision: a\n-- migrate:up\n-- migrate:down transaction:false\n"
                         "-- migrate:down transaction:false\n")
                  .message(),
              StartsWith("f.sql:4: duplicate section `-- migrate:down transaction:false`"));
  // Alternating options is not a duplicate: several sections per direction.
  const MigrationFile file = ParseOk(
      "-- revision: a\n-- migrate:up\nSELECT 1;\n-- migrate:up transaction:false\nSELECT 2;\n"
      "-- migrate:up\nSELECT 3;\n");
  EXPECT_EQ(file.sections.size(), 3u);
}

TEST(MigrationFileTest, UpAfterDown) {
  EXPECT_THAT(ParseError("-- revision: a\n-- migrate:up\n-- migrate:down\n-- migrate:up "
                         "transaction:false\n")
                  .message(),
              StartsWith("f.sql:4: up section after a down section"));
}

TEST(MigrationFileTest, SqlBeforeFirstMarker) {
  EXPECT_THAT(ParseError("-- revision: a\nCREATE TABLE t ();\n-- migrate:up\n").message(),
              StartsWith("f.sql:2: SQL before the first `-- migrate:up` marker"));
}

TEST(MigrationFileTest, NoUpSection) {
  EXPECT_THAT(ParseError("-- revision: a\n").message(), HasSubstr("no `-- migrate:up` section"));
  EXPECT_THAT(ParseError("-- revision: a\n\n-- migrate:down\nSELECT 1;\n").message(),
              StartsWith("f.sql:3: no `-- migrate:up` section"));
}

TEST(MigrationFileTest, ConcurrentlyInTransactionalSectionIsAnError) {
  const Status status = ParseError(
      "-- revision: a\n-- migrate:up\nCREATE TABLE t (id int);\n\n"
      "create unique index concurrently if not exists i on t (id);\n");
  EXPECT_THAT(status.message(), StartsWith("f.sql:5: CREATE UNIQUE INDEX CONCURRENTLY"));
  EXPECT_THAT(status.message(), HasSubstr("cannot run inside a transaction"));
  EXPECT_THAT(status.message(), HasSubstr("`-- migrate:up transaction:false`"));
  EXPECT_THAT(ParseError("-- revision: a\n-- migrate:up\nSELECT 1;\n-- migrate:down\n"
                         "DROP INDEX CONCURRENTLY IF EXISTS i;\n")
                  .message(),
              HasSubstr("`-- migrate:down transaction:false`"));
}

TEST(MigrationFileTest, ConcurrentlyInsideCommentsOrStringsOrRefreshIsFine) {
  const MigrationFile file = ParseOk(
      "-- revision: a\n-- migrate:up\n"
      "-- we avoid CREATE INDEX CONCURRENTLY here\n"
      "COMMENT ON TABLE t IS 'built concurrently';\n"
      "REFRESH MATERIALIZED VIEW CONCURRENTLY mv;\n");
  EXPECT_THAT(file.warnings, IsEmpty());
}

TEST(MigrationFileTest, WarnsOnNonIdempotentConcurrentIndexStatements) {
  const MigrationFile file = ParseOk(
      "-- revision: a\n"                                               // 1
      "-- migrate:up transaction:false\n"                              // 2
      "CREATE INDEX CONCURRENTLY i1 ON t (a);\n"                       // 3
      "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i2 ON t (b);\n"  // 4
      "\n"                                                             // 5
      "create unique index concurrently i3 on t (c);\n"                // 6
      "-- migrate:down transaction:false\n"                            // 7
      "DROP INDEX CONCURRENTLY i1;\n"                                  // 8
      "DROP INDEX CONCURRENTLY IF EXISTS i2;\n");                      // 9
  ASSERT_EQ(file.warnings.size(), 3u);
  EXPECT_THAT(file.warnings[0],
              StartsWith("f.sql:3: CREATE INDEX CONCURRENTLY without IF NOT EXISTS"));
  EXPECT_THAT(file.warnings[1],
              StartsWith("f.sql:6: CREATE INDEX CONCURRENTLY without IF NOT EXISTS"));
  EXPECT_THAT(file.warnings[2], StartsWith("f.sql:8: DROP INDEX CONCURRENTLY without IF EXISTS"));
}

TEST(MigrationFileTest, DirectionName) {
  EXPECT_EQ(DirectionName(Direction::kUp), "up");
  EXPECT_EQ(DirectionName(Direction::kDown), "down");
}

// The shipped migrations (migrations/drawing) must parse without warnings
// and form the runbook's chain ending at seed_default_schemas.
TEST(MigrationFileTest, ShippedDrawingMigrationsParseIntoOneChain) {
  const char* source_dir = std::getenv("SCHEMAOP_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "SCHEMAOP_SOURCE_DIR is set by CTest";
  const std::filesystem::path dir = std::filesystem::path(source_dir) / "migrations" / "drawing";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sql") {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    Result<MigrationFile> file = ParseMigrationFile(buffer.str(), entry.path().filename().string());
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_THAT(file->warnings, IsEmpty()) << file->source_name;
    EXPECT_TRUE(file->HasDown()) << file->source_name << " has no down section";
    EXPECT_EQ(file->revision + ".sql", file->source_name);
    if (file->revision == "add_flexible_schemas") {
      // All expand, so in a plan 9bc6a98f1c12 -> head no window section comes
      // before seed_default_schemas' backfill (design §3.1, the drawing chain).
      EXPECT_EQ(file->SectionsFor(Direction::kUp, SectionPhase::kExpand).size(), 2u);
      EXPECT_TRUE(file->SectionsFor(Direction::kUp, SectionPhase::kWindow).empty());
      EXPECT_TRUE(file->SectionsFor(Direction::kUp, SectionPhase::kContract).empty());
    }
    if (file->revision == "seed_default_schemas") {
      const auto expand = file->SectionsFor(Direction::kUp, SectionPhase::kExpand);
      EXPECT_EQ(std::count_if(expand.begin(), expand.end(),
                              [](const Section* s) { return s->batch_rows > 0; }),
                2);
      EXPECT_EQ(file->SectionsFor(Direction::kUp, SectionPhase::kWindow).size(), 1u);
    }
    files.push_back(std::move(file).value());
  }
  Result<RevisionGraph> graph = BuildGraph(files);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_THAT(graph->Heads(), ElementsAre("seed_default_schemas"));
  EXPECT_EQ(graph->Bases().size(), 1u);
  const std::vector<std::string> order = graph->TopologicalOrder();
  const auto position = [&](const std::string& id) {
    return std::find(order.begin(), order.end(), id) - order.begin();
  };
  EXPECT_LT(position("9bc6a98f1c12"), position("add_flexible_schemas"));
  EXPECT_LT(position("add_flexible_schemas"), position("seed_default_schemas"));
}

}  // namespace
}  // namespace schemaop::core
