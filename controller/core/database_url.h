#pragma once
// Connection strings carry passwords; every message, log line and status
// field that shows one goes through RedactDatabaseUrl first.
#include <string>
#include <string_view>

namespace schemaop::core {

// postgresql://user:secret@host/db?password=x -> postgresql://user:***@host/db?password=***
// Any scheme (postgres://, postgresql+psycopg2://, ...) is treated alike.
// Also handles libpq key=value strings (password=secret -> password=***,
// password='sec ret' -> password=***); sslpassword is redacted too.
// Text that only contains URLs (e.g. "cannot connect to postgresql://u:p@h/db")
// has each embedded URL redacted.
std::string RedactDatabaseUrl(std::string_view url);

// Replaces every occurrence of `secret` (when non-empty) in `text` with ***.
// Used on driver error messages, which may echo parts of the URL.
// Also replaces the percent-encoded form of `secret`, as it appears in URLs.
std::string ScrubSecret(std::string text, std::string_view secret);

// The password in a URL (user:password@, percent-decoded, or ?password=) or a
// libpq key=value string (password=...), or "" when there is none. Adapters
// pass it to ScrubSecret before a driver message leaves them.
std::string DatabaseUrlPassword(std::string_view url);

}  // namespace schemaop::core
