#include "core/database_url.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace schemaop::core {
namespace {

// Each pair: a text and what RedactDatabaseUrl makes of it.
void ExpectRedacted(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [text, redacted] : cases) {
    EXPECT_EQ(RedactDatabaseUrl(text), redacted) << text;
  }
}

TEST(RedactDatabaseUrlTest, UserInfoPassword) {
  ExpectRedacted({
      {"postgresql://app:s3cret@db:5432/drawing", "postgresql://app:***@db:5432/drawing"},
      {"postgres://app:s3cret@db/drawing?sslmode=require",
       "postgres://app:***@db/drawing?sslmode=require"},
      {"postgresql+psycopg2://app:s3cret@db/drawing", "postgresql+psycopg2://app:***@db/drawing"},
  });
}

TEST(RedactDatabaseUrlTest, NothingToRedact) {
  ExpectRedacted({
      {"postgresql://app@db/drawing", "postgresql://app@db/drawing"},
      {"postgresql:///drawing?host=/run/postgresql", "postgresql:///drawing?host=/run/postgresql"},
      {"host=db dbname=drawing", "host=db dbname=drawing"},
      {"", ""},
  });
}

TEST(RedactDatabaseUrlTest, PasswordWithUnencodedSpecialCharacters) {
  ExpectRedacted({
      {"postgresql://app:p@ss/w?rd@db/drawing", "postgresql://app:***@db/drawing"},
      {"postgresql://app:p%40ss@db/drawing?x=a@b", "postgresql://app:***@db/drawing?x=a@b"},
  });
}

TEST(RedactDatabaseUrlTest, QueryPasswords) {
  ExpectRedacted({
      {"postgresql://app:one@db/d?password=two", "postgresql://app:***@db/d?password=***"},
      {"postgresql://db/d?sslmode=require&password=two&application_name=x",
       "postgresql://db/d?sslmode=require&password=***&application_name=x"},
      {"postgresql://db/d?PASSWORD=two&sslpassword=three",
       "postgresql://db/d?PASSWORD=***&sslpassword=***"},
      // Only whole keys: mypassword is not password.
      {"postgresql://db/d?mypassword=visible", "postgresql://db/d?mypassword=visible"},
  });
}

TEST(RedactDatabaseUrlTest, KeyValueConnectionStrings) {
  ExpectRedacted({
      {"host=db user=app password=secret dbname=drawing",
       "host=db user=app password=*** dbname=drawing"},
      {"password='sec ret' host=db", "password=*** host=db"},
      {R"(host=db password = 'it\'s secret' dbname=x)", "host=db password = *** dbname=x"},
      {"host=db password=secret", "host=db password=***"},
      {"host=db passwordx=visible", "host=db passwordx=visible"},
  });
}

TEST(RedactDatabaseUrlTest, UrlsEmbeddedInText) {
  ExpectRedacted({
      {"cannot reach postgresql://app:s3cret@db/d: timeout",
       "cannot reach postgresql://app:***@db/d: timeout"},
      {"a=\"postgres://u:x@h/d?password=y\" and password=z",
       "a=\"postgres://u:***@h/d?password=***\" and password=***"},
      {"see https://example.com/docs", "see https://example.com/docs"},
      {"odd :// text", "odd :// text"},
  });
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

// A corpus of connection strings in every form a user or a driver message
// may carry one: after AddDatabaseUrl(url), Scrub leaves no secret of the
// URL in a text that quotes it in any of these forms.
struct ScrubCase {
  std::string url;
  std::vector<std::string> secrets;  // what must not survive
};

TEST(SecretScrubberTest, CorpusOfConnectionStrings) {
  const std::vector<ScrubCase> corpus = {
      {"postgresql://app:s3cret@db:5432/drawing", {"s3cret"}},
      {"postgres://app:p%40ss%2Fw0rd@db/drawing", {"p@ss/w0rd", "p%40ss%2Fw0rd"}},
      {"postgresql+psycopg2://app:Zx9!@db/drawing", {"Zx9!"}},
      {"postgresql://app:x@db/drawing", {"x"}},                      // 1 character
      {"postgresql://app:ab@db/drawing", {"ab"}},                    // 2 characters
      {"postgresql://app@db/d?password=q%26r&sslmode=require", {"q&r", "q%26r"}},
      {"postgresql://app:pw1234@db/d?sslpassword=keypass99&sslmode=verify-full",
       {"pw1234", "keypass99"}},
      {"host=db user=app password='sec ret' dbname=x", {"sec ret"}},
      {R"(host=db password='it\'s a secret' dbname=x)", {"it's a secret"}},
      {"host=db password = spaced99 dbname=x", {"spaced99"}},
      {"host=db password=z dbname=x", {"z"}},
      {"host=db sslpassword='k e y' password=abc dbname=x", {"k e y", "abc"}},
      {"postgresql://app:%E2%82%ACuro@db/d", {"\xE2\x82\xACuro"}},
  };
  for (const auto& c : corpus) {
    SecretScrubber scrubber;
    scrubber.AddDatabaseUrl(c.url);
    for (const auto& secret : c.secrets) {
      const std::vector<std::string> texts = {
          "cannot connect to " + c.url + ": timeout",
          "FATAL: password authentication failed; tried '" + secret + "'",
          "password=" + secret + " host=db",
          "value: " + secret,
          secret,
      };
      for (const auto& text : texts) {
        const std::string scrubbed = scrubber.Scrub(text);
        // A short secret may remain inside other words ("ab" in "about"), never as a token.
        if (secret.size() >= 4) {
          EXPECT_EQ(scrubbed.find(secret), std::string::npos)
              << "url " << c.url << " secret " << secret << " text " << text << " -> " << scrubbed;
        } else {
          EXPECT_EQ(scrubbed.find(" " + secret + " "), std::string::npos) << scrubbed;
          EXPECT_EQ(scrubbed.find("'" + secret + "'"), std::string::npos) << scrubbed;
          EXPECT_NE(scrubbed, secret) << scrubbed;
          EXPECT_EQ(scrubbed.find("=" + secret + " "), std::string::npos) << scrubbed;
        }
      }
    }
  }
}

TEST(SecretScrubberTest, ShortSecretsDoNotMangleOtherWords) {
  SecretScrubber scrubber;
  scrubber.AddDatabaseUrl("postgresql://app:ab@db/drawing");
  EXPECT_EQ(scrubber.Scrub("table about has 3 rows"), "table about has 3 rows");
  EXPECT_EQ(scrubber.Scrub("the password was ab."), "the password was ***.");
}

// Invariant: every whole-token occurrence of a short secret is masked,
// also when it overlaps an occurrence inside a word (found by tests/fuzz:
// "p:p" first matched at "app:p", and the search went on past the real one).
TEST(SecretScrubberTest, AShortSecretOverlappingAWordIsStillMasked) {
  SecretScrubber scrubber;
  scrubber.AddSecret("p:p");
  EXPECT_EQ(scrubber.Scrub("user app:p:p@host"), "user app:***@host");
  EXPECT_EQ(scrubber.Scrub("happy p:p"), "happy ***");
}

TEST(SecretScrubberTest, FindsEverySecretOfAUrl) {
  EXPECT_EQ(DatabaseUrlSecrets("postgresql://a:b%21c@h/d?sslpassword=k1&password=p2"),
            (std::vector<std::string>{"b%21c", "b!c", "k1", "p2"}));
  EXPECT_EQ(DatabaseUrlSecrets("host=h password='x y' sslpassword=z"),
            (std::vector<std::string>{"x y", "z"}));
  EXPECT_TRUE(DatabaseUrlSecrets("postgresql://a@h/d").empty());
}

// A rehearsal Job reaches the scratch copy with the user's URL, only the
// database name changed: nothing else may move (design §10.9).
TEST(WithDatabaseNameTest, OnlyTheDatabaseNameChanges) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgresql://app:s3cr%2Ft@db.example:5432/drawing?sslmode=require",
       "postgresql://app:s3cr%2Ft@db.example:5432/schemaop_scratch_1?sslmode=require"},
      {"postgresql+psycopg2://app:pw@db/drawing", "postgresql+psycopg2://app:pw@db/schemaop_scratch_1"},
      {"postgres://app@db", "postgres://app@db/schemaop_scratch_1"},
      {"postgres://app@db?sslmode=disable", "postgres://app@db/schemaop_scratch_1?sslmode=disable"},
      {"postgresql://app@h1:5432,h2:5433/drawing", "postgresql://app@h1:5432,h2:5433/schemaop_scratch_1"},
      {"postgresql://app:pw@[::1]:5432/drawing?sslmode=disable&application_name=x",
       "postgresql://app:pw@[::1]:5432/schemaop_scratch_1?sslmode=disable&application_name=x"},
      {"host=db user=app password='a b\\' c' dbname=drawing",
       "host=db user=app password='a b\\' c' dbname=schemaop_scratch_1"},
      {"host=db dbname = 'drawing' port=5432", "host=db dbname = schemaop_scratch_1 port=5432"},
      {"host=db user=app", "host=db user=app dbname=schemaop_scratch_1"},
  };
  for (const auto& [url, want] : cases) {
    auto got = WithDatabaseName(url, "schemaop_scratch_1");
    ASSERT_TRUE(got.ok()) << url << ": " << got.status().message();
    EXPECT_EQ(got.value(), want);
  }
}

TEST(WithDatabaseNameTest, RefusesWhatItCannotRewriteWithoutEchoingTheUrl) {
  const std::vector<std::string> bad = {
      "postgresql://app:topsecret@db/drawing?dbname=other",  // the parameter would win
      "postgresql://app:topsecret@db/drawing?sslmode=require&db%6Eame=drawing",  // decoded, too
      "postgresql://app:top#secret@db/drawing",  // '#' would go into the name
      "postgresql:///drawing?host=/run/postgresql&password=topsecret",  // no host in the URL
      "host=db password='topsecret",                                    // unterminated quote
      "just some topsecret words",
  };
  for (const std::string& url : bad) {
    auto got = WithDatabaseName(url, "schemaop_scratch_1");
    ASSERT_FALSE(got.ok()) << url;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(got.status().message().find("topsecret"), std::string::npos);
  }
  EXPECT_FALSE(WithDatabaseName("postgresql://db/x", "Robert'); DROP").ok());
  EXPECT_FALSE(WithDatabaseName("postgresql://db/x", "").ok());
}

}  // namespace
}  // namespace schemaop::core
