// The unit-tier side of the fuzz targets: every seed (tests/fuzz/corpus/T/,
// and for the migration parser and the SQL splitter the drawing migrations,
// migrations/drawing, whole and cut at their marker lines) and every input a
// fuzzer once crashed on (tests/fuzz/regressions/T/) goes through target T's
// body with its properties, in every build (GCC too). The named tests below
// pin each bug the fuzzers found to its expected behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/database_url.h"
#include "core/schema_migration.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  void (*body)(std::string_view);
};

const Target kTargets[] = {
    {"migration_file", MigrationFile}, {"sql_splitter", SqlSplitter},
    {"database_url", DatabaseUrl},     {"kubeconfig", Kubeconfig},
    {"duration", Duration},            {"schema_migration_json", SchemaMigrationJson},
    {"cron", Cron},                    {"tzif", Tzif},
};

fs::path SourceDir() {
  const char* source = std::getenv("SCHEMAOP_SOURCE_DIR");
  return fs::path(source != nullptr ? source : ".");
}
fs::path FuzzDir() { return SourceDir() / "tests" / "fuzz"; }

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs every file under FuzzDir()/kind/<target>; returns how many ran.
int Replay(const Target& target, const char* kind) {
  const fs::path dir = FuzzDir() / kind / target.name;
  if (!fs::is_directory(dir)) {
    return 0;
  }
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    SCOPED_TRACE(entry.path().string());
    target.body(ReadAll(entry.path()));
    ++count;
  }
  return count;
}

// The parts of `text` between its `-- migrate:` marker lines (the header
// before the first marker included), as tests/fuzz/CMakeLists.txt cuts them
// for the sql_splitter fuzzer.
std::vector<std::string> MarkerSections(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at = text.find("\n-- migrate:"); at != std::string::npos;
       at = text.find("\n-- migrate:", start)) {
    parts.push_back(text.substr(start, at + 1 - start));
    const std::size_t eol = text.find('\n', at + 1);
    start = eol == std::string::npos ? text.size() : eol + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

// The drawing migrations as seeds: whole files for the migration parser,
// their sections for the SQL splitter (tests/fuzz/CMakeLists.txt hands the
// same to the libFuzzer executables); returns how many inputs ran.
int ReplayDrawingMigrations(const Target& target) {
  const std::string name = target.name;
  if (name != "migration_file" && name != "sql_splitter") {
    return 0;
  }
  int count = 0;
  for (const auto& entry : fs::directory_iterator(SourceDir() / "migrations" / "drawing")) {
    if (entry.path().extension() != ".sql") {
      continue;
    }
    SCOPED_TRACE(entry.path().string());
    const std::string text = ReadAll(entry.path());
    const auto inputs = name == "sql_splitter" ? MarkerSections(text) : std::vector{text};
    for (const std::string& input : inputs) {
      target.body(input);
      ++count;
    }
  }
  return count;
}

TEST(FuzzReplayTest, EverySeedCorpusIsPresentAndPassesItsProperties) {
  for (const Target& target : kTargets) {
    EXPECT_GT(Replay(target, "corpus") + ReplayDrawingMigrations(target), 0)
        << "no seeds for " << target.name;
  }
  EXPECT_GE(ReplayDrawingMigrations(kTargets[0]), 4) << "the drawing migrations are missing";
  EXPECT_GE(ReplayDrawingMigrations(kTargets[1]), 13) << "the drawing sections are missing";
}

TEST(FuzzReplayTest, EveryRegressionInputPassesItsProperties) {
  for (const Target& target : kTargets) {
    Replay(target, "regressions");
  }
}

// duration: 299999990999999m passed the per-number cap (2^50) and
// number * unit overflowed int64 before the total was checked (UBSan).
TEST(FuzzRegressionTest, DurationTooLargeForInt64IsInvalidNotOverflow) {
  for (const char* text : {"299999990999999m", "1125899906842624h", "999999999999999h1ms"}) {
    const auto parsed = core::ParseDuration(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), core::Code::kInvalidArgument);
  }
  EXPECT_EQ(core::ParseDuration("1125899906842ms").value(), std::chrono::milliseconds(1125899906842));
}

// database_url: libpq ends the user info at the FIRST '@' (or '/'); the
// scrubber only knew the password up to the LAST '@', so libpq's password
// survived scrubbing where the URL repeated it, and a password holding
// "?...=" was not found at all.
TEST(FuzzRegressionTest, ScrubberKnowsThePasswordLibpqReads) {
  const std::string several_at = "postgresql://ap\"p:x@ereplicax@ereplicationsql\x88" "app:x";
  const auto secrets = core::DatabaseUrlSecrets(several_at);
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "x"), secrets.end());
  core::SecretScrubber scrubber;
  scrubber.AddDatabaseUrl(several_at);
  EXPECT_EQ(scrubber.Scrub(several_at).find(":x"), std::string::npos) << scrubber.Scrub(several_at);

  const std::string query_chars = "postgresql://u:a?x=1@h/db";
  core::SecretScrubber query_scrubber;
  query_scrubber.AddDatabaseUrl(query_chars);
  EXPECT_EQ(query_scrubber.Scrub("could not connect to " + query_chars).find("a?x=1"),
            std::string::npos);
  EXPECT_EQ(core::DatabaseUrlSecrets("postgresql://u:pw@h/db"), std::vector<std::string>{"pw"})
      << "one password, listed once";
}

// database_url: in a libpq key=value string a keyword may follow a closing
// quote without a space; libpq then sends the later password, which the
// scrubber did not see.
TEST(FuzzRegressionTest, ScrubberSeesAKeywordRightAfterAClosingQuote) {
  const std::string conninfo = "host=db password='first'password=Second99";
  const auto secrets = core::DatabaseUrlSecrets(conninfo);
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "Second99"), secrets.end());
  EXPECT_EQ(core::RedactDatabaseUrl(conninfo), "host=db password=***password=***");
  core::SecretScrubber scrubber;
  scrubber.AddDatabaseUrl(conninfo);
  EXPECT_EQ(scrubber.Scrub("connecting with " + conninfo).find("Second99"), std::string::npos);
}

// database_url: masking a short secret can turn a neighbouring occurrence
// into a whole token, of the same secret ("i'i'") or of a longer one masked
// earlier; the scrubber left those readable.
TEST(FuzzRegressionTest, ScrubberMasksShortSecretsUntilNoneIsLeft) {
  core::SecretScrubber repeated;
  repeated.AddSecret("i'");
  EXPECT_EQ(repeated.Scrub("got 'i'i' back"), "got '****** back");

  core::SecretScrubber neighbours;
  neighbours.AddDatabaseUrl("host=db password=x- sslpassword=y");
  EXPECT_EQ(neighbours.Scrub("x-y."), "******.");

  core::SecretScrubber stars;  // the mask itself matches: one round, no loop
  stars.AddSecret("**");
  EXPECT_EQ(stars.Scrub("a ** b"), "a *** b");
}

}  // namespace
}  // namespace schemaop::fuzz
