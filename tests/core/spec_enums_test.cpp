// core/spec_enums: one table of spellings per enum, shared by the CRD
// (exact spelling) and the CLI (any case); the CRD's enum lists and defaults
// are the tables'.
#include "core/spec_enums.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace schemaop::core {
namespace {

TEST(SpecEnumsTest, CrdSpellingIsExactCliSpellingIgnoresCase) {
  EXPECT_EQ(ParseEnum(kBackupWhenNames, "Always"), BackupWhen::kAlways);
  EXPECT_EQ(ParseEnum(kBackupWhenNames, "always"), std::nullopt);
  EXPECT_EQ(ParseEnum(kBackupWhenNames, "always", Case::kIgnore), BackupWhen::kAlways);
  EXPECT_EQ(ParseEnum(kBackupWhenNames, "NEVER", Case::kIgnore), BackupWhen::kNever);
  EXPECT_EQ(ParseEnum(kBackupWhenNames, "dOwNgRaDe", Case::kIgnore), BackupWhen::kDowngrade);
  for (const char* bad : {"", "Alway", "Always ", "sometimes", "Al\xc3\xa9ways"}) {
    EXPECT_EQ(ParseEnum(kBackupWhenNames, bad, Case::kIgnore), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseEnum(kFailurePolicyNames, "halt", Case::kIgnore), FailurePolicy::kHalt);
  EXPECT_EQ(ParseEnum(kVerifySchemaNames, "Ignore"), VerifySchema::kIgnore);
  EXPECT_EQ(ParseEnum(kVerifyRowCountsNames, "Off"), VerifyRowCounts::kOff);
}

TEST(SpecEnumsTest, NamesAndChoices) {
  EXPECT_STREQ(EnumName(kBackupWhenNames, BackupWhen::kNever), "Never");
  EXPECT_STREQ(EnumName(kFailurePolicyNames, FailurePolicy::kRollback), "Rollback");
  EXPECT_EQ(EnumChoices(kBackupWhenNames), "Downgrade, Always or Never");
  EXPECT_EQ(EnumChoices(kFailurePolicyNames), "Rollback or Halt");
  EXPECT_EQ(EnumChoices(kVerifyRowCountsNames), "Preserve or Off");
  EXPECT_EQ(EnumChoices(kVerifySchemaNames), "Enforce or Ignore");
}

std::string Trim(const std::string& line) {
  const auto begin = line.find_first_not_of(' ');
  return begin == std::string::npos ? "" : line.substr(begin);
}

// The default and the enum list of the string property `key` in the CRD
// (the first `key:` whose block says `type: string`), as "Default: A, B".
std::string CrdEnum(const std::string& key) {
  const char* source = std::getenv("SCHEMAOP_SOURCE_DIR");
  std::ifstream crd(std::string(source == nullptr ? "." : source) +
                    "/crds/schemaop.dev_schemamigrations.yaml");
  std::vector<std::string> lines;
  for (std::string line; std::getline(crd, line);) {
    lines.push_back(line);
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (Trim(lines[i]) != key + ":" || i + 1 >= lines.size() ||
        Trim(lines[i + 1]) != "type: string") {
      continue;
    }
    const std::size_t indent = lines[i].size() - Trim(lines[i]).size();
    std::string default_value;
    std::string values;
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      const std::string text = Trim(lines[j]);
      if (lines[j].size() - text.size() <= indent && text.rfind("- ", 0) != 0) {
        break;
      }
      if (text.rfind("default: ", 0) == 0) {
        default_value = text.substr(9);
      } else if (text.rfind("- ", 0) == 0) {
        std::string value = text.substr(2);
        if (value.size() > 1 && value.front() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        values += (values.empty() ? "" : ", ") + value;
      }
    }
    return default_value + ": " + values;
  }
  return "(no string property " + key + " in the CRD)";
}

template <typename E, std::size_t N>
std::string TableEnum(const EnumSpelling<E> (&table)[N]) {
  std::string values;
  for (const auto& entry : table) {
    values += (values.empty() ? "" : ", ") + std::string(entry.name);
  }
  return std::string(table[0].name) + ": " + values;
}

TEST(SpecEnumsTest, CrdEnumsAndDefaultsAreTheTables) {
  EXPECT_EQ(CrdEnum("when"), TableEnum(kBackupWhenNames));
  EXPECT_EQ(CrdEnum("failurePolicy"), TableEnum(kFailurePolicyNames));
  EXPECT_EQ(CrdEnum("rowCounts"), TableEnum(kVerifyRowCountsNames));
  EXPECT_EQ(CrdEnum("schema"), TableEnum(kVerifySchemaNames));
  EXPECT_EQ(CrdEnum("approval"), TableEnum(kApprovalNames));
}

}  // namespace
}  // namespace schemaop::core
