// libFuzzer entry point of one target; SCHEMAOP_FUZZ_TARGET names the body in
// fuzz_targets.h (set per executable by tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  schemaop::fuzz::SCHEMAOP_FUZZ_TARGET(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
