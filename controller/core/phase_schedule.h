#pragma once
// Which sections of a plan run in which phase (design §3.1, "When each
// section runs"). Pure: the caller gives, per plan step, the phases of the
// sections that step runs (its direction's sections, in file order).
//
// The rule: take the plan's sections in plan order (step 1's in file order,
// then step 2's, ...). EXPAND is the longest prefix made only of expand
// sections; CONTRACT is the longest suffix (after that prefix) made only of
// contract sections; the WINDOW is everything between. So file order is
// always kept: an expand section after a window section runs in the window
// (safe, only not optimal), a contract section before a window section too.
//
// Each step's version rows (its "stamp") go right after its last section,
// moved into the window: a step whose sections all lie in the expand prefix
// is stamped at the window's start, one whose last section lies in the
// contract suffix at the window's end. So the version table still shows the
// old revision after expand and the target at the end of the window, and
// the stamps keep plan order.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/migration_file.h"
#include "core/schema_migration.h"

namespace schemaop::core {

// What one run executes: one phase, or all of them in order (the default).
enum class RunPhase { kAll, kExpand, kWindow, kContract };

// "all" / "expand" / "window" / "contract".
std::string RunPhaseName(RunPhase phase);
// Parses a --phase value; nullopt when it is none of the four names.
std::optional<RunPhase> ParseRunPhase(std::string_view name);

// One unit of execution: a section of a step, or the step's stamp (its
// version rows; `section` is then the step's section count, one past its
// last section, which is also how a cursor names it).
struct PhaseUnit {
  int step = 0;
  int section = 0;
  bool stamp = false;
  bool operator==(const PhaseUnit& other) const {
    return step == other.step && section == other.section && stamp == other.stamp;
  }
};

struct PhaseSchedule {
  // Every unit in execution order: the expand units, then the window's,
  // then the contract's. [0, window_begin) expand, [window_begin,
  // contract_begin) window, [contract_begin, size) contract.
  std::vector<PhaseUnit> units;
  std::size_t window_begin = 0;
  std::size_t contract_begin = 0;

  // [begin, end) of `phase`'s units (kAll: every unit).
  std::size_t Begin(RunPhase phase) const;
  std::size_t End(RunPhase phase) const;
  bool HasExpand() const { return window_begin > 0; }
  bool HasContract() const { return contract_begin < units.size(); }
  // The index of the unit a cursor (step, section) names; units.size()
  // for the end of the plan (step == number of steps) or an unknown pair.
  std::size_t IndexOf(int step, int section) const;
};

// `sections_per_step[s]` holds the phases of step s's sections, in file
// order.
PhaseSchedule SchedulePhases(const std::vector<std::vector<SectionPhase>>& sections_per_step);

// The phases of the sections `direction` runs in `file`, in file order.
std::vector<SectionPhase> SectionPhasesOf(const MigrationFile& file, Direction direction);

// One line per phase for people and tests: "expand: r2#1 r2#2" (revision
// and 1-based section number within the step), "window: r2#3 r2(version)"
// ... `revisions[s]` names step s.
std::vector<std::string> DescribeSchedule(const PhaseSchedule& schedule,
                                          const std::vector<std::string>& revisions);

// Per step, the 1-based numbers of its sections in each phase (what
// status.plan.steps[].phases shows). All empty when the plan has neither
// expand nor contract units: such a plan is one window, as before.
std::vector<StepPhases> StepPhasesOf(const PhaseSchedule& schedule, std::size_t steps);

}  // namespace schemaop::core
