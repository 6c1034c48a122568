#include "core/status.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace schemaop::core {
namespace {

TEST(StatusTest, OkByDefault) {
  const Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), Code::kOk);
  EXPECT_EQ(status.ToString(), "Ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ToStringHasCodeMessageAndDetail) {
  EXPECT_EQ(Status(Code::kMigrationFailed, "statement 3 failed", "23505").ToString(),
            "MigrationFailed: statement 3 failed [23505]");
  EXPECT_EQ(Status(Code::kLockHeld, "busy").ToString(), "LockHeld: busy");
}

TEST(StatusTest, EveryCodeHasADistinctCamelCaseName) {
  std::set<std::string> names;
  for (int i = static_cast<int>(Code::kOk); i <= static_cast<int>(Code::kInternal); ++i) {
    const std::string name = CodeName(static_cast<Code>(i));
    EXPECT_NE(name, "Unknown") << i;
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(name[0]))) << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(std::string(CodeName(Code::kUnknownRevision)), "UnknownRevision");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> value = 7;
  EXPECT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());
  Result<int> error = Status(Code::kNotFound, "missing");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace schemaop::core
