#pragma once
// The bodies of the libFuzzer targets (one per parser), shared by the
// libFuzzer executables (libfuzzer_main.cpp, built with clang and
// SCHEMAOP_FUZZ) and by fuzz_replay_test, which replays the seed corpora and
// every regression input in the ordinary unit tier. Each body takes any bytes,
// must not crash, throw or trip a sanitizer, and checks the target's
// properties with SCHEMAOP_FUZZ_CHECK, which aborts with a message so that
// libFuzzer saves the input.
#include <string>
#include <string_view>

namespace schemaop::fuzz {

[[noreturn]] void FailCheck(const char* condition, const char* file, int line,
                            const std::string& detail);

void MigrationFile(std::string_view input);
void SqlSplitter(std::string_view input);
void DatabaseUrl(std::string_view input);
void Kubeconfig(std::string_view input);
void Duration(std::string_view input);
void SchemaMigrationJson(std::string_view input);
void Cron(std::string_view input);
void Tzif(std::string_view input);

}  // namespace schemaop::fuzz

#define SCHEMAOP_FUZZ_CHECK(condition, detail)                                   \
  do {                                                                           \
    if (!(condition)) {                                                          \
      ::schemaop::fuzz::FailCheck(#condition, __FILE__, __LINE__, (detail));     \
    }                                                                            \
  } while (false)
