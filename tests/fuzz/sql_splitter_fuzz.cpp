// core::SplitSqlStatements and core::SqlBareWords on any text. Properties:
// every statement is non-empty, trimmed (but for an unterminated last one), a verbatim part of the input, starts
// on a line of the input (lines never go back), and splitting one statement
// again gives exactly that statement (it holds no top-level semicolon);
// bare words are non-empty and upper-case.
#include <algorithm>
#include <cctype>
#include <string>

#include "core/sql_splitter.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {

void SqlSplitter(std::string_view input) {
  const auto statements = core::SplitSqlStatements(input);
  const int lines = 1 + static_cast<int>(std::count(input.begin(), input.end(), '\n'));
  int previous_line = 1;
  for (const core::SqlStatement& statement : statements) {
    const std::string& text = statement.text;
    SCHEMAOP_FUZZ_CHECK(!text.empty(), "empty statement");
    SCHEMAOP_FUZZ_CHECK(std::isspace(static_cast<unsigned char>(text.front())) == 0,
                        "statement starts with a space [" + text + "]");
    // Only the last statement can end in whitespace: inside a quote or
    // comment left open at the end of the input (found by this target).
    SCHEMAOP_FUZZ_CHECK(std::isspace(static_cast<unsigned char>(text.back())) == 0 ||
                            &statement == &statements.back(),
                        "untrimmed statement [" + text + "]");
    SCHEMAOP_FUZZ_CHECK(input.find(text) != std::string_view::npos,
                        "statement not in the input [" + text + "]");
    SCHEMAOP_FUZZ_CHECK(statement.first_line >= previous_line && statement.first_line <= lines,
                        "first_line " + std::to_string(statement.first_line) + " after " +
                            std::to_string(previous_line) + " of " + std::to_string(lines));
    previous_line = statement.first_line;
    const auto again = core::SplitSqlStatements(text);
    SCHEMAOP_FUZZ_CHECK(again.size() == 1 && again[0].text == text && again[0].first_line == 1,
                        "statement [" + text + "] splits again into " +
                            std::to_string(again.size()) + " statements");
  }
  for (const std::string& word : core::SqlBareWords(input)) {
    SCHEMAOP_FUZZ_CHECK(!word.empty(), "empty bare word");
    for (char c : word) {
      SCHEMAOP_FUZZ_CHECK(std::islower(static_cast<unsigned char>(c)) == 0,
                          "bare word not upper-case: " + word);
    }
  }
}

}  // namespace schemaop::fuzz
