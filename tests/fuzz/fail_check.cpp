#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.h"

namespace schemaop::fuzz {

void FailCheck(const char* condition, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace schemaop::fuzz
