#include "core/sql_splitter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Texts(std::string_view sql) {
  std::vector<std::string> texts;
  for (const SqlStatement& statement : SplitSqlStatements(sql)) {
    texts.push_back(statement.text);
  }
  return texts;
}

std::vector<int> Lines(std::string_view sql) {
  std::vector<int> lines;
  for (const SqlStatement& statement : SplitSqlStatements(sql)) {
    lines.push_back(statement.first_line);
  }
  return lines;
}

TEST(SqlSplitterTest, SplitsOnSemicolonsAndTrims) {
  EXPECT_THAT(Texts("  SELECT 1;\n\tSELECT 2 ;  SELECT 3"),
              ElementsAre("SELECT 1", "SELECT 2", "SELECT 3"));
}

TEST(SqlSplitterTest, EmptyInputAndEmptyStatementsGiveNothing) {
  EXPECT_TRUE(SplitSqlStatements("").empty());
  EXPECT_TRUE(SplitSqlStatements(" ;;\n ; ").empty());
  EXPECT_THAT(Texts(";;SELECT 1;;"), ElementsAre("SELECT 1"));
}

TEST(SqlSplitterTest, CommentOnlyStatementsAreDropped) {
  EXPECT_TRUE(SplitSqlStatements("-- only a comment\n/* and a block */\n").empty());
  EXPECT_THAT(Texts("SELECT 1;\n-- trailing comment\n"), ElementsAre("SELECT 1"));
  EXPECT_THAT(Texts("-- lead\nSELECT 1; /* x */ ;"), ElementsAre("SELECT 1"));
}

TEST(SqlSplitterTest, LeadingCommentIsNotPartOfTheStatement) {
  const auto statements = SplitSqlStatements("-- build index\nCREATE INDEX i ON t (c);");
  ASSERT_EQ(statements.size(), 1u);
  EXPECT_EQ(statements[0].text, "CREATE INDEX i ON t (c)");
  EXPECT_EQ(statements[0].first_line, 2);
}

TEST(SqlSplitterTest, SemicolonInsideSingleQuotesWithDoubledQuote) {
  EXPECT_THAT(Texts("INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT 2"),
              ElementsAre("INSERT INTO t VALUES ('a;b', 'it''s; fine')", "SELECT 2"));
}

TEST(SqlSplitterTest, EscapeStringsHonourBackslashes) {
  // In E'' strings \' is an escaped quote, so the ; stays inside.
  EXPECT_THAT(Texts(R"(SELECT E'a\';b'; SELECT e'\\'; SELECT 3)"),
              ElementsAre(R"(SELECT E'a\';b')", R"(SELECT e'\\')", "SELECT 3"));
}

TEST(SqlSplitterTest, BackslashIsLiteralInStandardStrings) {
  // standard_conforming_strings: 'a\' is a complete literal.
  EXPECT_THAT(Texts(R"(SELECT 'a\'; SELECT 2)"), ElementsAre(R"(SELECT 'a\')", "SELECT 2"));
}

TEST(SqlSplitterTest, IdentifierEndingInEIsNotAnEscapeString) {
  // `type'...'` would be a typed literal, not an E string: the backslash is
  // literal and the quote closes the string.
  EXPECT_THAT(Texts(R"(SELECT date'x\'; SELECT 2)"), ElementsAre(R"(SELECT date'x\')", "SELECT 2"));
}

TEST(SqlSplitterTest, DoubleQuotedIdentifiers) {
  EXPECT_THAT(Texts(R"(CREATE TABLE "we;ird""name" (id int); SELECT 1)"),
              ElementsAre(R"(CREATE TABLE "we;ird""name" (id int))", "SELECT 1"));
}

TEST(SqlSplitterTest, DollarQuotesWithAndWithoutTags) {
  const std::string function =
      "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql";
  const std::string tagged = "DO $body$ BEGIN PERFORM 'x;'; RAISE NOTICE $$inner;$$; END $body$";
  EXPECT_THAT(Texts(function + ";\n" + tagged + ";\nSELECT 3;"),
              ElementsAre(function, tagged, "SELECT 3"));
}

TEST(SqlSplitterTest, DollarParametersAreNotDollarQuotes) {
  EXPECT_THAT(Texts("PREPARE p AS SELECT $1, $2; SELECT 3"),
              ElementsAre("PREPARE p AS SELECT $1, $2", "SELECT 3"));
  // An identifier containing $ does not open a quote either.
  EXPECT_THAT(Texts("SELECT a$b$ FROM t; SELECT 4"), ElementsAre("SELECT a$b$ FROM t", "SELECT 4"));
}

TEST(SqlSplitterTest, SqlStandardRoutineBodiesKeepTheirSemicolons) {
  const std::string function =
      "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n"
      "BEGIN ATOMIC\n"
      "  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n"
      "  SELECT x + 1;\n"
      "END";
  const std::string procedure = "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END";
  EXPECT_THAT(Texts(function + ";\n" + procedure + ";\nSELECT 3;"),
              ElementsAre(function, procedure, "SELECT 3"));
  // BEGIN outside a routine definition is an ordinary statement.
  EXPECT_THAT(Texts("BEGIN; SELECT 1; END;"), ElementsAre("BEGIN", "SELECT 1", "END"));
  // A plpgsql body in dollar quotes has no bare BEGIN.
  EXPECT_THAT(Texts("CREATE FUNCTION g() RETURNS void AS $$BEGIN END$$ LANGUAGE plpgsql; SELECT 4"),
              ElementsAre("CREATE FUNCTION g() RETURNS void AS $$BEGIN END$$ LANGUAGE plpgsql",
                          "SELECT 4"));
}

// Like psql: a semicolon inside parentheses does not end the statement
// (a rule's action list), and a routine's parameter named `begin` opens no
// block. Transactional sections run statement by statement (design §4.11),
// so a split here must be the server's.
TEST(SqlSplitterTest, SemicolonsInsideParenthesesKeepTheStatement) {
  const std::string rule =
      "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); "
      "UPDATE counts SET n = n + 1)";
  EXPECT_THAT(Texts(rule + ";\nSELECT 2;"), ElementsAre(rule, "SELECT 2"));
  const std::string function = "CREATE FUNCTION f(begin int, \"end\" int) RETURNS int AS $$ SELECT 1 $$ "
                               "LANGUAGE sql";
  EXPECT_THAT(Texts(function + "; SELECT 3"), ElementsAre(function, "SELECT 3"));
  // A stray closing parenthesis does not hide later semicolons.
  EXPECT_THAT(Texts("SELECT 1); SELECT 2"), ElementsAre("SELECT 1)", "SELECT 2"));
}

TEST(SqlSplitterTest, LineCommentHidesSemicolon) {
  EXPECT_THAT(Texts("SELECT 1 -- not here; really\n, 2; SELECT 3"),
              ElementsAre("SELECT 1 -- not here; really\n, 2", "SELECT 3"));
}

TEST(SqlSplitterTest, NestedBlockComments) {
  EXPECT_THAT(Texts("SELECT /* a /* b; */ still comment; */ 1; SELECT 2"),
              ElementsAre("SELECT /* a /* b; */ still comment; */ 1", "SELECT 2"));
}

TEST(SqlSplitterTest, TrailingCommentAfterLastTokenIsDropped) {
  EXPECT_THAT(Texts("SELECT 1 -- done"), ElementsAre("SELECT 1"));
}

TEST(SqlSplitterTest, UnterminatedQuoteRunsToTheEnd) {
  EXPECT_THAT(Texts("SELECT 'abc; SELECT 2"), ElementsAre("SELECT 'abc; SELECT 2"));
}

TEST(SqlSplitterTest, FirstLineIsOneBasedAndCountsLinesInsideQuotes) {
  const std::string sql =
      "SELECT 1;\n"                   // line 1
      "\n"                            // line 2
      "SELECT 'multi\nline';\n"       // lines 3-4
      "/* c\n c */ SELECT $$\n$$;\n"  // lines 5-7
      "  SELECT 4";                   // line 8
  EXPECT_THAT(Lines(sql), ElementsAre(1, 3, 6, 8));
}

TEST(SqlSplitterTest, CrLfLineEndings) {
  EXPECT_THAT(Lines("SELECT 1;\r\nSELECT 2;\r\n"), ElementsAre(1, 2));
  EXPECT_THAT(Texts("SELECT 1;\r\nSELECT 2;\r\n"), ElementsAre("SELECT 1", "SELECT 2"));
}

TEST(SqlBareWordsTest, UppercasesWordsAndSkipsQuotedAndComments) {
  EXPECT_THAT(SqlBareWords("create /* concurrently */ index -- concurrently\n"
                           "\"CONCURRENTLY\" on t ('concurrently', $$concurrently$$, 42)"),
              ElementsAre("CREATE", "INDEX", "ON", "T"));
}

}  // namespace
}  // namespace schemaop::core
