#include "core/version_table.h"

namespace schemaop::core {

bool IsVersionLayout(std::string_view layout) {
  return layout == kVersionLayoutAlembic || layout == kVersionLayoutGolangMigrate;
}

bool IsGolangMigrateVersion(std::string_view version) {
  if (version.empty() || version.size() > 18 || (version.size() > 1 && version.front() == '0')) {
    return false;
  }
  for (char c : version) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

std::optional<int> CompareGolangMigrateVersions(std::string_view a, std::string_view b) {
  if (!IsGolangMigrateVersion(a) || !IsGolangMigrateVersion(b)) {
    return std::nullopt;
  }
  // Without leading zeros, a longer number is the larger one.
  if (a.size() != b.size()) {
    return a.size() < b.size() ? -1 : 1;
  }
  const int order = a.compare(b);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

bool IsValidVersionTableName(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  if (!(lower(name.front()) || name.front() == '_')) {
    return false;
  }
  for (char c : name) {
    if (!(lower(c) || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace schemaop::core
