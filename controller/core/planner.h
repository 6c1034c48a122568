#pragma once
// Decide purely, act separately (conventions §1): the planner turns "the
// database is at these heads" and "the user wants TARGET" into steps; the
// database adapter executes them.
#include <string>
#include <string_view>
#include <vector>

#include "core/migration_file.h"
#include "core/revision_graph.h"
#include "core/status.h"

namespace schemaop::core {

// What the user asked for. Targets follow Alembic: a revision id or unique
// prefix, `head`, `heads`, `base`, relative `+N` / `-N`, and `REV+N` / `REV-N`.
// kAuto takes the direction from the target (schemaop plan/reconcile);
// kUpgrade / kDowngrade refuse a target that would go the other way.
enum class PlanMode { kAuto, kUpgrade, kDowngrade };

struct PlanStep {
  std::string revision;
  Direction direction = Direction::kUp;
  // The exact alembic_version rows after this step (sorted), as Alembic's
  // HeadMaintainer would leave them.
  std::vector<std::string> versions_after;
};

struct Plan {
  std::vector<std::string> from_versions;  // sorted; empty = base
  std::vector<std::string> to_versions;    // sorted; empty = base
  std::vector<PlanStep> steps;             // empty when already at target
  bool HasDowngrade() const;
  bool HasUpgrade() const;
  bool empty() const { return steps.empty(); }
};

// Resolves `target` against the graph (and the current versions for relative
// targets) into the target revisions, sorted: `head` -> the one head,
// `heads` -> every head, `base` -> empty, an id / prefix / relative target ->
// that one revision (or empty when `-N` reaches base). The rows the database
// ends with can differ: upgrading to a revision on another branch keeps the
// current branch's head too (see Plan::to_versions).
// `head` with several heads is kMultipleHeads (use `heads` or an id).
// Relative targets need exactly one current version (kMultipleHeads
// otherwise); walking past a head or base is kRangeError; walking through a
// branch point or a merge is kAmbiguousRevision.
Result<std::vector<std::string>> ResolveTarget(const RevisionGraph& graph,
                                               const std::vector<std::string>& current_versions,
                                               std::string_view target);

// Plans the steps from `current_versions` (the alembic_version rows; every
// one must be in the graph, else kUnknownRevision naming it) to `target`.
// Upgrade: every ancestor-or-self of the targets not yet applied, parents
// first. Downgrade: every applied descendant of the targets (everything for
// `base`), children first. kUpgrade refuses a plan with a downgrade step and
// kDowngrade one with an upgrade step (kInvalidArgument).
Result<Plan> PlanMigration(const RevisionGraph& graph,
                           const std::vector<std::string>& current_versions,
                           std::string_view target, PlanMode mode = PlanMode::kAuto);

// "auto" / "upgrade" / "downgrade".
std::string PlanModeName(PlanMode mode);

}  // namespace schemaop::core
