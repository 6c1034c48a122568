// Backups and child processes against hostile input (issue 8), on the
// harness PostgreSQL (tier `pg`): file names from hostile database names stay
// inside the backup directory, retention removes only this owner's backups
// and never follows a symlink, and no secret libpq parameter is in the argv
// or environment of pg_dump / pg_restore while they run.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "database/backup_files.h"
#include "database/migrator.h"
#include "support/engine_fixture.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

TEST(BackupFileNames, PartsAreSanitizedAndHashedWhenChanged) {
  using internal::SanitizeFilePart;
  EXPECT_EQ(SanitizeFilePart("drawing", false), "drawing");
  const std::string evil = SanitizeFilePart("../../evil", false);
  EXPECT_EQ(evil.find('/'), std::string::npos);
  EXPECT_NE(evil.rfind("evil-h", 0), std::string::npos) << evil;
  EXPECT_NE(SanitizeFilePart("../../evil", false), SanitizeFilePart("....evil", false));
  EXPECT_EQ(SanitizeFilePart("..", false).find(".."), std::string::npos);
  EXPECT_LE(SanitizeFilePart(std::string(500, 'a'), false).size(), 48u);
  EXPECT_NE(SanitizeFilePart("my_db", false), "my_db");  // `_` separates owner parts
  EXPECT_EQ(SanitizeFilePart("a_b", true), "a_b");
  EXPECT_EQ(SanitizeFilePart("\xc3\xa9t\xc3\xa9", false).find('\xc3'), std::string::npos);
  const std::string name =
      internal::BackupFileName("drawing", "drawing-db", "../x\n", "20261130T000000000Z", "a+b");
  EXPECT_EQ(name.rfind("drawing_drawing-db_", 0), 0u) << name;
  EXPECT_EQ(name.find('/'), std::string::npos);
  EXPECT_EQ(name.find('\n'), std::string::npos);
  // One owner's prefix never matches another owner's files.
  EXPECT_NE(internal::BackupFileName("ns", "a.b", "d", "t", "").rfind(
                internal::BackupOwnerPrefix("ns", "a", "d"), 0),
            0u);
}

TEST(BackupFileNames, RetentionKeepsTheNewest) {
  std::vector<internal::BackupFile> files = {{"a", 1}, {"b", 5}, {"c", 3}, {"d", 4}};
  EXPECT_EQ(internal::BackupsBeyondRetention(files, 2), (std::vector<std::string>{"c", "a"}));
  EXPECT_TRUE(internal::BackupsBeyondRetention(files, 0).empty());
  EXPECT_TRUE(internal::BackupsBeyondRetention(files, 4).empty());
}

class BackupSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("backupsec"); }
  void TearDown() override { fs::remove_all(dir_); }

  MigratorOptions Options() {
    auto options = testing::EngineOptions(dir_, "test");
    options.backup_policy = BackupPolicy::kDowngrade;  // the default; these tests call Backup()
    return options;
  }

  std::string dir_;
};

using testing::ExecSql;

// Invariant: a backup is only created inside the backup directory.
TEST_F(BackupSecurityTest, HostileDatabaseNameStaysInsideTheBackupDirectory) {
  ExecSql(testing::HarnessUrl(), "DROP DATABASE IF EXISTS \"../../evil\" WITH (FORCE)");
  ExecSql(testing::HarnessUrl(), "CREATE DATABASE \"../../evil\"");
  const std::string url = testing::HarnessUrlFor("..%2F..%2Fevil");
  fs::create_directories(dir_ + "/a/b");
  auto options = Options();
  options.backup_dir = dir_ + "/a/b/backups";
  auto m = Migrator::Open(url, {}, options);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto backup = m.value()->Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  const fs::path real = fs::canonical(dir_ + "/a/b/backups");
  EXPECT_EQ(fs::path(backup->path).parent_path(), real) << backup->path;
  EXPECT_TRUE(fs::exists(backup->path));
  // Nothing was written anywhere else under the test directory.
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(entry.path().parent_path(), real) << entry.path();
    }
  }
  EXPECT_EQ(fs::path(backup->path).filename().string().find(".."), std::string::npos);
}

// Invariant: retention removes only this owner's older backups, and never
// follows or removes a symlink.
TEST_F(BackupSecurityTest, RetentionKeepsTheNewestOfThisOwnerOnly) {
  const std::string url = testing::CreateScratchDatabase("backupsec_retention");
  ExecSql(url, "CREATE TABLE items (id int); INSERT INTO items VALUES (1)");
  auto options = Options();
  options.backup_retention = 2;
  options.backup_owner_namespace = "drawing";
  options.backup_owner_name = "drawing-db";
  fs::create_directories(options.backup_dir);
  // Another SchemaMigration's backups and a symlink that looks like ours.
  std::ofstream(options.backup_dir + "/drawing_drawing-db2_db_old.dump") << "other owner";
  std::ofstream(dir_ + "/outside.dump") << "outside";
  fs::create_symlink(dir_ + "/outside.dump", options.backup_dir + "/drawing_drawing-db_link.dump");
  std::vector<std::string> paths;
  for (int i = 0; i < 4; ++i) {
    auto m = Migrator::Open(url, {}, options);
    ASSERT_TRUE(m.ok());
    auto backup = m.value()->Backup();
    ASSERT_TRUE(backup.ok()) << backup.status().ToString();
    paths.push_back(backup->path);
    std::this_thread::sleep_for(milliseconds(20));  // distinct modification times
  }
  EXPECT_FALSE(fs::exists(paths[0]));
  EXPECT_FALSE(fs::exists(paths[1]));
  EXPECT_TRUE(fs::exists(paths[2]));
  EXPECT_TRUE(fs::exists(paths[3]));
  EXPECT_TRUE(fs::exists(options.backup_dir + "/drawing_drawing-db2_db_old.dump"));
  EXPECT_TRUE(fs::is_symlink(options.backup_dir + "/drawing_drawing-db_link.dump"));
  EXPECT_TRUE(fs::exists(dir_ + "/outside.dump"));
}

// The argv and environment of every running process whose name is `name`.
std::vector<std::string> ProcessTexts(const std::string& name) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    std::getline(comm, command);
    if (command != name) {
      continue;
    }
    for (const char* file : {"cmdline", "environ"}) {
      out.push_back(testing::ReadTextFile((entry.path() / file).string()));
    }
  }
  return out;
}

// Waits until a process named `name` runs, then returns its argv+environ.
std::vector<std::string> CaptureWhileRunning(const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto texts = ProcessTexts(name);
    if (!texts.empty()) {
      return texts;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return {};
}

// Invariant: no secret libpq parameter is in a child's argv or environment.
TEST_F(BackupSecurityTest, NoSecretInTheArgvOrEnvironmentOfPgDumpAndPgRestore) {
  const std::string plain = testing::CreateScratchDatabase("backupsec_argv");
  ExecSql(plain, "CREATE TABLE items (id int); INSERT INTO items VALUES (1)");
  const std::string password = testing::PasswordOf(plain);
  const std::string ssl_secret = "ssl-key-passphrase-42";
  const std::string url = plain + "?sslmode=prefer&sslpassword=" + ssl_secret;
  auto m = Migrator::Open(url, {}, Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();

  // Hold the table so pg_dump waits for its lock long enough to be read.
  pqxx::connection holder(plain);
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
  core::Result<BackupInfo> backup = core::Status(core::Code::kInternal, "not run");
  std::thread dump([&] { backup = m.value()->Backup(); });
  auto dump_texts = CaptureWhileRunning("pg_dump");
  hold.abort();
  dump.join();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  ASSERT_FALSE(dump_texts.empty()) << "pg_dump was never seen running";
  for (const auto& text : dump_texts) {
    EXPECT_EQ(text.find(password), std::string::npos) << "pg_dump argv/environ has the password";
    EXPECT_EQ(text.find(ssl_secret), std::string::npos) << "pg_dump argv/environ has sslpassword";
  }

  pqxx::connection reader(plain);
  pqxx::work share(reader);
  share.exec("LOCK TABLE items IN ACCESS SHARE MODE");
  core::Status restored = core::Status(core::Code::kInternal, "not run");
  std::thread restore([&] { restored = m.value()->Restore(backup->path); });
  auto restore_texts = CaptureWhileRunning("pg_restore");
  share.abort();
  restore.join();
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  ASSERT_FALSE(restore_texts.empty()) << "pg_restore was never seen running";
  for (const auto& text : restore_texts) {
    EXPECT_EQ(text.find(password), std::string::npos) << "pg_restore argv/environ has the password";
    EXPECT_EQ(text.find(ssl_secret), std::string::npos) << "pg_restore argv/environ has sslpassword";
  }
}

}  // namespace
}  // namespace schemaop::database
