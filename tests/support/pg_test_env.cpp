#include "support/pg_test_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <stdexcept>

namespace schemaop::testing {
namespace {

std::map<std::string, std::string> ReadState() {
  const char* path = std::getenv("SCHEMAOP_PG_STATE");
  if (path == nullptr) {
    throw std::runtime_error("SCHEMAOP_PG_STATE is not set: run this test through ctest");
  }
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(std::string("no PostgreSQL harness state at ") + path);
  }
  std::map<std::string, std::string> state;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      state[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return state;
}

std::string WithDatabase(const std::string& url, const std::string& name) {
  auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + name;
}

}  // namespace

std::string HarnessUrl() { return ReadState().at("PGHARNESS_URL"); }

std::string SuperuserUrlFor(const std::string& name) { return WithDatabase(HarnessUrl(), name); }

std::string HarnessUrlFor(const std::string& name) {
  return WithDatabase(ReadState().at("PGHARNESS_OWNER_URL"), name);
}

std::string OwnerRole() { return ReadState().at("PGHARNESS_OWNER"); }
std::string OwnerPassword() { return ReadState().at("PGHARNESS_OWNER_PASSWORD"); }

std::string CreateScratchDatabase(const std::string& name) {
  pqxx::connection conn(HarnessUrl());
  pqxx::nontransaction tx(conn);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
  tx.exec("CREATE DATABASE " + tx.quote_name(name) + " OWNER " + tx.quote_name(OwnerRole()));
  return HarnessUrlFor(name);
}

std::string HarnessCaFile() { return ReadState().at("PGHARNESS_CA"); }
std::string HarnessWrongCaFile() { return ReadState().at("PGHARNESS_WRONG_CA"); }

std::string HarnessBinDir() { return ReadState().at("PGHARNESS_BIN"); }

std::string SourceDir() {
  const char* dir = std::getenv("SCHEMAOP_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

}  // namespace schemaop::testing
