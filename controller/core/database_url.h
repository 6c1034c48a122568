#pragma once
// Connection strings carry passwords; every message, log line and status
// field that shows one goes through RedactDatabaseUrl first.
#include <string>
#include <string_view>

namespace schemaop::core {

// postgresql://user:secret@host/db?password=x -> postgresql://user:***@host/db?password=***
// Also handles libpq key=value strings (password=secret -> password=***).
std::string RedactDatabaseUrl(std::string_view url);

// Replaces every occurrence of `secret` (when non-empty) in `text` with ***.
// Used on driver error messages, which may echo parts of the URL.
std::string ScrubSecret(std::string text, std::string_view secret);

}  // namespace schemaop::core
