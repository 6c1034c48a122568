#include "core/status.h"

namespace schemaop::core {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "Ok";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kParseError:
      return "ParseError";
    case Code::kNotFound:
      return "NotFound";
    case Code::kDuplicateRevision:
      return "DuplicateRevision";
    case Code::kUnknownParent:
      return "UnknownParent";
    case Code::kCycleDetected:
      return "CycleDetected";
    case Code::kMultipleHeads:
      return "MultipleHeads";
    case Code::kMultipleBases:
      return "MultipleBases";
    case Code::kAmbiguousRevision:
      return "AmbiguousRevision";
    case Code::kUnknownRevision:
      return "UnknownRevision";
    case Code::kRangeError:
      return "RangeError";
    case Code::kUnreachable:
      return "Unreachable";
    case Code::kLockHeld:
      return "LockHeld";
    case Code::kChecksumMismatch:
      return "ChecksumMismatch";
    case Code::kMigrationFailed:
      return "MigrationFailed";
    case Code::kVerificationFailed:
      return "VerificationFailed";
    case Code::kBackupFailed:
      return "BackupFailed";
    case Code::kSchemaDrift:
      return "SchemaDrift";
    case Code::kMigrationsChanged:
      return "MigrationsChanged";
    case Code::kDowntimeExceeded:
      return "DowntimeExceeded";
    case Code::kAborted:
      return "Aborted";
    case Code::kConflict:
      return "Conflict";
    case Code::kHttpError:
      return "HttpError";
    case Code::kTimeout:
      return "Timeout";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) {
    return "Ok";
  }
  std::string out = CodeName(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  if (!detail_.empty()) {
    out += " [";
    out += detail_;
    out += "]";
  }
  return out;
}

}  // namespace schemaop::core
