#include "core/database_url.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace schemaop::core {
namespace {

constexpr const char* kRedacted = "***";

bool IsSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
}

bool IsSecretKey(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower == "password" || lower == "sslpassword";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// Position just after "scheme://", if `url` is a URL.
std::optional<std::size_t> AuthorityStart(std::string_view url) {
  const std::size_t marker = url.find("://");
  if (marker == std::string_view::npos || marker == 0) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < marker; ++i) {
    if (!IsSchemeChar(url[i])) {
      return std::nullopt;
    }
  }
  return marker + 3;
}

// The '@' ending the user info, or npos. A sloppy URL may carry an
// unencoded '@', '/' or '?' in the password, so take the last '@' that is
// not inside the query (after a '?' and a '='): over-redacting is the safe
// error.
std::size_t UserInfoEnd(std::string_view url, std::size_t start) {
  std::size_t at = std::string_view::npos;
  bool seen_question = false;
  for (std::size_t i = start; i < url.size(); ++i) {
    if (url[i] == '?') {
      seen_question = true;
    } else if (url[i] == '=' && seen_question) {
      break;
    } else if (url[i] == '@') {
      at = i;
    }
  }
  return at;
}

struct Span {
  std::size_t begin;
  std::size_t end;
};

// Where the values of secret keys are in `key=value` pairs separated by `&`
// (URL query) or whitespace (libpq conninfo, where values may be quoted with
// '...' and contain backslash escapes).
std::vector<Span> SecretValues(std::string_view text, bool url_query) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<Span> spans;
  std::size_t i = 0;
  while (i < text.size()) {
    // libpq starts the next keyword right after a closing quote, without a
    // space (`password='a'password=b` sends b; found by tests/fuzz).
    const bool at_key_start =
        i == 0 || (url_query ? (text[i - 1] == '&' || text[i - 1] == ';')
                             : (is_space(text[i - 1]) || text[i - 1] == '\''));
    if (!at_key_start || std::isalpha(static_cast<unsigned char>(text[i])) == 0) {
      ++i;
      continue;
    }
    std::size_t key_end = i;
    while (key_end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[key_end])) != 0 || text[key_end] == '_')) {
      ++key_end;
    }
    std::size_t eq = key_end;
    while (!url_query && eq < text.size() && is_space(text[eq])) {
      ++eq;
    }
    if (eq >= text.size() || text[eq] != '=' || !IsSecretKey(text.substr(i, key_end - i))) {
      i = key_end;
      continue;
    }
    std::size_t value = eq + 1;
    while (!url_query && value < text.size() && is_space(text[value])) {
      ++value;
    }
    std::size_t value_end = value;
    if (url_query) {
      // libpq splits URI parameters on '&' only: a '#' is part of the value
      // (sslpassword=#secret), not the start of a fragment.
      while (value_end < text.size() && text[value_end] != '&') {
        ++value_end;
      }
    } else if (value < text.size() && text[value] == '\'') {
      value_end = value + 1;
      while (value_end < text.size() && text[value_end] != '\'') {
        value_end += text[value_end] == '\\' ? 2 : 1;
      }
      value_end = std::min(value_end + 1, text.size());
    } else {
      while (value_end < text.size() && !is_space(text[value_end])) {
        value_end += text[value_end] == '\\' ? 2 : 1;
      }
      value_end = std::min(value_end, text.size());
    }
    spans.push_back(Span{value, value_end});
    i = value_end;
  }
  return spans;
}

std::string RedactPairs(std::string_view text, bool url_query) {
  std::string out;
  std::size_t copied = 0;
  for (const Span& span : SecretValues(text, url_query)) {
    out.append(text.substr(copied, span.begin - copied));
    out += kRedacted;
    copied = span.end;
  }
  out.append(text.substr(copied));
  return out;
}

// A secret value as the driver reads it: percent-decoded in a URL query,
// unquoted and unescaped in a libpq key=value string.
std::string PairValue(std::string_view raw, bool url_query) {
  if (url_query) {
    return PercentDecode(raw);
  }
  if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') {
    raw = raw.substr(1, raw.size() - 2);
  }
  std::string value;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\') {
      // libpq: a backslash takes the next character literally; a trailing
      // one takes nothing (`password=pw\` is the password "pw").
      if (++i == raw.size()) {
        break;
      }
    }
    value += raw[i];
  }
  return value;
}

std::vector<std::string> AllPairValues(std::string_view text, bool url_query) {
  std::vector<std::string> out;
  for (const Span& span : SecretValues(text, url_query)) {
    out.push_back(PairValue(text.substr(span.begin, span.end - span.begin), url_query));
  }
  return out;
}

// The first secret value, or nullopt.
std::optional<std::string> FindPairValue(std::string_view text, bool url_query) {
  std::vector<std::string> values = AllPairValues(text, url_query);
  if (values.empty()) {
    return std::nullopt;
  }
  return values.front();
}

}  // namespace

namespace {

// `url` is one whole URL (AuthorityStart(url) is set).
std::string RedactWholeUrl(std::string_view url, std::size_t authority) {
  std::string out(url.substr(0, authority));
  std::size_t rest = authority;
  const std::size_t at = UserInfoEnd(url, rest);
  if (at != std::string_view::npos) {
    const std::string_view user_info = url.substr(rest, at - rest);
    const std::size_t colon = user_info.find(':');
    if (colon == std::string_view::npos) {
      out.append(user_info);
    } else {
      out.append(user_info.substr(0, colon + 1));
      out += kRedacted;
    }
    rest = at;
  }
  const std::size_t query = url.find('?', rest);
  if (query == std::string_view::npos) {
    out.append(url.substr(rest));
    return out;
  }
  out.append(url.substr(rest, query + 1 - rest));
  out += RedactPairs(url.substr(query + 1), /*url_query=*/true);
  return out;
}

// Text that merely contains URLs (a driver message, a command line): each
// URL runs from its scheme to the next whitespace; the rest may hold
// key=value secrets.
std::string RedactEmbeddedUrls(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  std::size_t search = 0;
  for (;;) {
    const std::size_t marker = text.find("://", search);
    if (marker == std::string_view::npos) {
      break;
    }
    std::size_t scheme = marker;
    while (scheme > copied && IsSchemeChar(text[scheme - 1])) {
      --scheme;
    }
    while (scheme < marker && std::isalpha(static_cast<unsigned char>(text[scheme])) == 0) {
      ++scheme;
    }
    if (scheme == marker) {
      search = marker + 3;
      continue;
    }
    std::size_t end = marker + 3;
    while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end])) == 0 &&
           text[end] != '"' && text[end] != '\'' && text[end] != '>') {
      ++end;
    }
    out += RedactPairs(text.substr(copied, scheme - copied), /*url_query=*/false);
    out += RedactWholeUrl(text.substr(scheme, end - scheme), marker - scheme + 3);
    copied = end;
    search = end;
  }
  out += RedactPairs(text.substr(copied), /*url_query=*/false);
  return out;
}

}  // namespace

std::string RedactDatabaseUrl(std::string_view url) {
  const std::optional<std::size_t> authority = AuthorityStart(url);
  if (authority) {
    return RedactWholeUrl(url, *authority);
  }
  return RedactEmbeddedUrls(url);
}

std::string DatabaseUrlPassword(std::string_view url) {
  const std::optional<std::size_t> authority = AuthorityStart(url);
  if (!authority) {
    return FindPairValue(url, /*url_query=*/false).value_or("");
  }
  const std::size_t at = UserInfoEnd(url, *authority);
  if (at != std::string_view::npos) {
    const std::string_view user_info = url.substr(*authority, at - *authority);
    const std::size_t colon = user_info.find(':');
    if (colon != std::string_view::npos) {
      return PercentDecode(user_info.substr(colon + 1));
    }
  }
  const std::size_t query = url.find('?', at == std::string_view::npos ? *authority : at);
  if (query == std::string_view::npos) {
    return "";
  }
  return FindPairValue(url.substr(query + 1), /*url_query=*/true).value_or("");
}

std::string ScrubSecret(std::string text, std::string_view secret) {
  if (secret.empty()) {
    return text;
  }
  auto replace_all = [&text](std::string_view needle) {
    std::size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
      text.replace(pos, needle.size(), kRedacted);
      pos += 3;
    }
  };
  replace_all(secret);
  const std::string encoded = PercentEncode(secret);
  if (encoded != secret) {
    replace_all(encoded);
  }
  return text;
}

namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::vector<std::string> DatabaseUrlSecrets(std::string_view url) {
  std::vector<std::string> out;
  const std::optional<std::size_t> authority = AuthorityStart(url);
  if (!authority) {
    out = AllPairValues(url, /*url_query=*/false);
  } else {
    const std::size_t at = UserInfoEnd(url, *authority);
    if (at != std::string_view::npos) {
      const std::string_view user_info = url.substr(*authority, at - *authority);
      const std::size_t colon = user_info.find(':');
      if (colon != std::string_view::npos) {
        out.push_back(std::string(user_info.substr(colon + 1)));
        out.push_back(PercentDecode(user_info.substr(colon + 1)));
      }
    }
    // libpq reads the user info up to the FIRST '@' (or '/'), where
    // UserInfoEnd takes the last one: with several '@' (or a '?...=' before
    // the '@') libpq's password is another string, and it is a secret too
    // (found by tests/fuzz).
    const std::size_t libpq_end = url.find_first_of("@/", *authority);
    if (libpq_end != std::string_view::npos && url[libpq_end] == '@') {
      const std::string_view user_info = url.substr(*authority, libpq_end - *authority);
      const std::size_t colon = user_info.find(':');
      if (colon != std::string_view::npos) {
        out.push_back(std::string(user_info.substr(colon + 1)));
        out.push_back(PercentDecode(user_info.substr(colon + 1)));
      }
    }
    const std::size_t query = url.find('?', at == std::string_view::npos ? *authority : at);
    if (query != std::string_view::npos) {
      for (auto& value : AllPairValues(url.substr(query + 1), /*url_query=*/true)) {
        out.push_back(std::move(value));
      }
    }
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  std::vector<std::string> unique;
  for (std::string& secret : out) {
    if (std::find(unique.begin(), unique.end(), secret) == unique.end()) {
      unique.push_back(std::move(secret));
    }
  }
  return unique;
}

namespace {

// %XX decoded (libpq decodes a URL's parameter names and values).
std::string PercentDecoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool IsPlainDatabaseName(std::string_view name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The libpq key=value form: the span [begin, end) of each value of `key`
// (quoted values include their quotes); nullopt when the text does not
// parse as key=value pairs.
std::optional<std::vector<std::pair<std::size_t, std::size_t>>> KeywordValueSpans(
    std::string_view text, std::string_view wanted) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t i = 0;
  auto space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
  };
  for (space(); i < text.size(); space()) {
    const std::size_t key_start = i;
    while (i < text.size() && text[i] != '=' &&
           !std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    const std::string_view key = text.substr(key_start, i - key_start);
    space();
    if (key.empty() || i >= text.size() || text[i] != '=') {
      return std::nullopt;
    }
    ++i;
    space();
    const std::size_t value_start = i;
    if (i < text.size() && text[i] == '\'') {
      for (++i; i < text.size() && text[i] != '\''; ++i) {
        if (text[i] == '\\') {
          ++i;
        }
      }
      if (i >= text.size()) {
        return std::nullopt;  // unterminated quote
      }
      ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
        i += text[i] == '\\' ? 2 : 1;
      }
      i = std::min(i, text.size());
    }
    if (key == wanted) {
      spans.emplace_back(value_start, i);
    }
  }
  return spans;
}

}  // namespace

Result<std::string> WithDatabaseName(std::string_view url, std::string_view name) {
  if (!IsPlainDatabaseName(name)) {
    return Status(Code::kInvalidArgument, "a scratch database name must be 1 to 63 of [a-z0-9_]");
  }
  const std::size_t scheme_end = url.find("://");
  const std::size_t first_space = url.find_first_of(" \t\n");
  if (scheme_end != std::string_view::npos && scheme_end > 0 && scheme_end < first_space) {
    const std::size_t authority = scheme_end + 3;
    const std::size_t path = url.find_first_of("/?#", authority);
    if (path == authority) {
      return Status(Code::kInvalidArgument,
                    "the database URL names no host, so a copy on its server cannot be named");
    }
    std::size_t rest = path == std::string_view::npos ? url.size() : path;
    if (rest < url.size() && url[rest] == '/') {
      rest = url.find_first_of("?#", rest);
      rest = rest == std::string_view::npos ? url.size() : rest;
    }
    const std::string_view tail = url.substr(rest);
    if (url.find('#') != std::string_view::npos) {
      return Status(Code::kInvalidArgument,
                    "the database URL holds a '#', which libpq would take into the database "
                    "name; percent-encode it (%23)");
    }
    const std::size_t query = tail.find('?');
    if (query != std::string_view::npos) {
      std::string_view params = tail.substr(query + 1);
      params = params.substr(0, params.find('#'));
      for (std::size_t at = 0; at <= params.size();) {
        std::size_t amp = params.find('&', at);
        amp = amp == std::string_view::npos ? params.size() : amp;
        std::string_view param = params.substr(at, amp - at);
        if (PercentDecoded(param.substr(0, param.find('='))) == "dbname") {
          return Status(Code::kInvalidArgument,
                        "the database URL names its database in a dbname= parameter; name it "
                        "in the path (.../DATABASE) instead");
        }
        at = amp + 1;
      }
    }
    std::string out(url.substr(0, path == std::string_view::npos ? url.size() : path));
    out += "/";
    out += name;
    out += tail;
    return out;
  }
  auto spans = KeywordValueSpans(url, "dbname");
  if (!spans) {
    return Status(Code::kInvalidArgument,
                  "the database URL is neither a URL (postgresql://...) nor libpq key=value "
                  "pairs");
  }
  std::string out(url);
  if (spans->empty()) {
    return out + (out.empty() ? "" : " ") + "dbname=" + std::string(name);
  }
  for (auto it = spans->rbegin(); it != spans->rend(); ++it) {
    out.replace(it->first, it->second - it->first, name);
  }
  return out;
}

void SecretScrubber::AddDatabaseUrl(std::string_view url) {
  AddSecret(url);
  for (const std::string& secret : DatabaseUrlSecrets(url)) {
    AddSecret(secret);
  }
}

void SecretScrubber::AddSecret(std::string_view secret) {
  for (const std::string& form : {std::string(secret), PercentEncode(secret)}) {
    if (form.empty() || std::find(secrets_.begin(), secrets_.end(), form) != secrets_.end()) {
      continue;
    }
    secrets_.push_back(form);
  }
  // Longest first, so a URL is replaced whole before a password inside it.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretScrubber::Scrub(std::string text) const {
  text = RedactDatabaseUrl(text);
  // Masking one occurrence can make a neighbouring occurrence of a short
  // secret a whole token ("i'i'" for the password "i'", or a short secret
  // next to another one masked later), so repeat until nothing short was
  // masked (found by tests/fuzz). A round removes characters other than
  // '*', so this ends; a secret holding '*' is matched in the first round
  // only, as the mask itself could match it.
  for (bool first_round = true, again = true; again; first_round = false) {
    again = false;
    for (const std::string& secret : secrets_) {
      const bool short_secret = secret.size() < 4;
      const bool matches_mask = secret.find('*') != std::string::npos;
      if (matches_mask && !first_round) {
        continue;
      }
      std::size_t pos = 0;
      while ((pos = text.find(secret, pos)) != std::string::npos) {
        const std::size_t end = pos + secret.size();
        const bool whole_token = (pos == 0 || !IsWordChar(text[pos - 1])) &&
                                 (end >= text.size() || !IsWordChar(text[end]));
        if (short_secret && !whole_token) {
          // One character on, not past it: a whole-token occurrence may
          // overlap this one ("p:p" inside "app:p:p@", found by tests/fuzz).
          ++pos;
          continue;
        }
        text.replace(pos, secret.size(), kRedacted);
        pos += 3;
        again = again || (short_secret && !matches_mask);
      }
    }
  }
  return text;
}

}  // namespace schemaop::core
