#include "core/planner.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

namespace schemaop::core {
namespace {

constexpr std::size_t kMaxRelativeDigits = 6;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

// Deduplicated, sorted, every row known and no row an ancestor of another
// (alembic_version holds heads only).
Result<std::vector<std::string>> CheckCurrent(const RevisionGraph& graph,
                                              const std::vector<std::string>& current_versions) {
  std::set<std::string> unique(current_versions.begin(), current_versions.end());
  const auto unknown = std::find_if(unique.begin(), unique.end(), [&](const std::string& version) {
    return !graph.Contains(version);
  });
  if (unknown != unique.end()) {
    return Status(Code::kUnknownRevision,
                  "the database is at revision " + *unknown +
                      ", which no migration file defines; ship the migration file for " + *unknown +
                      " (for example by rolling the application image forward), or, if the "
                      "schema really is at another revision, stamp that revision");
  }
  for (const std::string& version : unique) {
    for (const std::string& ancestor : graph.Ancestors(version)) {
      if (unique.count(ancestor) > 0) {
        return Status(Code::kInvalidArgument,
                      "the version table holds both " + ancestor + " and " + version + ", but " +
                          ancestor + " is an ancestor of " + version +
                          "; it must hold only heads: stamp the revision the schema is really at");
      }
    }
  }
  return std::vector<std::string>(unique.begin(), unique.end());
}

Result<std::string> SingleHead(const RevisionGraph& graph, std::string_view target) {
  const std::vector<std::string> heads = graph.Heads();
  if (heads.size() > 1) {
    return Status(Code::kMultipleHeads,
                  "target '" + std::string(target) + "' is ambiguous: there are several heads (" +
                      Join(heads) + "); target `heads` to reach all of them, or name one revision");
  }
  if (heads.empty()) {
    return Status(Code::kNotFound, "target '" + std::string(target) +
                                       "' needs a head, but there are no migrations at all");
  }
  return heads.front();
}

// Walks `steps` revisions up (children) or down (parents) from `start`
// (nullopt is base). Alembic's _walk: a fork on the way is ambiguous.
Result<std::optional<std::string>> Walk(const RevisionGraph& graph,
                                        std::optional<std::string> start, long steps,
                                        std::string_view target) {
  const std::string quoted = "'" + std::string(target) + "'";
  std::optional<std::string> position = std::move(start);
  const long count = steps < 0 ? -steps : steps;
  for (long i = 0; i < count; ++i) {
    if (steps > 0) {
      const std::vector<std::string> next =
          position ? graph.Get(*position).children : graph.Bases();
      if (next.empty()) {
        return Status(Code::kRangeError, "relative target " + quoted + " goes past the head " +
                                             (position ? *position : std::string("base")) +
                                             " after " + std::to_string(i) +
                                             " step(s); the furthest is +" + std::to_string(i));
      }
      if (next.size() > 1) {
        if (!position) {
          return Status(Code::kMultipleBases, "relative target " + quoted +
                                                  " is ambiguous: there are several bases (" +
                                                  Join(next) + "); name a revision instead");
        }
        return Status(Code::kAmbiguousRevision, "relative target " + quoted +
                                                    " is ambiguous: revision " + *position +
                                                    " is a branch point with children " +
                                                    Join(next) + "; name a revision instead");
      }
      position = next.front();
    } else {
      if (!position) {
        return Status(Code::kRangeError, "relative target " + quoted + " goes below base after " +
                                             std::to_string(i) + " step(s); the furthest is -" +
                                             std::to_string(i));
      }
      const std::vector<std::string>& parents = graph.Get(*position).parents;
      if (parents.size() > 1) {
        return Status(Code::kAmbiguousRevision,
                      "relative target " + quoted + " is ambiguous: revision " + *position +
                          " is a merge of " + Join(parents) + "; name a revision instead");
      }
      if (parents.empty()) {
        position.reset();
      } else {
        position = parents.front();
      }
    }
  }
  return position;
}

std::vector<std::string> Sorted(const std::set<std::string>& items) {
  return std::vector<std::string>(items.begin(), items.end());
}

}  // namespace

bool Plan::HasDowngrade() const {
  return std::any_of(steps.begin(), steps.end(),
                     [](const PlanStep& step) { return step.direction == Direction::kDown; });
}

bool Plan::HasUpgrade() const {
  return std::any_of(steps.begin(), steps.end(),
                     [](const PlanStep& step) { return step.direction == Direction::kUp; });
}

std::string PlanModeName(PlanMode mode) {
  switch (mode) {
    case PlanMode::kAuto:
      return "auto";
    case PlanMode::kUpgrade:
      return "upgrade";
    case PlanMode::kDowngrade:
      return "downgrade";
  }
  return "auto";
}

Result<std::vector<std::string>> ResolveTarget(const RevisionGraph& graph,
                                               const std::vector<std::string>& current_versions,
                                               std::string_view target) {
  const std::string_view trimmed = Trim(target);
  if (trimmed.empty()) {
    return Status(Code::kInvalidArgument,
                  "empty target; give a revision id or prefix, head, heads, base, +N or -N");
  }
  if (trimmed == "heads") {
    return graph.Heads();
  }

  // Revision ids never contain + or -, so the last one starts a relative part.
  std::string_view name = trimmed;
  std::optional<long> relative;
  const std::size_t sign = trimmed.find_last_of("+-");
  if (sign != std::string_view::npos) {
    const std::string_view digits = trimmed.substr(sign + 1);
    const bool numeric = !digits.empty() && digits.size() <= kMaxRelativeDigits &&
                         std::all_of(digits.begin(), digits.end(), [](char c) {
                           return std::isdigit(static_cast<unsigned char>(c)) != 0;
                         });
    if (!numeric) {
      return Status(Code::kInvalidArgument,
                    "bad target '" + std::string(trimmed) +
                        "': a relative target is +N, -N, REV+N or REV-N with N a number");
    }
    const long n = std::stol(std::string(digits));
    relative = trimmed[sign] == '+' ? n : -n;
    name = Trim(trimmed.substr(0, sign));
  }

  std::optional<std::string> start;
  if (name.empty()) {
    // Relative to the database's current revision.
    Result<std::vector<std::string>> current = CheckCurrent(graph, current_versions);
    if (!current.ok()) {
      return current.status();
    }
    if (current->size() > 1) {
      return Status(Code::kMultipleHeads,
                    "relative target '" + std::string(trimmed) +
                        "' needs one current revision, but the database is at several (" +
                        Join(*current) + "); name a revision instead");
    }
    if (!current->empty()) {
      start = current->front();
    }
  } else if (name == "head") {
    Result<std::string> head = SingleHead(graph, trimmed);
    if (!head.ok()) {
      if (!relative && head.status().code() == Code::kNotFound) {
        return std::vector<std::string>{};  // no migrations: head is base
      }
      return head.status();
    }
    start = *head;
  } else if (name == "base") {
    start.reset();
  } else if (name == "heads") {
    return Status(Code::kInvalidArgument, "bad target '" + std::string(trimmed) +
                                              "': `heads` takes no relative part; use head" +
                                              std::string(trimmed.substr(sign)) + " or a revision");
  } else {
    Result<std::string> id = graph.ResolveId(name);
    if (!id.ok()) {
      return id.status();
    }
    start = *id;
  }

  if (relative) {
    Result<std::optional<std::string>> walked = Walk(graph, start, *relative, trimmed);
    if (!walked.ok()) {
      return walked.status();
    }
    start = *walked;
  }
  if (!start) {
    return std::vector<std::string>{};
  }
  return std::vector<std::string>{*start};
}

Result<Plan> PlanMigration(const RevisionGraph& graph,
                           const std::vector<std::string>& current_versions,
                           std::string_view target, PlanMode mode) {
  Result<std::vector<std::string>> current = CheckCurrent(graph, current_versions);
  if (!current.ok()) {
    return current.status();
  }
  Result<std::vector<std::string>> targets = ResolveTarget(graph, *current, target);
  if (!targets.ok()) {
    return targets.status();
  }

  // Applied: the current rows and everything they depend on.
  std::set<std::string> applied;
  for (const std::string& version : *current) {
    applied.insert(version);
    const std::set<std::string> ancestors = graph.Ancestors(version);
    applied.insert(ancestors.begin(), ancestors.end());
  }

  std::set<std::string> keep;  // the targets and their ancestors
  for (const std::string& t : *targets) {
    keep.insert(t);
    const std::set<std::string> ancestors = graph.Ancestors(t);
    keep.insert(ancestors.begin(), ancestors.end());
  }
  std::set<std::string> to_unapply;
  if (targets->empty()) {
    to_unapply = applied;
  } else {
    for (const std::string& t : *targets) {
      for (const std::string& descendant : graph.Descendants(t)) {
        if (applied.count(descendant) > 0 && keep.count(descendant) == 0) {
          to_unapply.insert(descendant);
        }
      }
    }
  }
  std::set<std::string> to_apply;
  for (const std::string& revision : keep) {
    if (applied.count(revision) == 0) {
      to_apply.insert(revision);
    }
  }

  const std::string shown_target(Trim(target));
  if (mode == PlanMode::kUpgrade && !to_unapply.empty()) {
    return Status(Code::kInvalidArgument,
                  "target '" + shown_target + "' is below the current revision (" +
                      (current->empty() ? std::string("base") : Join(*current)) +
                      "): reaching it needs a downgrade; use downgrade");
  }
  if (mode == PlanMode::kDowngrade && !to_apply.empty()) {
    return Status(Code::kInvalidArgument,
                  "target '" + shown_target + "' is not below the current revision (" +
                      (current->empty() ? std::string("base") : Join(*current)) +
                      "): reaching it needs an upgrade; use upgrade");
  }

  Plan plan;
  plan.from_versions = *current;
  std::set<std::string> versions(current->begin(), current->end());
  const std::vector<std::string> order = graph.TopologicalOrder();

  // Children before parents. After unapplying R, a parent of R becomes a
  // version row again unless another applied revision still builds on it
  // (Alembic's HeadMaintainer: unmerge, or delete a branch).
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const std::string& revision = *it;
    if (to_unapply.count(revision) == 0) {
      continue;
    }
    applied.erase(revision);
    versions.erase(revision);
    for (const std::string& parent : graph.Get(revision).parents) {
      if (applied.count(parent) == 0) {
        continue;
      }
      const std::vector<std::string>& siblings = graph.Get(parent).children;
      const bool still_built_on =
          std::any_of(siblings.begin(), siblings.end(),
                      [&](const std::string& child) { return applied.count(child) > 0; });
      if (!still_built_on) {
        versions.insert(parent);
      }
    }
    plan.steps.push_back(PlanStep{revision, Direction::kDown, Sorted(versions)});
  }

  // Parents before children. Applying R replaces those of its parents that
  // are version rows (a merge replaces all of them); a parent that is not a
  // row already has another applied child, so R starts a new branch row.
  for (const std::string& revision : order) {
    if (to_apply.count(revision) == 0) {
      continue;
    }
    applied.insert(revision);
    for (const std::string& parent : graph.Get(revision).parents) {
      versions.erase(parent);
    }
    versions.insert(revision);
    plan.steps.push_back(PlanStep{revision, Direction::kUp, Sorted(versions)});
  }

  plan.to_versions = Sorted(versions);
  return plan;
}

}  // namespace schemaop::core
