#pragma once
// Errors are values in the core (conventions §8): a Status is cheap when OK,
// carries a typed code that callers branch on, and a message meant for users
// (it names the problem and, where there is one, the fix). Adapters translate
// library exceptions into a Status at their boundary and keep the SQLSTATE or
// HTTP code in `detail`.
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace schemaop::core {

enum class Code {
  kOk = 0,
  // Input and configuration.
  kInvalidArgument,  // malformed input (file, flag, resource field)
  kParseError,       // a migration file could not be parsed
  kNotFound,         // a file, directory, Secret, ConfigMap, workload
  // Revision graph (Alembic's typed errors).
  kDuplicateRevision,
  kUnknownParent,
  kCycleDetected,
  kMultipleHeads,
  kMultipleBases,
  kAmbiguousRevision,
  kUnknownRevision,
  kRangeError,  // a relative target (+N / -N) goes past a head or base
  // Database.
  kUnreachable,       // cannot connect (host down, wrong password, TLS)
  kLockHeld,          // another run holds the migration lock
  kChecksumMismatch,  // an applied file changed
  kMigrationFailed,   // a statement failed
  kVerificationFailed,
  kBackupFailed,
  kSchemaDrift,         // the live schema differs from the one recorded for its revision
  kMigrationsChanged,   // the plan recorded at planning no longer matches files or database
  // A run cancelled before it committed (design §4.7 "Cancelling a run"):
  // writers at zero longer than spec.maxDowntimeSeconds / --max-duration,
  // or the schemaop.dev/abort annotation.
  kDowntimeExceeded,
  kAborted,
  // Kubernetes.
  kConflict,  // 409 / stale resourceVersion
  kHttpError,
  kTimeout,
  kInternal,
};

// Stable CamelCase name of a code, for logs and condition reasons.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string detail = {})
      : code_(code), message_(std::move(message)), detail_(std::move(detail)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Machine detail: SQLSTATE, HTTP status, API reason. Never a secret.
  const std::string& detail() const { return detail_; }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string detail_;
};

// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose: `return value;` and `return status;` both work.
  // cppcheck-suppress noExplicitConstructor
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // cppcheck-suppress noExplicitConstructor
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;  // OK when value_ is set
};

}  // namespace schemaop::core
