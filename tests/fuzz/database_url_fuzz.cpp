// core::RedactDatabaseUrl, DatabaseUrlPassword, DatabaseUrlSecrets and
// SecretScrubber on any text taken as a connection string (URL or libpq
// key=value). The oracle for "the secrets of this string" is libpq itself:
// PQconninfoParse gives the password and sslpassword libpq would send. The
// property (issue 8): after a SecretScrubber that was given the string scrubs
// a text carrying it (alone, inside a driver message, quoted), none of those
// secrets survives — a secret of 4 or more characters nowhere, a shorter one
// not as a whole token (the scrubber's documented contract). Secrets made
// only of punctuation, or holding '*', are not checked: the mask `***` itself
// would contain them.
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "core/database_url.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {
namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool Checkable(const std::string& secret) {
  return !secret.empty() && secret.find('*') == std::string::npos &&
         std::any_of(secret.begin(), secret.end(), IsWordChar);
}

// Where `secret` is still readable in `text`, or npos.
std::size_t Survivor(const std::string& text, const std::string& secret) {
  if (secret.size() >= 4) {
    return text.find(secret);
  }
  for (std::size_t pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos + 1)) {
    const std::size_t end = pos + secret.size();
    if ((pos == 0 || !IsWordChar(text[pos - 1])) && (end >= text.size() || !IsWordChar(text[end]))) {
      return pos;
    }
  }
  return std::string::npos;
}

// The secret keywords libpq parses out of `conninfo`, when it accepts it.
std::vector<std::string> LibpqSecrets(const std::string& conninfo) {
  std::vector<std::string> secrets;
  if (conninfo.find('\0') != std::string::npos) {
    return secrets;
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return secrets;
  }
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    const std::string keyword = option->keyword;
    if ((keyword == "password" || keyword == "sslpassword") && option->val != nullptr &&
        option->val[0] != '\0') {
      secrets.emplace_back(option->val);
    }
  }
  PQconninfoFree(options);
  return secrets;
}

}  // namespace

void DatabaseUrl(std::string_view input) {
  const std::string url(input);
  const std::vector<std::string> declared = core::DatabaseUrlSecrets(url);
  const std::string password = core::DatabaseUrlPassword(url);
  SCHEMAOP_FUZZ_CHECK(password.empty() ||
                          std::find(declared.begin(), declared.end(), password) != declared.end(),
                      "DatabaseUrlPassword '" + password + "' not among DatabaseUrlSecrets");
  // Not asserted: RedactDatabaseUrl(RedactDatabaseUrl(x)) == ... — a value
  // that libpq would reject ('a'\b ...) is masked further on a second pass,
  // which is harmless (the fuzzer found it).
  const std::string redacted = core::RedactDatabaseUrl(url);

  std::vector<std::string> secrets = LibpqSecrets(url);
  secrets.insert(secrets.end(), declared.begin(), declared.end());
  core::SecretScrubber scrubber;
  scrubber.AddDatabaseUrl(url);
  for (const std::string& text :
       {url, "could not connect to " + url + ": connection refused\n", "\"" + url + "\"",
        redacted}) {
    const std::string scrubbed = scrubber.Scrub(text);
    for (const std::string& secret : secrets) {
      if (!Checkable(secret)) {
        continue;
      }
      const std::size_t at = Survivor(scrubbed, secret);
      SCHEMAOP_FUZZ_CHECK(at == std::string::npos,
                          "secret [" + secret + "] of [" + url + "] survives at " +
                              std::to_string(at) + " in [" + scrubbed + "]");
    }
  }
}

}  // namespace schemaop::fuzz
