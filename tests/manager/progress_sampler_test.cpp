// The progress sampler (design §6.8): samples only runs on a run thread,
// hands samples to the pool, forgets ended runs, ignores failing probes.
#include "manager/progress_sampler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>

namespace schemaop::manager {
namespace {

core::RunProgress At(int statement) {
  core::RunProgress p;
  p.step = 1;
  p.steps = 1;
  p.statement = statement;
  p.statements = 3;
  return p;
}

TEST(ProgressSamplerTest, SamplesRunningRunsOnlyAndForgetsEndedOnes) {
  std::map<std::string, bool> runs = {{"a", true}, {"b", false}};
  std::map<std::string, core::RunProgress> published;
  ProgressSampler sampler(
      std::chrono::hours(1), [&] { return runs; },
      [&](const std::string& key, core::RunProgress p) { published[key] = std::move(p); });
  int a_calls = 0;
  int b_calls = 0;
  sampler.Track("a", [&]() -> core::Result<std::optional<core::RunProgress>> {
    ++a_calls;
    return std::optional<core::RunProgress>(At(a_calls));
  });
  sampler.Track("b", [&]() -> core::Result<std::optional<core::RunProgress>> {
    ++b_calls;
    return std::optional<core::RunProgress>(At(9));
  });
  sampler.SampleOnce();
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 0);  // queued for a run thread: nothing to read yet
  EXPECT_EQ(published.at("a").statement, 1);
  EXPECT_EQ(published.count("b"), 0u);
  runs["b"] = true;
  sampler.SampleOnce();
  EXPECT_EQ(published.at("b").statement, 9);
  // "a" ended and was handed out: its probe is dropped for good.
  runs.erase("a");
  sampler.SampleOnce();
  runs["a"] = true;
  sampler.SampleOnce();
  EXPECT_EQ(a_calls, 2);
}

TEST(ProgressSamplerTest, AFailingProbeIsIgnoredAndTriedAgain) {
  std::map<std::string, bool> runs = {{"a", true}};
  int published = 0;
  ProgressSampler sampler(
      std::chrono::hours(1), [&] { return runs; },
      [&](const std::string&, core::RunProgress) { ++published; });
  int calls = 0;
  sampler.Track("a", [&]() -> core::Result<std::optional<core::RunProgress>> {
    if (++calls == 1) {
      return core::Status(core::Code::kUnreachable, "connection refused");
    }
    return std::optional<core::RunProgress>();  // no run in run_log (yet)
  });
  sampler.SampleOnce();
  sampler.SampleOnce();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(published, 0);
}

TEST(ProgressSamplerTest, ItsThreadSamplesEveryInterval) {
  std::atomic<int> published{0};
  ProgressSampler sampler(
      std::chrono::milliseconds(10), [] { return std::map<std::string, bool>{{"a", true}}; },
      [&](const std::string&, core::RunProgress) { ++published; });
  sampler.Track("a", [] { return core::Result<std::optional<core::RunProgress>>(At(1)); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (published.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(published.load(), 3);
}

}  // namespace
}  // namespace schemaop::manager
