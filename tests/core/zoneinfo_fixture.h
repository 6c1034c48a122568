#pragma once
// Test helper: a zone of the system tzdata (/usr/share/zoneinfo, Debian
// package tzdata, installed by scripts/setup), read as the controller reads
// it (manager::LoadSystemTimeZone). A missing or unreadable zone fails the
// test that asked for it (no silent skip) and yields UTC.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/time_zone.h"

namespace schemaop::core::testing {

inline std::string ReadZoneFile(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

inline Result<TimeZone> LoadZone(const std::string& name) {
  if (CheckZoneName(name)) {
    return Status(Code::kInvalidArgument, "bad zone name");
  }
  const std::string bytes = ReadZoneFile(name);
  if (bytes.empty()) {
    return Status(Code::kNotFound, "no such zone in /usr/share/zoneinfo (the tzdata package)");
  }
  return TimeZone::FromTzif(name, bytes);
}

inline TimeZone SystemZone(const std::string& name) {
  auto zone = LoadZone(name);
  if (!zone.ok()) {
    ADD_FAILURE() << "/usr/share/zoneinfo/" << name << ": " << zone.status().ToString()
                  << " (install the tzdata package: scripts/setup does)";
    return TimeZone::Fixed(name, 0);
  }
  return zone.value();
}

}  // namespace schemaop::core::testing
