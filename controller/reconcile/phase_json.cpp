#include "reconcile/phase_json.h"

namespace schemaop::reconcile::json_internal {
namespace {

constexpr const char* kPhaseKeys[] = {"expand", "window", "contract"};

std::vector<int>* Member(core::StepPhases& phases, int i) {
  return i == 0 ? &phases.expand : i == 1 ? &phases.window : &phases.contract;
}

}  // namespace

json StepPhasesToJson(const core::StepPhases& phases) {
  if (phases.empty()) {
    return json();
  }
  return {{"expand", phases.expand}, {"window", phases.window}, {"contract", phases.contract}};
}

void ReadStepPhases(Reader& r, const json& step, const std::string& path,
                    core::StepPhases& out) {
  const json* phases = r.Object(step, "phases", path + ".phases");
  if (phases == nullptr) {
    return;
  }
  for (int i = 0; i < 3; ++i) {
    const std::string member = path + ".phases." + kPhaseKeys[i];
    const json* list = r.Array(*phases, kPhaseKeys[i], member);
    if (list == nullptr) {
      continue;
    }
    for (std::size_t k = 0; k < list->size(); ++k) {
      if (!(*list)[k].is_number_integer()) {
        r.Fail(member + "[" + std::to_string(k) + "]", "expected an integer");
        return;
      }
      Member(out, i)->push_back((*list)[k].get<int>());
    }
  }
}

json PhaseSecondsToJson(const core::PhaseSeconds& seconds) {
  return {{"expand", seconds.expand}, {"window", seconds.window}, {"contract", seconds.contract}};
}

void ReadPhaseSeconds(Reader& r, const json& parent, const std::string& path,
                      std::optional<core::PhaseSeconds>& out) {
  const json* seconds = r.Object(parent, "phaseSeconds", path + ".phaseSeconds");
  if (seconds == nullptr) {
    return;
  }
  core::PhaseSeconds s;
  r.Number(*seconds, "expand", path + ".phaseSeconds.expand", s.expand);
  r.Number(*seconds, "window", path + ".phaseSeconds.window", s.window);
  r.Number(*seconds, "contract", path + ".phaseSeconds.contract", s.contract);
  out = s;
}

}  // namespace schemaop::reconcile::json_internal
