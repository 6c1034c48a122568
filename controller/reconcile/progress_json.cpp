#include "reconcile/progress_json.h"

#include <nlohmann/json.hpp>

#include <string>

namespace schemaop::reconcile {
namespace {

using nlohmann::json;

// Reads typed fields of one object; the first problem wins.
struct FieldReader {
  const json& j;
  std::string prefix;
  std::optional<core::FieldError> error;

  const json* Find(const char* key, bool (json::*is_type)() const noexcept, const char* what) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      return nullptr;
    }
    if (!((*it).*is_type)()) {
      if (!error) {
        error = core::FieldError{prefix + key, std::string("expected ") + what};
      }
      return nullptr;
    }
    return &*it;
  }
  void String(const char* key, std::string& out) {
    if (const json* v = Find(key, &json::is_string, "a string")) out = v->get<std::string>();
  }
  template <typename Int>
  void Integer(const char* key, Int& out) {
    if (const json* v = Find(key, &json::is_number_integer, "an integer")) out = v->get<Int>();
  }
};

}  // namespace

std::optional<core::FieldError> ProgressFromJson(const json& j, core::RunProgress& out) {
  if (!j.is_object()) {
    return core::FieldError{"", "expected an object"};
  }
  FieldReader r{j, "", std::nullopt};
  r.String("phase", out.phase);
  r.Integer("step", out.step);
  r.Integer("steps", out.steps);
  r.String("revision", out.revision);
  r.String("direction", out.direction);
  r.Integer("section", out.section);
  r.Integer("sections", out.sections);
  r.Integer("statement", out.statement);
  r.Integer("statements", out.statements);
  r.Integer("elapsedSeconds", out.elapsed_seconds);
  r.String("summary", out.summary);
  std::string update_time;
  r.String("updateTime", update_time);
  if (!update_time.empty()) {
    out.update_time = core::ParseRfc3339(update_time);
    if (!out.update_time && !r.error) {
      r.error = core::FieldError{"updateTime", "expected an RFC 3339 time"};
    }
  }
  if (const json* w = r.Find("statementWork", &json::is_object, "an object")) {
    core::StatementWork work;
    FieldReader wr{*w, "statementWork.", std::nullopt};
    wr.String("command", work.command);
    wr.String("phase", work.phase);
    wr.Integer("done", work.done);
    wr.Integer("total", work.total);
    wr.String("unit", work.unit);
    if (wr.error && !r.error) {
      r.error = wr.error;
    }
    out.work = std::move(work);
  }
  return r.error;
}

json ProgressToJson(const core::RunProgress& p) {
  json j = {{"phase", p.phase},       {"step", p.step},
            {"steps", p.steps},       {"revision", p.revision},
            {"direction", p.direction}, {"section", p.section},
            {"sections", p.sections}, {"statement", p.statement},
            {"statements", p.statements}, {"elapsedSeconds", p.elapsed_seconds},
            {"summary", p.summary}};
  if (p.update_time) {
    j["updateTime"] = core::FormatRfc3339(*p.update_time);
  }
  if (p.work) {
    j["statementWork"] = {{"command", p.work->command}, {"phase", p.work->phase},
                          {"done", p.work->done},       {"total", p.work->total},
                          {"unit", p.work->unit}};
  }
  return j;
}

}  // namespace schemaop::reconcile
