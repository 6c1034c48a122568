// The versionTable name rule is written once (core::IsValidVersionTableName)
// and the CRD's OpenAPI schema says the same: both accept and reject the same
// names, so the API server refuses what the engine would refuse (design §5.1).
#include "core/version_table.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/schema_migration.h"

namespace schemaop::core {
namespace {

struct CrdRule {
  std::string pattern;
  std::size_t max_length = 0;
};

// The pattern and maxLength under `versionTable:` in the shipped CRD.
CrdRule ReadCrdRule() {
  const char* source = std::getenv("SCHEMAOP_SOURCE_DIR");
  EXPECT_NE(source, nullptr) << "SCHEMAOP_SOURCE_DIR is not set";
  std::ifstream in(std::string(source == nullptr ? "." : source) +
                   "/crds/schemaop.dev_schemamigrations.yaml");
  EXPECT_TRUE(in) << "cannot read the CRD";
  CrdRule rule;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("versionTable:") != std::string::npos) {
      inside = true;
      continue;
    }
    if (!inside) {
      continue;
    }
    static const std::regex kPattern(R"re(^\s*pattern:\s*'(.*)'\s*$)re");
    static const std::regex kMax(R"re(^\s*maxLength:\s*([0-9]+)\s*$)re");
    std::smatch match;
    if (std::regex_match(line, match, kPattern)) {
      rule.pattern = match[1].str();
    } else if (std::regex_match(line, match, kMax)) {
      rule.max_length = std::stoul(match[1].str());
    }
    if (!rule.pattern.empty() && rule.max_length != 0) {
      break;
    }
  }
  return rule;
}

const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {
      // valid
      "alembic_version", "_v", "a", "v2", "schemaop_versions_1", std::string(63, 'a'),
      "_" + std::string(62, '9'),
      // too long
      std::string(64, 'a'), "_" + std::string(63, 'x'),
      // empty, leading digit, upper case (folded unquoted, not by Alembic)
      "", "1abc", "9", "Alembic_Version", "ALEMBIC", "alembic_Version",
      // quoted
      "\"alembic_version\"", "\"Alembic\"", "'alembic_version'",
      // schema-qualified
      "public.alembic_version", "schemaop.run_log", ".alembic", "alembic.",
      // hostile
      "alembic version", "x;drop table users", "alembic_version--", "v/*", "a$b", "a-b",
      "alembic_version\n", "\talembic", std::string("v\0x", 3), "versión",
      "alembic_version; DELETE FROM t", "a)", "pg_catalog.pg_class"};
  return names;
}

TEST(VersionTableTest, CrdPatternIsTheCoreRule) {
  CrdRule rule = ReadCrdRule();
  EXPECT_EQ(rule.pattern, kVersionTablePattern);
  EXPECT_EQ(rule.max_length, 63u);
}

TEST(VersionTableTest, CrdAndCoreAcceptAndRejectTheSameNames) {
  CrdRule rule = ReadCrdRule();
  ASSERT_FALSE(rule.pattern.empty());
  const std::regex crd(rule.pattern);
  int accepted = 0;
  for (const std::string& name : Names()) {
    bool by_crd = name.size() <= rule.max_length && std::regex_search(name, crd);
    bool by_core = IsValidVersionTableName(name);
    EXPECT_EQ(by_crd, by_core) << "name '" << name << "': CRD " << by_crd << ", core " << by_core;
    accepted += by_core ? 1 : 0;
  }
  EXPECT_EQ(accepted, 7);  // the valid block above
}

TEST(VersionTableTest, SpecValidationUsesTheRule) {
  SchemaMigrationSpec spec;
  spec.target_revision = "head";
  spec.url_secret_ref = {"db", "url"};
  spec.migrations_config_map = "migrations";
  for (const std::string& name : Names()) {
    spec.version_table = name;
    bool flagged = false;
    for (const auto& problem : ValidateSpec(spec)) {
      flagged = flagged || problem.path == "spec.database.versionTable";
    }
    EXPECT_EQ(flagged, !IsValidVersionTableName(name)) << "name '" << name << "'";
  }
}

// golang-migrate versions (design §10.8): the CRD's CEL rule carries the
// same expression as core, and both read numbers as golang-migrate's table
// gives them back (no leading zeros, at most a bigint's 18 digits here).
TEST(VersionTableTest, GolangMigrateVersionsAreCanonicalNumbers) {
  const char* source = std::getenv("SCHEMAOP_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "SCHEMAOP_SOURCE_DIR is not set";
  std::ifstream in(std::string(source) + "/crds/schemaop.dev_schemamigrations.yaml");
  std::stringstream crd;
  crd << in.rdbuf();
  EXPECT_NE(crd.str().find(std::string("matches('") + kGolangMigrateVersionPattern + "')"),
            std::string::npos)
      << "the CRD's GolangMigrate target rule is not " << kGolangMigrateVersionPattern;
  const std::regex rule(kGolangMigrateVersionPattern);
  for (const std::string version : {"0", "5", "20240301120000", "999999999999999999"}) {
    EXPECT_TRUE(IsGolangMigrateVersion(version)) << version;
    EXPECT_TRUE(std::regex_search(version, rule)) << version;
  }
  for (const std::string version : {"", "0005", "00", "1234567890123456789", "-1", "1e3", "12a"}) {
    EXPECT_FALSE(IsGolangMigrateVersion(version)) << version;
    EXPECT_FALSE(std::regex_search(version, rule)) << version;
  }
}

TEST(VersionTableTest, GolangMigrateVersionsCompareAsNumbers) {
  EXPECT_EQ(CompareGolangMigrateVersions("9", "10"), -1);
  EXPECT_EQ(CompareGolangMigrateVersions("20240301120000", "20240101000000"), 1);
  EXPECT_EQ(CompareGolangMigrateVersions("7", "7"), 0);
  EXPECT_EQ(CompareGolangMigrateVersions("007", "7"), std::nullopt);
  EXPECT_EQ(CompareGolangMigrateVersions("base", "7"), std::nullopt);
}

}  // namespace
}  // namespace schemaop::core
