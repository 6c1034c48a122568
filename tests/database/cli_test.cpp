// The `schemaop` binary's local mode: exit codes and that the password never
// reaches stdout/stderr. SCHEMAOP_BINARY is the built executable.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/pg_test_env.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// The URL travels in DATABASE_URL, never on the command line.
Outcome RunCli(const std::string& url, const std::string& arguments) {
  setenv("DATABASE_URL", url.c_str(), 1);
  std::string command = std::string(SCHEMAOP_BINARY) + " " + arguments + " 2>&1";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return outcome;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    outcome.output.append(buffer, n);
  }
  int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  unsetenv("DATABASE_URL");
  return outcome;
}

std::string PasswordOf(const std::string& url) {
  auto at = url.rfind('@');
  auto colon = url.find(':', url.find("://") + 3);
  return url.substr(colon + 1, at - colon - 1);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/schemaop-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/m");
    std::ofstream(dir_ + "/m/001_r1.sql")
        << "-- revision: r1\n-- down_revision:\n-- message: items\n\n-- migrate:up\n"
           "CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items VALUES (1), (2);\n\n"
           "-- migrate:down\nDROP TABLE items;\n";
    std::ofstream(dir_ + "/m/002_r2.sql")
        << "-- revision: r2\n-- down_revision: r1\n-- message: loses rows\n\n-- migrate:up\n"
           "DELETE FROM items;\n\n-- migrate:down\nSELECT 1;\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Flags() const {
    return "--migrations " + dir_ + "/m --backup-dir " + dir_ + "/backups --pg-bin-dir " +
           schemaop::testing::HarnessBinDir();
  }
  std::string dir_;
};

TEST_F(CliTest, ExitCodesAndNoPasswordInOutput) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_exit_codes");
  std::string password = PasswordOf(url);

  auto up = RunCli(url, Flags() + " upgrade r1");
  EXPECT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(up.output.find("outcome: succeeded"), std::string::npos) << up.output;
  EXPECT_EQ(up.output.find(password), std::string::npos);

  auto current = RunCli(url, Flags() + " current");
  EXPECT_EQ(current.exit_code, 0);
  EXPECT_NE(current.output.find("r1"), std::string::npos);

  auto rolled_back = RunCli(url, Flags() + " upgrade head");
  EXPECT_EQ(rolled_back.exit_code, 1) << rolled_back.output;
  EXPECT_NE(rolled_back.output.find("public.items had 2 rows"), std::string::npos) << rolled_back.output;

  auto unknown = RunCli(url, Flags() + " upgrade nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;

  auto missing_dir = RunCli(url, "--migrations " + dir_ + "/absent upgrade head");
  EXPECT_EQ(missing_dir.exit_code, 2) << missing_dir.output;
  EXPECT_NE(missing_dir.output.find("absent"), std::string::npos);

  auto usage = RunCli(url, Flags() + " upgrade");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;

  auto wait = RunCli(url, Flags() + " wait --at-least r2 --timeout 0.2");
  EXPECT_EQ(wait.exit_code, 6) << wait.output;

  auto down = RunCli(url, Flags() + " downgrade base");
  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("backup: "), std::string::npos) << down.output;

  for (const auto* output : {&up.output, &current.output, &rolled_back.output, &unknown.output,
                             &missing_dir.output, &wait.output, &down.output}) {
    EXPECT_EQ(output->find(password), std::string::npos) << *output;
  }
}

TEST_F(CliTest, WrongPasswordExitsThreeWithoutEchoingIt) {
  std::string url = schemaop::testing::CreateScratchDatabase("engine_cli_wrong_password");
  std::string real = PasswordOf(url);
  std::string wrong = url;
  wrong.replace(wrong.find(real), real.size(), "NotThePassword42");
  auto result = RunCli(wrong, Flags() + " current");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_EQ(result.output.find("NotThePassword42"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find(real), std::string::npos);
  EXPECT_NE(result.output.find("password"), std::string::npos) << result.output;
}

}  // namespace
