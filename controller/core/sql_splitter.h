#pragma once
// Splits a SQL script into statements for `transaction:false` sections, which
// run one statement at a time in autocommit. Aware of single quotes (with ''
// escapes), E'' strings (backslash escapes), double-quoted identifiers,
// dollar quotes with optional tags ($$, $fn$), `--` line comments and nested
// /* */ block comments. Statements are returned trimmed, without the final
// semicolon; empty statements and comment-only statements are dropped.
#include <string>
#include <string_view>
#include <vector>

namespace schemaop::core {

struct SqlStatement {
  std::string text;
  int first_line = 0;  // 1-based line in the input where the statement starts
};

std::vector<SqlStatement> SplitSqlStatements(std::string_view sql);

// The unquoted words of `sql` (keywords and bare identifiers), upper-cased, in
// order; string literals, quoted identifiers, dollar-quoted bodies, comments,
// numbers and punctuation are skipped. Lets callers recognise statement shapes
// such as CREATE INDEX CONCURRENTLY without being fooled by comments or strings.
std::vector<std::string> SqlBareWords(std::string_view sql);

}  // namespace schemaop::core
