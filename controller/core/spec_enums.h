#pragma once
// The enum-valued settings a user writes, each with ONE table of spellings
// shared by the SchemaMigration resource (CRD, JSON, ValidateSpec) and the
// `schemaop` command line:
//
//   setting          CRD field              CLI                       values
//   BackupWhen       spec.backup.when       --backup                  Downgrade, Always, Never
//   FailurePolicy    spec.failurePolicy     -                         Rollback, Halt
//   VerifyRowCounts  spec.verify.rowCounts  (--allow-row-loss TABLE)  Preserve, Off
//   VerifySchema     spec.verify.schema     (--allow-schema-drift)    Enforce, Ignore
//   Approval         spec.approval          -                         Automatic, Manual
//
// The table's spelling is canonical: the CRD's enum and JSON use exactly it
// (case-sensitive, as Kubernetes does); the CLI accepts it in any case
// (`--backup always`, `--backup Always`). Header-only, no I/O.
#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace schemaop::core {

enum class BackupWhen { kDowngrade, kAlways, kNever };
enum class FailurePolicy { kRollback, kHalt };
enum class VerifyRowCounts { kPreserve, kOff };
enum class VerifySchema { kEnforce, kIgnore };
enum class Approval { kAutomatic, kManual };

template <typename E>
struct EnumSpelling {
  E value;
  const char* name;
};

// In the order the values are listed to users; the first is the default.
inline constexpr EnumSpelling<BackupWhen> kBackupWhenNames[] = {
    {BackupWhen::kDowngrade, "Downgrade"},
    {BackupWhen::kAlways, "Always"},
    {BackupWhen::kNever, "Never"},
};
inline constexpr EnumSpelling<FailurePolicy> kFailurePolicyNames[] = {
    {FailurePolicy::kRollback, "Rollback"},
    {FailurePolicy::kHalt, "Halt"},
};
inline constexpr EnumSpelling<VerifyRowCounts> kVerifyRowCountsNames[] = {
    {VerifyRowCounts::kPreserve, "Preserve"},
    {VerifyRowCounts::kOff, "Off"},
};
inline constexpr EnumSpelling<VerifySchema> kVerifySchemaNames[] = {
    {VerifySchema::kEnforce, "Enforce"},
    {VerifySchema::kIgnore, "Ignore"},
};
inline constexpr EnumSpelling<Approval> kApprovalNames[] = {
    {Approval::kAutomatic, "Automatic"},
    {Approval::kManual, "Manual"},
};

enum class Case { kExact, kIgnore };

inline bool SpellingEquals(std::string_view a, std::string_view b, Case letter_case) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (letter_case == Case::kIgnore) {
      x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
      y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y - 'A' + 'a') : y;
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

// The value spelled `text`: exactly as in the table (the CRD), or in any
// case (the CLI). nullopt when no value is spelled so.
template <typename E, std::size_t N>
std::optional<E> ParseEnum(const EnumSpelling<E> (&table)[N], std::string_view text,
                           Case letter_case = Case::kExact) {
  const auto* found = std::find_if(std::begin(table), std::end(table), [&](const auto& entry) {
    return SpellingEquals(entry.name, text, letter_case);
  });
  return found == std::end(table) ? std::nullopt : std::optional<E>(found->value);
}

// The canonical spelling of `value`.
template <typename E, std::size_t N>
const char* EnumName(const EnumSpelling<E> (&table)[N], E value) {
  const auto* found = std::find_if(std::begin(table), std::end(table),
                                   [value](const auto& entry) { return entry.value == value; });
  return found == std::end(table) ? table[0].name : found->name;
}

// "Downgrade, Always or Never": the values for an error message.
template <typename E, std::size_t N>
std::string EnumChoices(const EnumSpelling<E> (&table)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    out += (i == 0 ? "" : (i + 1 == N ? " or " : ", "));
    out += table[i].name;
  }
  return out;
}

}  // namespace schemaop::core
