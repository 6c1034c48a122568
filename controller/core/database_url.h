#pragma once
// Connection strings carry passwords; every message, log line and status
// field that shows one goes through RedactDatabaseUrl first.
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

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

// Every secret a connection string carries: the user-info password and each
// password / sslpassword given as a query parameter or libpq keyword (quotes
// and escapes removed, percent-decoded). Empty values are left out.
std::vector<std::string> DatabaseUrlSecrets(std::string_view url);

// Removes secrets from text bound for a status, an Event, a log line or an
// error. Two passes: structural (RedactDatabaseUrl: a URL's password and
// every password=/sslpassword= value, quoted, escaped or percent-encoded,
// whatever its length), then every known secret value (raw and
// percent-encoded): anywhere when it has 4 or more characters, and as a
// whole token (not inside a longer word) when shorter, so a 1-character
// password is still found without mangling every message.
// Not thread-safe; copy it per thread.
// `url` with only its database name replaced by `name`, for a Job that must
// reach a scratch copy on the same server with the same credentials (design
// §10.9). A URL (any scheme://, e.g. postgresql+psycopg2://) gets the path
// "/name", its user, password, hosts, port and parameters kept byte for
// byte; a libpq key=value string gets dbname=name, replaced or appended.
// A dbname given as a URL parameter (?dbname=) is refused, as it would win.
// kInvalidArgument, naming neither the URL nor its parts (it is a secret),
// when `name` is not [a-z0-9_]{1,63} or the text is neither form.
Result<std::string> WithDatabaseName(std::string_view url, std::string_view name);

class SecretScrubber {
 public:
  // The URL itself and every secret in it.
  void AddDatabaseUrl(std::string_view url);
  void AddSecret(std::string_view secret);
  std::string Scrub(std::string text) const;
  bool empty() const { return secrets_.empty(); }

 private:
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace schemaop::core
