// core/server_version: which API servers enforce the CRD's validation rules,
// from what /version says (also the odd spellings providers use).
#include "core/server_version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

using ::testing::HasSubstr;

TEST(ServerVersionTest, ParsesPlainAndProviderMinorVersions) {
  const auto plain = ParseServerVersion("1", "25", "v1.25.0");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->major, 1);
  EXPECT_EQ(plain->minor, 25);
  const auto provider = ParseServerVersion("1", "27+", "v1.27.3-eks-1");
  ASSERT_TRUE(provider.has_value());
  EXPECT_EQ(provider->minor, 27);
}

TEST(ServerVersionTest, RefusesWhatIsNotANumber) {
  EXPECT_FALSE(ParseServerVersion("", "25", "").has_value());
  EXPECT_FALSE(ParseServerVersion("1", "", "").has_value());
  EXPECT_FALSE(ParseServerVersion("1", "+25", "").has_value());
  EXPECT_FALSE(ParseServerVersion("one", "25", "").has_value());
  EXPECT_FALSE(ParseServerVersion("1", "99999999999999999999", "").has_value());
}

TEST(ServerVersionTest, WarnsOnlyBelowTheOldestSupportedVersion) {
  EXPECT_FALSE(OldServerWarning({1, kMinKubernetesMinor, "v1.25.0"}).has_value());
  EXPECT_FALSE(OldServerWarning({1, 32, ""}).has_value());
  EXPECT_FALSE(OldServerWarning({2, 0, ""}).has_value());
  const auto warning = OldServerWarning({1, 24, "v1.24.17-eks-abc"});
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, HasSubstr("v1.24.17-eks-abc"));
  EXPECT_THAT(*warning, HasSubstr("validation rules"));
  EXPECT_THAT(*warning, HasSubstr("InvalidSpec"));
  EXPECT_THAT(*warning, HasSubstr("1.25 or later"));
  EXPECT_THAT(*OldServerWarning({1, 19, ""}), HasSubstr("Kubernetes 1.19,"));
}

}  // namespace
}  // namespace schemaop::core
