#include "core/phase_schedule.h"

#include <algorithm>

namespace schemaop::core {

std::string RunPhaseName(RunPhase phase) {
  switch (phase) {
    case RunPhase::kExpand:
      return "expand";
    case RunPhase::kWindow:
      return "window";
    case RunPhase::kContract:
      return "contract";
    case RunPhase::kAll:
      break;
  }
  return "all";
}

std::optional<RunPhase> ParseRunPhase(std::string_view name) {
  for (RunPhase phase : {RunPhase::kAll, RunPhase::kExpand, RunPhase::kWindow,
                         RunPhase::kContract}) {
    if (name == RunPhaseName(phase)) {
      return phase;
    }
  }
  return std::nullopt;
}

std::size_t PhaseSchedule::Begin(RunPhase phase) const {
  switch (phase) {
    case RunPhase::kWindow:
      return window_begin;
    case RunPhase::kContract:
      return contract_begin;
    case RunPhase::kAll:
    case RunPhase::kExpand:
      break;
  }
  return 0;
}

std::size_t PhaseSchedule::End(RunPhase phase) const {
  switch (phase) {
    case RunPhase::kExpand:
      return window_begin;
    case RunPhase::kWindow:
      return contract_begin;
    case RunPhase::kAll:
    case RunPhase::kContract:
      break;
  }
  return units.size();
}

std::size_t PhaseSchedule::IndexOf(int step, int section) const {
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (units[i].step == step && units[i].section == section) {
      return i;
    }
  }
  return units.size();
}

PhaseSchedule SchedulePhases(const std::vector<std::vector<SectionPhase>>& sections_per_step) {
  // Flatten: (step, section, phase) in plan order; step_end[s] is the flat
  // index just after step s's sections.
  struct Flat {
    int step;
    int section;
    SectionPhase phase;
  };
  std::vector<Flat> flat;
  std::vector<std::size_t> step_end;
  for (std::size_t s = 0; s < sections_per_step.size(); ++s) {
    for (std::size_t k = 0; k < sections_per_step[s].size(); ++k) {
      flat.push_back({static_cast<int>(s), static_cast<int>(k), sections_per_step[s][k]});
    }
    step_end.push_back(flat.size());
  }
  std::size_t e = 0;  // the expand prefix is [0, e)
  while (e < flat.size() && flat[e].phase == SectionPhase::kExpand) {
    ++e;
  }
  std::size_t c = flat.size();  // the contract suffix is [c, n), c >= e
  while (c > e && flat[c - 1].phase == SectionPhase::kContract) {
    --c;
  }
  PhaseSchedule schedule;
  for (std::size_t g = 0; g < e; ++g) {
    schedule.units.push_back({flat[g].step, flat[g].section, false});
  }
  schedule.window_begin = schedule.units.size();
  // A stamp goes before flat index clamp(step_end, e, c).
  auto stamp_at = [&](std::size_t s) { return std::clamp(step_end[s], e, c); };
  std::size_t next_stamp = 0;
  auto emit_stamps_at = [&](std::size_t position) {
    while (next_stamp < step_end.size() && stamp_at(next_stamp) == position) {
      schedule.units.push_back({static_cast<int>(next_stamp),
                                static_cast<int>(sections_per_step[next_stamp].size()), true});
      ++next_stamp;
    }
  };
  for (std::size_t g = e; g < c; ++g) {
    emit_stamps_at(g);
    schedule.units.push_back({flat[g].step, flat[g].section, false});
  }
  emit_stamps_at(c);
  schedule.contract_begin = schedule.units.size();
  for (std::size_t g = c; g < flat.size(); ++g) {
    schedule.units.push_back({flat[g].step, flat[g].section, false});
  }
  return schedule;
}

std::vector<SectionPhase> SectionPhasesOf(const MigrationFile& file, Direction direction) {
  std::vector<SectionPhase> phases;
  for (const Section* section : file.SectionsFor(direction)) {
    phases.push_back(section->phase);
  }
  return phases;
}

std::vector<StepPhases> StepPhasesOf(const PhaseSchedule& schedule, std::size_t steps) {
  std::vector<StepPhases> out(steps);
  if (!schedule.HasExpand() && !schedule.HasContract()) {
    return out;
  }
  for (std::size_t i = 0; i < schedule.units.size(); ++i) {
    const PhaseUnit& unit = schedule.units[i];
    if (unit.stamp || static_cast<std::size_t>(unit.step) >= steps) {
      continue;
    }
    StepPhases& phases = out[static_cast<std::size_t>(unit.step)];
    std::vector<int>& list = i < schedule.window_begin     ? phases.expand
                             : i < schedule.contract_begin ? phases.window
                                                           : phases.contract;
    list.push_back(unit.section + 1);
  }
  return out;
}

std::vector<std::string> DescribeSchedule(const PhaseSchedule& schedule,
                                          const std::vector<std::string>& revisions) {
  std::vector<std::string> lines;
  for (RunPhase phase : {RunPhase::kExpand, RunPhase::kWindow, RunPhase::kContract}) {
    std::string line = RunPhaseName(phase) + ":";
    for (std::size_t i = schedule.Begin(phase); i < schedule.End(phase); ++i) {
      const PhaseUnit& unit = schedule.units[i];
      const std::string& revision = static_cast<std::size_t>(unit.step) < revisions.size()
                                        ? revisions[static_cast<std::size_t>(unit.step)]
                                        : std::to_string(unit.step);
      line += " " + revision +
              (unit.stamp ? std::string("(version)") : "#" + std::to_string(unit.section + 1));
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace schemaop::core
