// The `schemaop` binary's flag handling across modes (issue 11 item 5),
// with no database and no cluster: everything here fails or finishes before
// either would be contacted. Local commands: durations with units (a bare
// number is seconds), --backup in any case, subcommand options refused by
// other subcommands. `schemaop controller`: the local commands' options are
// refused wherever they are given; DATABASE_URL in the environment is not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `schemaop ARGUMENTS` through the shell (arguments are test literals).
Outcome RunCli(const std::string& arguments) {
  const std::string command = std::string(SCHEMAOP_BINARY) + " " + arguments + " 2>&1";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return outcome;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    outcome.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

class CliFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/schemaop-cli-flags-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/001_r1.sql")
        << "-- revision: r1\n-- down_revision:\n-- message: one\n\n-- migrate:up\nSELECT 1;\n";
    unsetenv("DATABASE_URL");
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    unsetenv("DATABASE_URL");
  }
  // `heads` reads the files only: it succeeds without a database.
  std::string Heads(const std::string& options) const {
    return "--migrations " + dir_ + " " + options + " heads";
  }
  std::string dir_;
};

TEST_F(CliFlagsTest, LocalDurationsTakeUnitsAndBareSeconds) {
  for (const char* ok :
       {"--lock-timeout 10s", "--lock-timeout 10", "--lock-wait 1m30s", "--lock-wait 0.5",
        "--statement-timeout 1h", "--statement-timeout 0", "--lock-timeout=500ms"}) {
    auto result = RunCli(Heads(ok));
    EXPECT_EQ(result.exit_code, 0) << ok << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr("r1 (head)")) << ok;
  }
  struct Bad {
    const char* options;
    const char* message;
  };
  for (const Bad& bad : {
           Bad{"--lock-timeout 10x", "--lock-timeout: \"10x\" is not a duration"},
           Bad{"--lock-timeout -1", "--lock-timeout: \"-1\" must not be negative"},
           Bad{"--lock-wait 1e9s", "--lock-wait: \"1e9s\" is not a duration"},
           Bad{"--statement-timeout 99999999999999999999h",
               "--statement-timeout: \"99999999999999999999h\" is not a duration"},
           Bad{"--lock-wait ''", "--lock-wait: \"\" is empty"},
       }) {
    auto result = RunCli(Heads(bad.options));
    EXPECT_EQ(result.exit_code, 2) << bad.options << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(bad.message)) << bad.options;
  }
  auto wait = RunCli("--migrations " + dir_ + " wait --at-least r1 --timeout 5x");
  EXPECT_EQ(wait.exit_code, 2) << wait.output;
  EXPECT_THAT(wait.output, HasSubstr("wait --timeout: \"5x\" is not a duration"));
}

TEST_F(CliFlagsTest, BackupTakesTheCrdSpellingInAnyCase) {
  for (const char* ok : {"Always", "always", "NEVER", "Downgrade", "downgrade"}) {
    auto result = RunCli(Heads(std::string("--backup ") + ok));
    EXPECT_EQ(result.exit_code, 0) << ok << ": " << result.output;
  }
  auto bad = RunCli(Heads("--backup sometimes"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output,
              HasSubstr("--backup: \"sometimes\" is not one of Downgrade, Always or Never"));
}

TEST_F(CliFlagsTest, SubcommandOptionsAreRefusedByOtherSubcommands) {
  for (const char* misplaced : {"--sql", "--limit 3", "--at-least r1", "--timeout 5s"}) {
    auto result = RunCli(Heads(misplaced));
    EXPECT_EQ(result.exit_code, 2) << misplaced << ": " << result.output;
    EXPECT_THAT(result.output, Not(HasSubstr("(head)"))) << misplaced;
  }
}

TEST_F(CliFlagsTest, ControllerRefusesLocalOptionsWhereverGiven) {
  struct Case {
    std::string arguments;
    std::string message;
  };
  const Case cases[] = {
      {"controller --database postgresql://u@h/db", "--database is an option of the local"},
      {"--database postgresql://u@h/db controller", "--database is an option of the local"},
      {"controller --migrations m", "spec.migrations.configMapRef"},
      {"controller --lock-timeout 10s", "spec.lockTimeout"},
      {"controller --backup Always", "spec.backup.when"},
      {"controller --check a=SELECT\\ true", "spec.verify.checks"},
      {"controller --allow-schema-drift", "spec.verify.schema: Ignore"},
      {"controller -q", "--quiet is an option of the local"},
      {"--backup-dir /b controller", "its own --backup-dir, given after \"controller\""},
  };
  for (const Case& c : cases) {
    auto result = RunCli(c.arguments);
    EXPECT_EQ(result.exit_code, 2) << c.arguments << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.message)) << c.arguments;
    EXPECT_THAT(result.output, HasSubstr("not of \"schemaop controller\"")) << c.arguments;
  }
  // Not refused: DATABASE_URL in the environment, and the controller's own
  // --backup-dir. Both stop at the next flag error, before any connection.
  setenv("DATABASE_URL", "postgresql://u@h/db", 1);
  auto env = RunCli("controller --backup-dir /b --workers 0");
  EXPECT_EQ(env.exit_code, 2) << env.output;
  EXPECT_THAT(env.output, HasSubstr("--workers (or SCHEMAOP_WORKERS) must be between 1"));
  EXPECT_THAT(env.output, Not(HasSubstr("local commands")));
}

TEST_F(CliFlagsTest, ControllerDurationsNeedAUnit) {
  auto result = RunCli("controller --lease-duration 15");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output,
              HasSubstr("--lease-duration (or SCHEMAOP_LEASE_DURATION): \"15\" needs a unit, "
                        "e.g. 15s"));
}

// `schemaop --version`: the version and the commit the binary was built from
// (cmake/build_info.cmake), exit 0, whatever else is on the command line.
TEST_F(CliFlagsTest, VersionNamesTheCommit) {
  const char* source = getenv("SCHEMAOP_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "run through ctest (SCHEMAOP_SOURCE_DIR)";
  FILE* git = popen(("git -C '" + std::string(source) + "' rev-parse HEAD 2>/dev/null").c_str(), "r");
  ASSERT_NE(git, nullptr);
  char head[64] = {0};
  const bool has_git = fgets(head, sizeof head, git) != nullptr;
  pclose(git);
  auto result = RunCli("--version");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  if (has_git) {
    EXPECT_THAT(result.output, ::testing::MatchesRegex(
                                   "schemaop [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit [0-9a-f]{40}(-dirty)?\\)\n"));
    EXPECT_THAT(result.output, HasSubstr("(commit " + std::string(head, 40)));
  } else {  // a source tree without git and no SCHEMAOP_COMMIT: nothing to name
    EXPECT_THAT(result.output, HasSubstr("(commit unknown)"));
  }
}

}  // namespace
