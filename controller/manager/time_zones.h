#pragma once
// IANA time zones from the system tzdata (Debian package tzdata, installed
// by scripts/setup and in the controller image): the reconciler's
// ReconcilerOptions::time_zones in `schemaop controller`.
#include <string>

#include "core/status.h"
#include "core/time_zone.h"

namespace schemaop::manager {

// Reads $TZDIR/<name> ($TZDIR unset: /usr/share/zoneinfo) and parses it
// (core::TimeZone::FromTzif). Thread-safe: no process-wide state (TZ) is
// touched. kNotFound naming the file for an unknown zone; kInvalidArgument
// for a misspelt name (core::CheckZoneName) or a file that is not TZif.
core::Result<core::TimeZone> LoadSystemTimeZone(const std::string& name);

}  // namespace schemaop::manager
