#include "manager/time_zones.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace schemaop::manager {
namespace {

// A TZif file is a few KiB; anything far larger is not one.
constexpr std::uintmax_t kMaxZoneFileBytes = 1 << 20;

}  // namespace

core::Result<core::TimeZone> LoadSystemTimeZone(const std::string& name) {
  if (auto bad = core::CheckZoneName(name)) {
    return core::Status(core::Code::kInvalidArgument, "time zone \"" + name + "\": " + *bad);
  }
  const char* tzdir = std::getenv("TZDIR");
  const std::filesystem::path dir =
      tzdir != nullptr && tzdir[0] == '/' ? tzdir : "/usr/share/zoneinfo";
  const std::filesystem::path file = dir / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec) ||
      std::filesystem::file_size(file, ec) > kMaxZoneFileBytes || ec) {
    return core::Status(core::Code::kNotFound,
                        "no such zone in " + dir.string() + " (the tzdata package)");
  }
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return core::Status(core::Code::kNotFound, "cannot read " + file.string());
  }
  return core::TimeZone::FromTzif(name, bytes);
}

}  // namespace schemaop::manager
