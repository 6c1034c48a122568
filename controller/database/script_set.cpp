#include "database/script_set.h"

#include <algorithm>

#include "database/runtime.h"

namespace schemaop::database::internal {

using core::Code;
using core::Status;

Status ScriptSet::Set(std::vector<core::MigrationFile> files) {
  auto graph = core::BuildGraph(files);
  if (!graph.ok()) {
    return graph.status();
  }
  files_ = std::move(files);
  graph_ = std::move(graph).value();
  return Status::Ok();
}

const core::MigrationFile* ScriptSet::GivenFile(const std::string& revision) const {
  for (const auto& file : files_) {
    if (file.revision == revision) {
      return &file;
    }
  }
  return nullptr;
}

core::Result<const core::MigrationFile*> ScriptSet::FileFor(const std::string& revision,
                                                            const Archive& archive) {
  if (const auto* given = GivenFile(revision)) {
    return given;
  }
  auto cached = archived_files_.find(revision);
  if (cached != archived_files_.end()) {
    return &cached->second;
  }
  auto row = archive.find(revision);
  if (row == archive.end()) {
    return Status(Code::kNotFound, "revision '" + revision +
                                       "' has no migration file and no archived copy in "
                                       "schemaop.revision_archive; add its file to --migrations");
  }
  auto parsed = core::ParseMigrationFile(row->second.text, row->second.file_name + " (archived)");
  if (!parsed.ok()) {
    return parsed.status();
  }
  auto [it, inserted] = archived_files_.emplace(revision, std::move(parsed).value());
  return &it->second;
}

core::Result<core::RevisionGraph> ScriptSet::MergedGraph(const Archive& archive) const {
  std::vector<core::MigrationFile> all = files_;
  std::set<std::string> known;
  for (const auto& file : files_) {
    known.insert(file.revision);
  }
  bool added = true;
  while (added) {
    added = false;
    for (const auto& [revision, row] : archive) {
      if (known.count(revision) != 0) {
        continue;
      }
      bool parents_known = std::all_of(row.down_revisions.begin(), row.down_revisions.end(),
                                       [&](const std::string& p) { return known.count(p) != 0; });
      if (!parents_known) {
        continue;
      }
      core::MigrationFile stub;
      stub.revision = revision;
      stub.down_revisions = row.down_revisions;
      stub.source_name = row.file_name + " (archived)";
      all.push_back(std::move(stub));
      known.insert(revision);
      added = true;
    }
  }
  return core::BuildGraph(all);
}

std::set<std::string> AppliedRevisions(const core::RevisionGraph& merged,
                                       const std::vector<std::string>& current) {
  std::set<std::string> applied;
  for (const auto& version : current) {
    if (!merged.Contains(version)) {
      continue;
    }
    applied.insert(version);
    auto ancestors = merged.Ancestors(version);
    applied.insert(ancestors.begin(), ancestors.end());
  }
  return applied;
}

std::vector<std::string> ScriptSet::ChecksumProblems(const core::RevisionGraph& merged,
                                                     const std::vector<std::string>& current,
                                                     const Archive& archive) const {
  std::vector<std::string> problems;
  auto applied = AppliedRevisions(merged, current);
  for (const auto& file : files_) {
    auto row = archive.find(file.revision);
    if (row == archive.end() || applied.count(file.revision) == 0) {
      continue;
    }
    std::string sha = Sha256Hex(file.text);
    if (sha != row->second.sha256) {
      problems.push_back("migration file " + file.source_name + " (revision " + file.revision +
                         ") differs from the copy applied at " + row->second.applied_at +
                         " (archived sha256 " + row->second.sha256.substr(0, 12) +
                         "..., file sha256 " + sha.substr(0, 12) + "...)");
    }
  }
  return problems;
}

core::Result<core::Plan> ScriptSet::MakePlan(std::string_view target, core::PlanMode mode,
                                             const core::RevisionGraph& merged,
                                             const std::vector<std::string>& current) const {
  for (const auto& version : current) {
    if (!merged.Contains(version)) {
      return Status(Code::kUnknownRevision,
                    "the database is at revision '" + version +
                        "', which neither the migration files nor schemaop.revision_archive "
                        "know; pass the --migrations directory that contains it (or `stamp` "
                        "the database if it was changed by hand)");
    }
  }
  std::string resolved_target(target);
  if ((target == "head" || target == "heads") && merged.size() != graph_.size()) {
    auto heads = graph_.Heads();
    if (heads.empty()) {
      return Status(Code::kNotFound,
                    "no migration files: nothing to resolve '" + std::string(target) + "' against");
    }
    if (heads.size() == 1) {
      resolved_target = heads.front();
    } else if (target == "head") {
      return Status(Code::kMultipleHeads, "the migration files have several heads (" +
                                              Join(heads, ", ") +
                                              "); target one of them or `heads`");
    }
  }
  return core::PlanMigration(merged, current, resolved_target, mode);
}

core::Result<std::string> ScriptSet::PlanDigest(const core::Plan& plan, const Archive& archive) {
  std::string bytes;
  auto field = [&bytes](const std::string& value) {
    bytes += std::to_string(value.size()) + ":" + value + ";";
  };
  field("schemaop-plan-v1");
  field(Join(plan.from_versions, ","));
  field(Join(plan.to_versions, ","));
  for (const auto& step : plan.steps) {
    auto file = FileFor(step.revision, archive);
    if (!file.ok()) {
      return file.status();
    }
    field(step.revision);
    field(core::DirectionName(step.direction));
    for (const auto* section : (*file)->SectionsFor(step.direction)) {
      field(section->transactional ? "tx" : "autocommit");
      if (section->phase != core::SectionPhase::kWindow || section->batch_rows > 0) {
        // Only sections with phases add fields: the hash of a plan without
        // phases stays what it was (approvals survive the upgrade).
        field("phase:" + core::SectionPhaseName(section->phase));
        field("batch:" + std::to_string(section->batch_rows));
      }
      field(section->sql);
    }
  }
  return Sha256Hex(bytes);
}

}  // namespace schemaop::database::internal
