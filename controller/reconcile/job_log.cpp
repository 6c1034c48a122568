#include "reconcile/job_log.h"

namespace schemaop::reconcile {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::string JobLogExcerpt(std::string_view log, const core::SecretScrubber& scrubber,
                          std::size_t max_bytes) {
  std::string text = scrubber.Scrub(std::string(log));
  if (text.size() > max_bytes) {
    std::size_t start = text.size() - max_bytes;
    // Prefer a whole first line when one begins in the first half.
    const std::size_t newline = text.find('\n', start);
    if (newline != std::string::npos && newline - start < max_bytes / 2) {
      start = newline + 1;
    }
    while (start < text.size() && IsContinuation(text[start])) {
      ++start;
    }
    text = "[...]\n" + text.substr(start);
  }
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      c = '?';
    }
  }
  return text;
}

}  // namespace schemaop::reconcile
