// Texts the reconciler writes: messages bounded to valid UTF-8 for the
// status (design §5.2), and workload lists.
#include <algorithm>
#include <string>
#include <vector>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

// Condition messages are capped at 32768 bytes by the CRD (a longer one
// turns every status write into a 422 and the run could never record its
// outcome); engine messages can be much longer. Keep status small anyway.
constexpr std::size_t kMaxMessageBytes = 4096;

// Length of the valid UTF-8 sequence starting at text[i], or 0.
std::size_t Utf8SequenceLength(const std::string& text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t len = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min_second = c == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    max_second = c == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min_second = c == 0xF0 ? 0x90 : 0x80;
    max_second = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + len > text.size()) {
    return 0;
  }
  const auto second = static_cast<unsigned char>(text[i + 1]);
  if (second < min_second || second > max_second) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return len;
}

}  // namespace

// Valid UTF-8 (each invalid byte becomes U+FFFD: an engine message may carry
// bytes of another encoding, and the API server would store something else
// than we compare against, so every resync would write again) of at most
// kMaxMessageBytes, cut on a character boundary.
std::string BoundedMessage(const std::string& text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  static constexpr char kEllipsis[] = "...";
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessageBytes));
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = Utf8SequenceLength(text, i);
    const std::size_t add = len == 0 ? sizeof kReplacement - 1 : len;
    if (out.size() + add > kMaxMessageBytes - (sizeof kEllipsis - 1)) {
      out += kEllipsis;
      break;
    }
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

std::string WorkloadName(const std::string& kind, const std::string& name) {
  return kind + "/" + name;
}

std::string WorkloadList(const std::vector<core::WorkloadStatus>& workloads, bool with_replicas) {
  if (workloads.empty()) {
    return "no workloads";
  }
  std::string out;
  for (const core::WorkloadStatus& w : workloads) {
    if (!out.empty()) {
      out += ", ";
    }
    out += WorkloadName(w.kind, w.name);
    if (with_replicas && w.kind == core::kKindCronJob) {
      out += w.original_replicas == 0 ? " (suspended)" : " (not suspended)";
    } else if (with_replicas) {
      out += " (" + std::to_string(w.original_replicas) + ")";
    }
  }
  return out;
}

}  // namespace schemaop::reconcile
