#include "core/sql_splitter.h"

#include <cctype>
#include <cstddef>

namespace schemaop::core {
namespace {

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool IsIdentChar(char c) {
  return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}

// One lexical pass over SQL, shared by the splitter and the word scanner, so
// that both agree on what is quoted and what is a comment.
class Lexer {
 public:
  enum class Kind { kWord, kOther, kQuoted, kComment, kSpace, kSemicolon, kEnd };
  struct Token {
    Kind kind = Kind::kEnd;
    std::size_t begin = 0;
    std::size_t end = 0;
    int line = 1;  // line of the first character
  };

  explicit Lexer(std::string_view sql) : sql_(sql) {}

  Token Next() {
    Token token;
    token.begin = pos_;
    token.line = line_;
    if (pos_ >= sql_.size()) {
      token.kind = Kind::kEnd;
      token.end = pos_;
      return token;
    }
    const char c = sql_[pos_];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      while (pos_ < sql_.size() && std::isspace(static_cast<unsigned char>(sql_[pos_])) != 0) {
        Advance();
      }
      token.kind = Kind::kSpace;
    } else if (c == ';') {
      Advance();
      token.kind = Kind::kSemicolon;
    } else if (c == '-' && Peek(1) == '-') {
      while (pos_ < sql_.size() && sql_[pos_] != '\n') {
        Advance();
      }
      token.kind = Kind::kComment;
    } else if (c == '/' && Peek(1) == '*') {
      SkipBlockComment();
      token.kind = Kind::kComment;
    } else if (c == '\'') {
      SkipQuoted('\'', /*backslash_escapes=*/false);
      token.kind = Kind::kQuoted;
    } else if (c == '"') {
      SkipQuoted('"', /*backslash_escapes=*/false);
      token.kind = Kind::kQuoted;
    } else if ((c == 'E' || c == 'e') && Peek(1) == '\'' && !PrecededByIdentChar()) {
      Advance();
      SkipQuoted('\'', /*backslash_escapes=*/true);
      token.kind = Kind::kQuoted;
    } else if (c == '$' && !PrecededByIdentChar() && DollarTagLength() > 0) {
      SkipDollarQuoted();
      token.kind = Kind::kQuoted;
    } else if (IsIdentStart(c)) {
      while (pos_ < sql_.size() && IsIdentChar(sql_[pos_])) {
        Advance();
      }
      token.kind = Kind::kWord;
    } else {
      // Numbers, operators, punctuation, `$1` parameters: one char at a time
      // is enough, nothing here can hide a semicolon.
      Advance();
      if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
        while (pos_ < sql_.size() && (std::isalnum(static_cast<unsigned char>(sql_[pos_])) != 0 ||
                                      sql_[pos_] == '.' || sql_[pos_] == '_')) {
          Advance();
        }
      }
      token.kind = Kind::kOther;
    }
    token.end = pos_;
    return token;
  }

 private:
  char Peek(std::size_t ahead) const {
    return pos_ + ahead < sql_.size() ? sql_[pos_ + ahead] : '\0';
  }

  void Advance() {
    if (sql_[pos_] == '\n') {
      ++line_;
    }
    ++pos_;
  }

  bool PrecededByIdentChar() const { return pos_ > 0 && IsIdentChar(sql_[pos_ - 1]); }

  // Length of the `$tag$` opener at pos_, or 0 when there is none ($1, $x).
  std::size_t DollarTagLength() const {
    std::size_t i = pos_ + 1;
    if (i < sql_.size() && sql_[i] == '$') {
      return 2;
    }
    if (i >= sql_.size() || !IsIdentStart(sql_[i])) {
      return 0;
    }
    while (i < sql_.size() && IsIdentChar(sql_[i]) && sql_[i] != '$') {
      ++i;
    }
    if (i < sql_.size() && sql_[i] == '$') {
      return i - pos_ + 1;
    }
    return 0;
  }

  void SkipDollarQuoted() {
    const std::size_t tag_length = DollarTagLength();
    const std::string_view tag = sql_.substr(pos_, tag_length);
    for (std::size_t i = 0; i < tag_length; ++i) {
      Advance();
    }
    while (pos_ < sql_.size()) {
      if (sql_.compare(pos_, tag_length, tag) == 0) {
        for (std::size_t i = 0; i < tag_length; ++i) {
          Advance();
        }
        return;
      }
      Advance();
    }
  }

  void SkipQuoted(char quote, bool backslash_escapes) {
    Advance();  // opening quote
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (backslash_escapes && c == '\\') {
        Advance();
        if (pos_ < sql_.size()) {
          Advance();
        }
        continue;
      }
      Advance();
      if (c == quote) {
        if (pos_ < sql_.size() && sql_[pos_] == quote) {
          Advance();  // doubled quote is an escaped quote
          continue;
        }
        return;
      }
    }
  }

  void SkipBlockComment() {
    int depth = 0;
    while (pos_ < sql_.size()) {
      if (sql_[pos_] == '/' && Peek(1) == '*') {
        ++depth;
        Advance();
        Advance();
      } else if (sql_[pos_] == '*' && Peek(1) == '/') {
        --depth;
        Advance();
        Advance();
        if (depth == 0) {
          return;
        }
      } else {
        Advance();
      }
    }
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<SqlStatement> SplitSqlStatements(std::string_view sql) {
  std::vector<SqlStatement> statements;
  Lexer lexer(sql);
  bool in_statement = false;
  std::size_t begin = 0;
  std::size_t end = 0;  // just past the last non-comment, non-space token
  int first_line = 0;
  // SQL-standard routine bodies (CREATE FUNCTION ... BEGIN ATOMIC ...; END)
  // and parenthesised rule actions (CREATE RULE ... DO (stmt; stmt))
  // contain unquoted semicolons; like psql, count parentheses, and
  // BEGIN/CASE ... END outside parentheses of CREATE FUNCTION / PROCEDURE,
  // and split only at depth 0.
  std::vector<std::string> leading_words;
  bool routine = false;
  int block_depth = 0;
  int paren_depth = 0;
  auto flush = [&] {
    if (in_statement) {
      statements.push_back(SqlStatement{std::string(sql.substr(begin, end - begin)), first_line});
    }
    in_statement = false;
    leading_words.clear();
    routine = false;
    block_depth = 0;
    paren_depth = 0;
  };
  for (;;) {
    const Lexer::Token token = lexer.Next();
    if (token.kind == Lexer::Kind::kEnd) {
      break;
    }
    if (token.kind == Lexer::Kind::kSemicolon && block_depth == 0 && paren_depth == 0) {
      flush();
      continue;
    }
    if (token.kind == Lexer::Kind::kSpace || token.kind == Lexer::Kind::kComment) {
      continue;
    }
    if (!in_statement) {
      in_statement = true;
      begin = token.begin;
      first_line = token.line;
    }
    end = token.end;
    if (token.kind == Lexer::Kind::kOther && token.end == token.begin + 1) {
      const char c = sql[token.begin];
      if (c == '(') {
        ++paren_depth;
      } else if (c == ')' && paren_depth > 0) {
        --paren_depth;
      }
    }
    if (token.kind != Lexer::Kind::kWord) {
      continue;
    }
    std::string word(sql.substr(token.begin, token.end - token.begin));
    for (char& c : word) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (leading_words.size() < 4) {
      leading_words.push_back(word);
      routine = routine ||
                (leading_words.front() == "CREATE" && (word == "FUNCTION" || word == "PROCEDURE"));
    }
    if (!routine || paren_depth > 0) {
      continue;
    }
    if (word == "BEGIN" || (word == "CASE" && block_depth > 0)) {
      ++block_depth;
    } else if (word == "END" && block_depth > 0) {
      --block_depth;
    }
  }
  flush();
  return statements;
}

std::vector<std::string> SqlBareWords(std::string_view sql) {
  std::vector<std::string> words;
  Lexer lexer(sql);
  for (;;) {
    const Lexer::Token token = lexer.Next();
    if (token.kind == Lexer::Kind::kEnd) {
      break;
    }
    if (token.kind != Lexer::Kind::kWord) {
      continue;
    }
    std::string word(sql.substr(token.begin, token.end - token.begin));
    for (char& c : word) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace schemaop::core
