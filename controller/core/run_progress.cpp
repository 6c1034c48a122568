#include "core/run_progress.h"

#include <string>

namespace schemaop::core {
namespace {

std::string Of(int i, int n) { return std::to_string(i) + "/" + std::to_string(n); }

std::string WorkText(const StatementWork& work) {
  std::string text = work.unit + " " + std::to_string(work.done);
  if (work.total > 0) {
    text += "/" + std::to_string(work.total);
  }
  return text;
}

}  // namespace

std::string FormatProgress(const RunProgress& p) {
  std::string out = p.phase == "undo" ? "undo " : "";
  out += Of(p.step, p.steps);
  if (!p.revision.empty()) {
    out += " " + p.revision;
  }
  if (p.statements > 0) {
    out += " stmt " + Of(p.statement, p.statements);
  } else if (p.sections > 0) {
    out += " sect " + Of(p.section, p.sections);
  }
  if (p.work) {
    out += " " + WorkText(*p.work);
  }
  return out;
}

std::string DescribeProgress(const RunProgress& p) {
  std::string out = "run in progress (" + std::to_string(p.elapsed_seconds) + "s)";
  if (p.phase == "undo") {
    out += ", undoing a failed run";
  }
  out += "\n  step " + Of(p.step, p.steps);
  if (!p.revision.empty()) {
    out += ": " + (p.direction.empty() ? std::string() : p.direction + " ") + p.revision;
  }
  if (p.sections > 0) {
    out += "\n  section " + Of(p.section, p.sections);
  }
  if (p.statements > 0) {
    out += "\n  statement " + Of(p.statement, p.statements);
  }
  if (p.work) {
    out += "\n  " + p.work->command + ": " + p.work->phase + ", " + WorkText(*p.work);
  }
  return out + "\n";
}

bool ProgressDue(const std::optional<RunProgress>& written, Timestamp now,
                 std::chrono::milliseconds interval) {
  if (!written || !written->update_time) {
    return true;
  }
  return written->update_time->unix_millis + interval.count() <= now.unix_millis;
}

}  // namespace schemaop::core
