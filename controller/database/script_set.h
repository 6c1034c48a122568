#pragma once
// The script layer (Alembic's ScriptDirectory): the shipped migration files,
// their graph, and the archived copies of revisions no longer shipped; what
// to run for a revision, the plan, its digest and the checksum comparison.
// No connection: the archive is read by the caller. Internal header; include
// only from controller/database.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/migration_file.h"
#include "core/planner.h"
#include "core/revision_graph.h"
#include "core/status.h"
#include "database/revision_archive.h"

namespace schemaop::database::internal {

class ScriptSet {
 public:
  // Replaces the files (their graph must build).
  [[nodiscard]] core::Status Set(std::vector<core::MigrationFile> files);
  const std::vector<core::MigrationFile>& files() const { return files_; }
  const core::RevisionGraph& graph() const { return graph_; }

  // The shipped file of `revision`, or nullptr.
  const core::MigrationFile* GivenFile(const std::string& revision) const;

  // The file to run for `revision`: the shipped file, else the archived copy
  // (parsed once and kept). kNotFound naming the fix when neither exists.
  core::Result<const core::MigrationFile*> FileFor(const std::string& revision,
                                                   const Archive& archive);

  // The files' graph plus every archived revision whose file is no longer
  // shipped (added while all its parents are known), so a database at a
  // newer revision can still be planned down from the archive.
  core::Result<core::RevisionGraph> MergedGraph(const Archive& archive) const;

  // One line per applied shipped file whose text differs from its archived
  // copy.
  std::vector<std::string> ChecksumProblems(const core::RevisionGraph& merged,
                                            const std::vector<std::string>& current,
                                            const Archive& archive) const;

  // The plan from `current` to `target`; `head`/`heads` mean the shipped
  // files' heads, not archived revisions the files no longer contain.
  core::Result<core::Plan> MakePlan(std::string_view target, core::PlanMode mode,
                                    const core::RevisionGraph& merged,
                                    const std::vector<std::string>& current) const;

  // See Migrator::PlanDigest. Fields are length-prefixed so no two plans
  // share a byte stream.
  core::Result<std::string> PlanDigest(const core::Plan& plan, const Archive& archive);

 private:
  std::vector<core::MigrationFile> files_;
  core::RevisionGraph graph_;
  std::map<std::string, core::MigrationFile> archived_files_;  // parsed archive copies
};

// Applied revisions: the version rows and all their ancestors in `merged`.
std::set<std::string> AppliedRevisions(const core::RevisionGraph& merged,
                                       const std::vector<std::string>& current);

}  // namespace schemaop::database::internal
