// Kubernetes client benchmark (docs/benchmarks.md, "Kubernetes client"):
//  1. events/s one watch delivers into the Informer cache while writers create
//     objects on the test API server, against the server's raw write rate
//     measured in the same run (ratio ~1.0 means the watch keeps up);
//  2. RSS growth of the process when an Informer caches N ConfigMaps.
// Usage: schemaop-bench-kube [objects=5000] [cached=10000]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/informer.h"
#include "test_api_server.h"

using namespace schemaop;  // NOLINT
using Clock = std::chrono::steady_clock;

namespace {

long RssKiB() {  // NOLINT
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;  // NOLINT
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

kube::Json ConfigMap(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"app", "bench"}}}}},
          {"data", {{"key", std::string(200, 'x')}}}};
}

void CreateMany(kube::Client& client, const std::string& ns, int count, int writers) {
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = w; i < count; i += writers) {
        auto r = client.Create(kube::resources::kConfigMaps, ns,
                               ConfigMap("cm-" + std::to_string(i)));
        if (!r.ok()) {
          std::fprintf(stderr, "create failed: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  const int objects = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int cached = argc > 2 ? std::atoi(argv[2]) : 10000;
  apiserver::TestApiServer server;
  apiserver::Options options;
  options.history_size = static_cast<size_t>(objects + cached + 1000);
  std::string error;
  if (!server.Start(options, &error)) {
    std::fprintf(stderr, "cannot start the test API server: %s\n", error.c_str());
    return 1;
  }
  kube::Config config;
  config.server = server.url();
  config.source = "bench";
  auto client = kube::Client::Create(config);
  if (!client.ok()) return 1;
  kube::Client& c = **client;

  for (const char* ns : {"baseline", "watched", "mem"}) {
    auto created = c.Create(kube::resources::kNamespaces, "",
                            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return 1;
    }
  }
  // 1. Baseline: raw write rate with no watch open.
  const int writers = 4;
  auto t0 = Clock::now();
  CreateMany(c, "baseline", objects, writers);
  double write_s = std::chrono::duration<double>(Clock::now() - t0).count();
  double write_rate = objects / write_s;

  // Same writes with one informer watching; time until the cache holds all.
  kube::InformerOptions io;
  io.namespace_name = "watched";
  kube::Informer informer(c, kube::resources::kConfigMaps, io);
  informer.Start();
  if (!informer.WaitForSync(std::chrono::seconds(30))) return 1;
  auto t1 = Clock::now();
  CreateMany(c, "watched", objects, writers);
  double written_s = std::chrono::duration<double>(Clock::now() - t1).count();
  while (informer.Size() < static_cast<size_t>(objects)) {
    if (Clock::now() - t1 > std::chrono::minutes(2)) {
      std::fprintf(stderr, "the informer did not catch up within 2 minutes\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double delivered_s = std::chrono::duration<double>(Clock::now() - t1).count();
  informer.Stop();
  double watch_rate = objects / delivered_s;
  std::printf("watch delivery: %d events in %.3f s = %.0f events/s into the cache\n", objects,
              delivered_s, watch_rate);
  std::printf("baseline raw write rate (%d writers, no watch): %.0f writes/s; with watch: %.0f "
              "writes/s\n",
              writers, write_rate, objects / written_s);
  std::printf("ratio watch-delivered / raw write rate: %.2f\n", watch_rate / write_rate);

  // 2. Memory with `cached` objects in the cache.
  CreateMany(c, "mem", cached, writers);
  long before = RssKiB();  // NOLINT
  kube::InformerOptions mo;
  mo.namespace_name = "mem";
  kube::Informer mem(c, kube::resources::kConfigMaps, mo);
  mem.Start();
  if (!mem.WaitForSync(std::chrono::seconds(60))) return 1;
  long after = RssKiB();  // NOLINT
  std::printf("informer RSS delta with %zu cached ConfigMaps (~%zu B JSON each): %.1f MiB "
              "(%.0f B/object)\n",
              mem.Size(), ConfigMap("cm-0000").dump().size() + 150, (after - before) / 1024.0,
              (after - before) * 1024.0 / static_cast<double>(mem.Size()));
  mem.Stop();
  server.Stop();
  return 0;
}
