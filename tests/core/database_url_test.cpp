#include "core/database_url.h"

#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

TEST(RedactDatabaseUrlTest, UserInfoPassword) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:s3cret@db:5432/drawing"),
            "postgresql://app:***@db:5432/drawing");
  EXPECT_EQ(RedactDatabaseUrl("postgres://app:s3cret@db/drawing?sslmode=require"),
            "postgres://app:***@db/drawing?sslmode=require");
  EXPECT_EQ(RedactDatabaseUrl("postgresql+psycopg2://app:s3cret@db/drawing"),
            "postgresql+psycopg2://app:***@db/drawing");
}

TEST(RedactDatabaseUrlTest, NothingToRedact) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app@db/drawing"), "postgresql://app@db/drawing");
  EXPECT_EQ(RedactDatabaseUrl("postgresql:///drawing?host=/run/postgresql"),
            "postgresql:///drawing?host=/run/postgresql");
  EXPECT_EQ(RedactDatabaseUrl("host=db dbname=drawing"), "host=db dbname=drawing");
  EXPECT_EQ(RedactDatabaseUrl(""), "");
}

TEST(RedactDatabaseUrlTest, PasswordWithUnencodedSpecialCharacters) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:p@ss/w?rd@db/drawing"),
            "postgresql://app:***@db/drawing");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:p%40ss@db/drawing?x=a@b"),
            "postgresql://app:***@db/drawing?x=a@b");
}

TEST(RedactDatabaseUrlTest, QueryPasswords) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:one@db/d?password=two"),
            "postgresql://app:***@db/d?password=***");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://db/d?sslmode=require&password=two&application_name=x"),
            "postgresql://db/d?sslmode=require&password=***&application_name=x");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://db/d?PASSWORD=two&sslpassword=three"),
            "postgresql://db/d?PASSWORD=***&sslpassword=***");
  // Only whole keys: mypassword is not password.
  EXPECT_EQ(RedactDatabaseUrl("postgresql://db/d?mypassword=visible"),
            "postgresql://db/d?mypassword=visible");
}

TEST(RedactDatabaseUrlTest, KeyValueConnectionStrings) {
  EXPECT_EQ(RedactDatabaseUrl("host=db user=app password=secret dbname=drawing"),
            "host=db user=app password=*** dbname=drawing");
  EXPECT_EQ(RedactDatabaseUrl("password='sec ret' host=db"), "password=*** host=db");
  EXPECT_EQ(RedactDatabaseUrl(R"(host=db password = 'it\'s secret' dbname=x)"),
            "host=db password = *** dbname=x");
  EXPECT_EQ(RedactDatabaseUrl("host=db password=secret"), "host=db password=***");
  EXPECT_EQ(RedactDatabaseUrl("host=db passwordx=visible"), "host=db passwordx=visible");
}

TEST(RedactDatabaseUrlTest, UrlsEmbeddedInText) {
  EXPECT_EQ(RedactDatabaseUrl("cannot reach postgresql://app:s3cret@db/d: timeout"),
            "cannot reach postgresql://app:***@db/d: timeout");
  EXPECT_EQ(RedactDatabaseUrl("a=\"postgres://u:x@h/d?password=y\" and password=z"),
            "a=\"postgres://u:***@h/d?password=***\" and password=***");
  EXPECT_EQ(RedactDatabaseUrl("see https://example.com/docs"), "see https://example.com/docs");
  EXPECT_EQ(RedactDatabaseUrl("odd :// text"), "odd :// text");
}

TEST(DatabaseUrlPasswordTest, FindsThePassword) {
  EXPECT_EQ(DatabaseUrlPassword("postgresql://app:s3cret@db/drawing"), "s3cret");
  EXPECT_EQ(DatabaseUrlPassword("postgresql://app:p%40ss@db/drawing"), "p@ss");
  EXPECT_EQ(DatabaseUrlPassword("postgresql://app@db/d?password=two%21"), "two!");
  EXPECT_EQ(DatabaseUrlPassword("host=db password='sec ret' dbname=x"), "sec ret");
  EXPECT_EQ(DatabaseUrlPassword(R"(password='it\'s')"), "it's");
  EXPECT_EQ(DatabaseUrlPassword("host=db password=plain"), "plain");
  EXPECT_EQ(DatabaseUrlPassword("postgresql://app@db/drawing"), "");
  EXPECT_EQ(DatabaseUrlPassword("host=db"), "");
}

TEST(ScrubSecretTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(ScrubSecret("auth failed for s3cret (s3cret)", "s3cret"), "auth failed for *** (***)");
  EXPECT_EQ(ScrubSecret("nothing here", "s3cret"), "nothing here");
  EXPECT_EQ(ScrubSecret("keep all", ""), "keep all");
  EXPECT_EQ(ScrubSecret("aaaa", "aa"), "******");
}

TEST(ScrubSecretTest, ReplacesThePercentEncodedFormToo) {
  EXPECT_EQ(ScrubSecret("url postgresql://u:p%40ss@h and p@ss", "p@ss"),
            "url postgresql://u:***@h and ***");
}

}  // namespace
}  // namespace schemaop::core
