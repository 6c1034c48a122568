// HTTP layer of the test API server: routing, discovery, tables, patches,
// watch streaming, fault injection and the simulated workload controller.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <set>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "internal.h"
#include "job_runner.h"
#include "rbac.h"
#include "store.h"
#include "test_api_server.h"
#include "tls.h"

namespace schemaop::apiserver {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kJson[] = "application/json";
// The kubeconfig's dummy token and the anonymous user: all-powerful.
constexpr char kAdminToken[] = "schemaop-test-dummy-token";
constexpr char kAdminUser[] = "schemaop-test";

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// Orders versions as Kubernetes does: GA > beta > alpha, then by number.
int VersionPriority(const std::string& v, int* major, int* minor) {
  static const std::regex kVersion(R"(^v([0-9]+)(?:(alpha|beta)([0-9]+))?$)");
  std::smatch m;
  if (!std::regex_match(v, m, kVersion)) {
    *major = *minor = 0;
    return 0;
  }
  *major = std::stoi(m[1]);
  *minor = m[3].matched ? std::stoi(m[3]) : 0;
  if (!m[2].matched) return 3;
  return m[2] == "beta" ? 2 : 1;
}

bool VersionLess(const std::string& a, const std::string& b) {  // a preferred over b
  int a_major, a_minor, b_major, b_minor;
  int pa = VersionPriority(a, &a_major, &a_minor);
  int pb = VersionPriority(b, &b_major, &b_minor);
  if (pa != pb) return pa > pb;
  if (a_major != b_major) return a_major > b_major;
  if (a_minor != b_minor) return a_minor > b_minor;
  return a < b;
}

std::string StorageVersionHash(const ResourceType& t) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : t.group + "/" + t.version + "/" + t.kind) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return Base64Encode(std::string(reinterpret_cast<const char*>(&h), sizeof(h)));
}

Json MetaOf(const Json& object) {
  return object.is_object() ? object.value("metadata", Json::object()) : Json::object();
}

std::string AgeOf(const Json& object) {
  auto created = ParseRfc3339(MetaOf(object).value("creationTimestamp", ""));
  if (!created) return "<unknown>";
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  return HumanDuration(now - *created);
}

Json Column(const std::string& name, const std::string& type, const std::string& format = "",
            int priority = 0, const std::string& description = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", description},
          {"priority", priority}};
}

// Server-side printing (the Table kubectl asks for with
// Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
class TablePrinter {
 public:
  explicit TablePrinter(const ResourceType& type) : type_(type) {
    const std::string bucket = type.bucket();
    auto name = Column("Name", "string", "name", 0,
                       "Name must be unique within a namespace.");
    if (type.is_custom) {
      columns_.push_back(name);
      Json printer = type.printer_columns.is_array() && !type.printer_columns.empty()
                         ? type.printer_columns
                         : Json::array({{{"name", "Age"},
                                         {"type", "date"},
                                         {"jsonPath", ".metadata.creationTimestamp"}}});
      for (const Json& c : printer) {
        columns_.push_back(Column(c.value("name", ""), c.value("type", "string"),
                                  c.value("format", ""), c.value("priority", 0),
                                  c.value("description", "")));
        paths_.push_back(c.value("jsonPath", ""));
      }
    } else if (bucket == "/configmaps") {
      columns_ = {name, Column("Data", "string"), Column("Age", "string")};
    } else if (bucket == "/secrets") {
      columns_ = {name, Column("Type", "string"), Column("Data", "string"), Column("Age", "string")};
    } else if (bucket == "/namespaces") {
      columns_ = {name, Column("Status", "string"), Column("Age", "string")};
    } else if (bucket == "/pods") {
      columns_ = {name, Column("Ready", "string"), Column("Status", "string"),
                  Column("Restarts", "string"), Column("Age", "string")};
    } else if (bucket == "apps/deployments") {
      columns_ = {name, Column("Ready", "string"), Column("Up-to-date", "string"),
                  Column("Available", "string"), Column("Age", "string")};
    } else if (bucket == "apps/statefulsets") {
      columns_ = {name, Column("Ready", "string"), Column("Age", "string")};
    } else if (bucket == "/events") {
      columns_ = {Column("Last Seen", "string"), Column("Type", "string"),
                  Column("Reason", "string"), Column("Object", "string"),
                  Column("Message", "string")};
    } else if (bucket == "coordination.k8s.io/leases") {
      columns_ = {name, Column("Holder", "string"), Column("Age", "string")};
    } else if (bucket == "apiextensions.k8s.io/customresourcedefinitions") {
      columns_ = {name, Column("Created At", "date")};
    } else {
      columns_ = {name, Column("Age", "string")};
    }
  }

  Json Cells(const Json& o) const {
    const std::string bucket = type_.bucket();
    const Json meta = MetaOf(o);
    const std::string name = meta.value("name", "");
    const Json status = o.value("status", Json::object());
    const Json spec = o.value("spec", Json::object());
    if (type_.is_custom) {
      Json cells = Json::array({name});
      for (std::size_t i = 0; i < paths_.size(); ++i) {
        std::string error;
        std::vector<Json> found = EvalJsonPath(o, paths_[i], &error);
        const std::string column_type = columns_[i + 1]["type"];
        if (found.empty() || found[0].is_null()) {
          cells.push_back(nullptr);
        } else if (column_type == "date" && found[0].is_string()) {
          Json stamp = {{"metadata", {{"creationTimestamp", found[0]}}}};
          cells.push_back(AgeOf(stamp));
        } else if (found.size() == 1) {
          cells.push_back(found[0]);
        } else {
          std::string joined;
          for (const Json& v : found) {
            joined += (joined.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
          }
          cells.push_back(joined);
        }
      }
      return cells;
    }
    if (bucket == "/configmaps") {
      std::size_t n = o.value("data", Json::object()).size() + o.value("binaryData", Json::object()).size();
      return {name, n, AgeOf(o)};
    }
    if (bucket == "/secrets") {
      return {name, o.value("type", "Opaque"), o.value("data", Json::object()).size(), AgeOf(o)};
    }
    if (bucket == "/namespaces") return {name, status.value("phase", "Active"), AgeOf(o)};
    if (bucket == "/pods") {
      bool ready = false;
      for (const Json& c : status.value("conditions", Json::array())) {
        if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
      }
      std::size_t containers = spec.value("containers", Json::array()).size();
      if (containers == 0) containers = 1;
      std::string ready_text = std::to_string(ready ? containers : 0) + "/" + std::to_string(containers);
      std::string phase = meta.contains("deletionTimestamp") ? "Terminating" : status.value("phase", "Pending");
      return {name, ready_text, phase, 0, AgeOf(o)};
    }
    if (bucket == "apps/deployments") {
      const std::int64_t want = spec.value("replicas", 1);
      return {name,
              std::to_string(status.value("readyReplicas", 0)) + "/" + std::to_string(want),
              status.value("updatedReplicas", 0), status.value("availableReplicas", 0), AgeOf(o)};
    }
    if (bucket == "apps/statefulsets") {
      const std::int64_t want = spec.value("replicas", 1);
      return {name, std::to_string(status.value("readyReplicas", 0)) + "/" + std::to_string(want),
              AgeOf(o)};
    }
    if (bucket == "/events") {
      std::string last = o.value("lastTimestamp", Json()).is_string()
                             ? o["lastTimestamp"].get<std::string>()
                             : o.value("eventTime", Json()).is_string()
                                   ? o["eventTime"].get<std::string>()
                                   : meta.value("creationTimestamp", "");
      Json stamp = {{"metadata", {{"creationTimestamp", last}}}};
      const Json involved = o.value("involvedObject", Json::object());
      std::string kind = involved.value("kind", "");
      std::transform(kind.begin(), kind.end(), kind.begin(), ::tolower);
      return {AgeOf(stamp), o.value("type", ""), o.value("reason", ""),
              kind + "/" + involved.value("name", ""), o.value("message", "")};
    }
    if (bucket == "coordination.k8s.io/leases") {
      return {name, spec.value("holderIdentity", ""), AgeOf(o)};
    }
    if (bucket == "apiextensions.k8s.io/customresourcedefinitions") {
      return {name, meta.value("creationTimestamp", "")};
    }
    return {name, AgeOf(o)};
  }

  Json Table(const std::vector<Json>& objects, const Json& list_meta,
             const std::string& include_object) const {
    Json rows = Json::array();
    for (const Json& o : objects) {
      Json row = {{"cells", Cells(o)}};
      if (include_object == "Object") {
        row["object"] = o;
      } else if (include_object != "None") {
        row["object"] = {{"kind", "PartialObjectMetadata"},
                         {"apiVersion", "meta.k8s.io/v1"},
                         {"metadata", MetaOf(o)}};
      }
      rows.push_back(row);
    }
    return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", list_meta},
            {"columnDefinitions", columns_}, {"rows", rows}};
  }

 private:
  ResourceType type_;
  Json columns_ = Json::array();
  std::vector<std::string> paths_;
};

struct CompiledFault {
  FaultRule rule;
  std::regex path;
};

struct CompiledLatency {
  LatencyRule rule;
  std::regex path;
};

std::string MediaType(const std::string& content_type) {
  std::string out = content_type.substr(0, content_type.find(';'));
  out.erase(std::remove_if(out.begin(), out.end(), ::isspace), out.end());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

struct TestApiServer::Impl {
  Options options;
  std::unique_ptr<Store> store;
  std::unique_ptr<JobRunner> jobs;  // batch/v1 Jobs run as local processes
  std::unique_ptr<httplib::Server> server;
  std::thread listen_thread;
  std::thread controller_thread;
  int port = 0;
  bool running = false;
  TlsMaterial tls;
  std::string cert_dir;

  std::atomic<bool> stopping{false};
  std::atomic<int> bookmark_interval_ms{1000};
  std::atomic<int> deployment_delay_ms{200};
  // The Kubernetes minor version /version reports (admin setting
  // serverMinorVersion), so tests can play an older API server.
  std::atomic<int> server_minor_version{32};
  std::atomic<bool> expired_in_stream{true};

  mutable std::mutex auth_mu;
  std::map<std::string, UserInfo> tokens;  // bearer token -> user

  mutable std::mutex admin_mu;  // faults, latency, counters, denied
  // The last kMaxDenied requests RBAC denied ("user verb resource[/sub]
  // namespace/name"), for tests that assert a component got no 403.
  static constexpr std::size_t kMaxDenied = 200;
  std::deque<std::string> denied;
  std::int64_t denied_total = 0;
  // "user verb group resource[/sub]" of every request RBAC allowed a
  // non-admin, for tests that look for granted permissions nobody uses.
  std::set<std::string> authorized;
  std::vector<CompiledFault> faults;
  std::vector<CompiledLatency> latencies;
  std::map<std::string, std::int64_t> counters;

  std::mutex controller_mu;
  std::condition_variable controller_cv;
  std::map<std::pair<std::string, std::string>, Clock::time_point> controller_queue;
  bool controllers_paused = false;

  // ---- lifecycle ----------------------------------------------------------

  bool Start(const Options& opts, std::string* error) {
    options = opts;
    bookmark_interval_ms = opts.bookmark_interval_ms;
    deployment_delay_ms = opts.deployment_delay_ms;
    expired_in_stream = opts.expired_in_stream;
    store = std::make_unique<Store>(opts.history_size);
    jobs = std::make_unique<JobRunner>(*store);
    AddToken(kAdminToken, {kAdminUser, {"system:masters", "system:authenticated"}});
    if (!opts.token_file.empty()) {
      std::ifstream in(opts.token_file);
      if (!in) {
        if (error) *error = "cannot read --token-file " + opts.token_file;
        return false;
      }
      std::string line;
      int number = 0;
      while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        std::string why;
        auto token = ParseTokenFileLine(line, &why);
        if (!token) {
          if (error) *error = opts.token_file + ":" + std::to_string(number) + ": " + why;
          return false;
        }
        AddToken(token->token, token->user);
      }
    }
    store->SetWorkloadHook([this](const std::string& bucket, const std::string& key) {
      ScheduleWorkload(bucket, key);
    });
    if (opts.tls) {
      if (!GenerateTlsMaterial(&tls, error)) return false;
      cert_dir = opts.cert_dir;
      std::error_code ec;
      if (cert_dir.empty()) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "schemaop-apiserver-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
          if (error) *error = "cannot create a temporary certificate directory";
          return false;
        }
        cert_dir = pattern;
      }
      std::filesystem::create_directories(cert_dir, ec);
      const std::vector<std::pair<std::string, std::string>> files = {
          {"ca.crt", tls.ca_cert},         {"server.crt", tls.server_cert},
          {"server.key", tls.server_key},  {"client.crt", tls.client_cert},
          {"client.key", tls.client_key}};
      for (const auto& [file, pem] : files) {
        std::ofstream out(std::filesystem::path(cert_dir) / file, std::ios::trunc);
        out << pem;
        if (!out) {
          if (error) *error = "cannot write " + file + " into --cert-dir " + cert_dir;
          return false;
        }
      }
      const std::string dir = cert_dir;
      server = std::make_unique<httplib::SSLServer>((dir + "/server.crt").c_str(),
                                                    (dir + "/server.key").c_str(),
                                                    (dir + "/ca.crt").c_str());
    } else {
      server = std::make_unique<httplib::Server>();
    }
    if (!server->is_valid()) {
      if (error) *error = "the HTTP(S) server could not be initialised (TLS setup failed?)";
      return false;
    }
    const int pool = opts.thread_pool_size;
    server->new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
    // Small JSON responses on keep-alive connections: without TCP_NODELAY
    // Nagle's algorithm and delayed ACKs cap a client at ~25 requests/s.
    server->set_tcp_nodelay(true);
    server->set_keep_alive_max_count(100);
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    server->Get(".*", handler);
    server->Post(".*", handler);
    server->Put(".*", handler);
    server->Patch(".*", handler);
    server->Delete(".*", handler);
    if (opts.log_requests) {
      server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
        std::cerr << req.method << " " << req.target << " -> " << res.status << std::endl;
      });
    }
    if (opts.port == 0) {
      port = server->bind_to_any_port(opts.bind_address);
    } else {
      port = server->bind_to_port(opts.bind_address, opts.port) ? opts.port : -1;
    }
    if (port <= 0) {
      if (error) {
        *error = "cannot bind " + opts.bind_address + ":" + std::to_string(opts.port) +
                 " (in use? try --port 0 for a free port)";
      }
      return false;
    }
    listen_thread = std::thread([this] { server->listen_after_bind(); });
    controller_thread = std::thread([this] { ControllerLoop(); });
    const auto ready_deadline = Clock::now() + std::chrono::seconds(10);
    while (!server->is_running() && Clock::now() < ready_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    running = true;
    return true;
  }

  void Stop() {
    if (!running) return;
    running = false;
    stopping = true;
    jobs->Shutdown();
    store->Shutdown();
    {
      std::lock_guard<std::mutex> lock(controller_mu);
      controller_cv.notify_all();
    }
    server->stop();
    if (listen_thread.joinable()) listen_thread.join();
    if (controller_thread.joinable()) controller_thread.join();
  }

  std::string Url() const {
    std::string host = options.bind_address == "0.0.0.0" ? "127.0.0.1" : options.bind_address;
    return std::string(options.tls ? "https" : "http") + "://" + host + ":" + std::to_string(port);
  }

  // ---- simulated workload controller --------------------------------------

  void ScheduleWorkload(const std::string& bucket, const std::string& key) {
    std::lock_guard<std::mutex> lock(controller_mu);
    auto entry = std::make_pair(bucket, key);
    if (controller_queue.count(entry) == 0) {
      controller_queue[entry] = Clock::now() + std::chrono::milliseconds(deployment_delay_ms.load());
      controller_cv.notify_all();
    }
  }

  void ControllerLoop() {
    std::unique_lock<std::mutex> lock(controller_mu);
    while (!stopping) {
      auto next = Clock::now() + std::chrono::seconds(1);
      std::vector<std::pair<std::string, std::string>> due;
      if (!controllers_paused) {
        for (auto it = controller_queue.begin(); it != controller_queue.end();) {
          if (it->second <= Clock::now()) {
            due.push_back(it->first);
            it = controller_queue.erase(it);
          } else {
            next = std::min(next, it->second);
            ++it;
          }
        }
      }
      if (!due.empty()) {
        lock.unlock();
        for (const auto& [bucket, key] : due) store->ReconcileWorkload(bucket, key);
        lock.lock();
        continue;
      }
      controller_cv.wait_until(lock, next);
    }
  }

  void SetControllersPaused(bool paused) {
    std::lock_guard<std::mutex> lock(controller_mu);
    controllers_paused = paused;
    controller_cv.notify_all();
  }

  // ---- responses -----------------------------------------------------------

  static void Reply(httplib::Response& res, int code, const Json& body) {
    res.status = code;
    res.set_content(body.dump(), kJson);
  }

  static void ReplyError(httplib::Response& res, const ApiError& error) {
    Reply(res, error.code, error.ToStatus());
  }

  void Count(const std::string& key) {
    std::lock_guard<std::mutex> lock(admin_mu);
    ++counters[key];
  }

  // Returns true when a fault rule answered the request.
  bool InjectFaults(const httplib::Request& req, httplib::Response& res, bool is_watch) {
    int delay = 0;
    std::optional<ApiError> fault;
    {
      std::lock_guard<std::mutex> lock(admin_mu);
      for (auto it = latencies.begin(); it != latencies.end(); ++it) {
        if ((it->rule.method.empty() || it->rule.method == req.method) &&
            std::regex_search(req.path, it->path)) {
          delay = std::max(delay, it->rule.delay_ms);
          if (it->rule.count > 0 && --it->rule.count == 0) {
            latencies.erase(it);
          }
          break;
        }
      }
      for (auto it = faults.begin(); it != faults.end(); ++it) {
        const FaultRule& r = it->rule;
        if ((r.method.empty() || r.method == req.method) &&
            (r.watch < 0 || (r.watch == 1) == is_watch) && std::regex_search(req.path, it->path)) {
          fault = ApiError{r.code, r.reason.empty() ? ReasonForCode(r.code) : r.reason,
                           r.message.empty() ? "injected fault for " + req.method + " " + req.path
                                             : r.message,
                           Json::object()};
          if (it->rule.count > 0 && --it->rule.count == 0) faults.erase(it);
          break;
        }
      }
    }
    auto until = Clock::now() + std::chrono::milliseconds(delay);
    while (Clock::now() < until && !stopping) {
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(),
                                                            std::chrono::milliseconds(20)));
    }
    if (fault) {
      if (fault->code == 429 || fault->code == 503) res.set_header("Retry-After", "1");
      ReplyError(res, *fault);
      return true;
    }
    return false;
  }

  // ---- routing -------------------------------------------------------------

  void Handle(const httplib::Request& req, httplib::Response& res) {
    try {
      HandleUnsafe(req, res);
    } catch (const std::exception& e) {
      ReplyError(res, ApiError{500, "InternalError",
                               std::string("test apiserver internal error: ") + e.what(),
                               Json::object()});
    }
  }

  void HandleUnsafe(const httplib::Request& req, httplib::Response& res) {
    const std::string& path = req.path;
    const std::optional<UserInfo> user = Authenticate(req);
    if (!user) return ReplyError(res, Unauthorized());
    const std::vector<std::string> segs = SplitPath(path);
    const bool is_watch = req.get_param_value("watch") == "true" || req.get_param_value("watch") == "1";
    const RequestAttributes attributes = AttributesOf(req, segs, is_watch);
    if (path.rfind("/_test/", 0) == 0) {
      // The admin API is for the tests only, never for an authenticated
      // non-admin (such as the controller's ServiceAccount).
      if (!IsAdmin(*user)) return ReplyError(res, Forbidden(*user, attributes));
      HandleAdmin(req, res);
      return;
    }
    if (!IsAdmin(*user) && !(!attributes.resource_request && IsDiscoveryPath(path))) {
      const Decision decision = Authorize(LoadRbac(), *user, attributes);
      if (!decision.allowed) {
        RecordDenied(*user, attributes);
        return ReplyError(res, Forbidden(*user, attributes, decision.reason));
      }
      if (attributes.resource_request) {
        std::lock_guard<std::mutex> lock(admin_mu);
        authorized.insert(user->name + " " + attributes.verb + " " +
                          (attributes.api_group.empty() ? "core" : attributes.api_group) + " " +
                          attributes.resource +
                          (attributes.subresource.empty() ? "" : "/" + attributes.subresource));
      }
    }
    CountRequest(req, segs, is_watch);
    if (InjectFaults(req, res, is_watch)) return;
    if (path == "/version" || path == "/version/") {
      const std::string minor = std::to_string(server_minor_version.load());
      Reply(res, 200,
            {{"major", "1"}, {"minor", minor}, {"gitVersion", "v1." + minor + ".0-schemaop-test"},
             {"gitCommit", "0000000000000000000000000000000000000000"},
             {"gitTreeState", "clean"}, {"buildDate", "2025-01-01T00:00:00Z"},
             {"goVersion", "go1.23.0"}, {"compiler", "gc"}, {"platform", "linux/amd64"}});
      return;
    }
    if (path == "/healthz" || path == "/readyz" || path == "/livez") {
      res.set_content("ok", "text/plain");
      return;
    }
    if (segs.empty() || (segs[0] != "api" && segs[0] != "apis")) {
      ReplyError(res, ApiError{404, "NotFound", "the server could not find the requested resource",
                               {{"causes", {{{"reason", "UnexpectedServerResponse"},
                                             {"message", "404 page not found"}}}}}});
      return;
    }
    // Discovery.
    if (segs[0] == "api" && segs.size() == 1) {
      Reply(res, 200,
            {{"kind", "APIVersions"},
             {"versions", {"v1"}},
             {"serverAddressByClientCIDRs",
              {{{"clientCIDR", "0.0.0.0/0"},
                {"serverAddress", options.bind_address + ":" + std::to_string(port)}}}}});
      return;
    }
    if (segs[0] == "apis" && segs.size() == 1) {
      Json groups = Json::array();
      for (const auto& [group, versions] : SortedGroups()) {
        if (group.empty()) continue;
        groups.push_back(GroupJson(group, versions));
      }
      Reply(res, 200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
      return;
    }
    if (segs[0] == "apis" && segs.size() == 2) {
      for (const auto& [group, versions] : SortedGroups()) {
        if (group == segs[1]) {
          Json g = GroupJson(group, versions);
          g["kind"] = "APIGroup";
          g["apiVersion"] = "v1";
          Reply(res, 200, g);
          return;
        }
      }
      ReplyError(res, ApiError{404, "NotFound", "the server could not find the requested resource",
                               Json::object()});
      return;
    }
    std::string group;
    std::string version;
    std::size_t rest = 0;
    if (segs[0] == "api") {
      version = segs[1];
      rest = 2;
    } else {
      group = segs[1];
      version = segs[2];
      rest = 3;
    }
    if (segs.size() == rest) {
      Json list = ResourceList(group, version);
      if (list.is_null()) {
        ReplyError(res, ApiError{404, "NotFound",
                                 "the server could not find the requested resource",
                                 Json::object()});
      } else {
        Reply(res, 200, list);
      }
      return;
    }
    // Resource paths: [namespaces/<ns>/]<plural>[/<name>[/<subresource>]]
    std::vector<std::string> parts(segs.begin() + static_cast<long>(rest), segs.end());
    std::string ns;
    if (parts.size() >= 3 && parts[0] == "namespaces") {
      auto t = store->FindType(group, version, parts[2]);
      if (t && t->namespaced) {
        ns = parts[1];
        parts.erase(parts.begin(), parts.begin() + 2);
      }
    }
    auto type = store->FindType(group, version, parts[0]);
    if (!type || parts.size() > 3) {
      ReplyError(res, ApiError{404, "NotFound", "the server could not find the requested resource",
                               Json::object()});
      return;
    }
    const std::string name = parts.size() >= 2 ? parts[1] : "";
    const std::string sub = parts.size() == 3 ? parts[2] : "";
    const bool pod_log = sub == "log" && type->bucket() == "/pods";
    if ((sub == "status" && !type->has_status) || (sub == "scale" && !type->has_scale) ||
        (!sub.empty() && sub != "status" && sub != "scale" && !pod_log)) {
      ReplyError(res, ApiError{404, "NotFound", "the server could not find the requested resource",
                               Json::object()});
      return;
    }
    HandleResource(req, res, *type, ns, name, sub, is_watch);
  }

  // ---- authentication and authorization ----------------------------------

  void AddToken(const std::string& token, UserInfo user) {
    if (std::find(user.groups.begin(), user.groups.end(), "system:authenticated") ==
        user.groups.end()) {
      user.groups.push_back("system:authenticated");
    }
    std::lock_guard<std::mutex> lock(auth_mu);
    tokens[token] = std::move(user);
  }

  // nullopt: 401. A bearer token wins over the client certificate.
  std::optional<UserInfo> Authenticate(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    constexpr char kBearer[] = "Bearer ";
    if (!header.empty()) {
      if (header.rfind(kBearer, 0) != 0) return std::nullopt;
      std::string token = header.substr(sizeof(kBearer) - 1);
      while (!token.empty() && token.back() == ' ') token.pop_back();
      std::lock_guard<std::mutex> lock(auth_mu);
      auto it = tokens.find(token);
      if (it == tokens.end()) return std::nullopt;
      return it->second;
    }
    UserInfo from_certificate;
    if (PeerCertificateUser(req.ssl, &from_certificate.name, &from_certificate.groups)) {
      from_certificate.groups.push_back("system:authenticated");
      return from_certificate;
    }
    if (options.require_authentication) return std::nullopt;
    return UserInfo{kAdminUser, {"system:masters", "system:authenticated"}};
  }

  void RecordDenied(const UserInfo& user, const RequestAttributes& a) {
    std::string line = user.name + " " + a.verb + " ";
    if (a.resource_request) {
      line += a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) + " " +
              a.namespace_ + "/" + a.name;
    } else {
      line += a.path;
    }
    std::lock_guard<std::mutex> lock(admin_mu);
    ++denied_total;
    denied.push_back(std::move(line));
    if (denied.size() > kMaxDenied) denied.pop_front();
  }

  static bool IsAdmin(const UserInfo& user) {
    return std::find(user.groups.begin(), user.groups.end(), "system:masters") != user.groups.end();
  }

  // What the real server's system:discovery and system:public-info-viewer
  // ClusterRoles grant to every authenticated user.
  static bool IsDiscoveryPath(const std::string& path) {
    for (const char* exact : {"/api", "/apis", "/version", "/healthz", "/livez", "/readyz",
                              "/openapi", "/api/", "/apis/", "/version/"}) {
      if (path == exact) return true;
    }
    for (const char* prefix : {"/openapi/", "/healthz/", "/livez/", "/readyz/"}) {
      if (path.rfind(prefix, 0) == 0) return true;
    }
    // /api/v1 and /apis/<group>[/<version>] (discovery documents), not resources.
    const std::vector<std::string> segs = SplitPath(path);
    return (segs.size() == 2 && segs[0] == "api") ||
           (segs.size() >= 2 && segs.size() <= 3 && segs[0] == "apis");
  }

  // authorizer.Attributes as the real RequestInfoFactory derives them from
  // the path alone.
  static RequestAttributes AttributesOf(const httplib::Request& req,
                                        const std::vector<std::string>& segs, bool is_watch) {
    RequestAttributes a;
    a.path = req.path;
    std::string method = req.method;
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    const bool api = !segs.empty() && (segs[0] == "api" || segs[0] == "apis");
    const std::size_t rest = !segs.empty() && segs[0] == "api" ? 2 : 3;
    if (!api || segs.size() <= rest) {
      a.resource_request = false;
      a.verb = method;
      return a;
    }
    a.api_group = segs[0] == "api" ? "" : segs[1];
    std::vector<std::string> parts(segs.begin() + static_cast<long>(rest), segs.end());
    if (parts[0] == "namespaces" && parts.size() > 1) {
      a.namespace_ = parts[1];
      if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
        parts.erase(parts.begin(), parts.begin() + 2);
      }
    }
    a.resource = parts[0];
    if (parts.size() >= 2) a.name = parts[1];
    if (parts.size() >= 3) a.subresource = parts[2];
    if (method == "get") {
      a.verb = is_watch ? "watch" : a.name.empty() ? "list" : "get";
    } else if (method == "post") {
      a.verb = "create";
    } else if (method == "put") {
      a.verb = "update";
    } else if (method == "delete") {
      a.verb = a.name.empty() ? "deletecollection" : "delete";
    } else {
      a.verb = method;
    }
    if ((a.verb == "list" || a.verb == "watch") && a.name.empty()) {
      // A list or watch of one object by field selector is authorized by name.
      static const std::regex kByName(R"((?:^|,)metadata\.name==?([^,]+)(?:,|$))");
      std::smatch m;
      const std::string selector = req.get_param_value("fieldSelector");
      if (std::regex_search(selector, m, kByName)) a.name = m[1];
    }
    return a;
  }

  RbacObjects LoadRbac() {
    RbacObjects rbac;
    auto load = [this](const char* plural, std::vector<Json>* out) {
      auto type = store->FindType("rbac.authorization.k8s.io", "v1", plural);
      if (!type) return;
      Outcome listed = store->List(*type, "", ListOptions{});
      if (listed.error || !listed.object.contains("items")) return;
      for (const Json& item : listed.object["items"]) out->push_back(item);
    };
    load("clusterroles", &rbac.cluster_roles);
    load("clusterrolebindings", &rbac.cluster_role_bindings);
    load("roles", &rbac.roles);
    load("rolebindings", &rbac.role_bindings);
    return rbac;
  }

  // Counts a resource request (including ones a fault then fails) as
  // "<verb> <plural>[/<subresource>]".
  void CountRequest(const httplib::Request& req, const std::vector<std::string>& segs,
                    bool is_watch) {
    if (segs.empty() || (segs[0] != "api" && segs[0] != "apis")) return;
    const std::size_t rest = segs[0] == "api" ? 2 : 3;
    if (segs.size() <= rest) return;
    std::vector<std::string> parts(segs.begin() + static_cast<long>(rest), segs.end());
    const std::string group = segs[0] == "api" ? "" : segs[1];
    const std::string version = segs[0] == "api" ? segs[1] : segs[2];
    if (parts.size() >= 3 && parts[0] == "namespaces") {
      auto t = store->FindType(group, version, parts[2]);
      if (t && t->namespaced) parts.erase(parts.begin(), parts.begin() + 2);
    }
    if (parts.size() > 3) return;
    const bool named = parts.size() >= 2;
    const std::string resource = parts[0] + (parts.size() == 3 ? "/" + parts[2] : "");
    std::string verb;
    if (req.method == "GET") verb = named ? "get" : is_watch ? "watch" : "list";
    if (req.method == "POST") verb = "create";
    if (req.method == "PUT") verb = "update";
    if (req.method == "PATCH") verb = "patch";
    if (req.method == "DELETE") verb = named ? "delete" : "deletecollection";
    if (!verb.empty()) Count(verb + " " + resource);
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> SortedGroups() const {
    auto groups = store->GroupVersions();
    for (auto& [group, versions] : groups) {
      std::sort(versions.begin(), versions.end(), VersionLess);
    }
    return groups;
  }

  static Json GroupJson(const std::string& group, const std::vector<std::string>& versions) {
    Json list = Json::array();
    for (const std::string& v : versions) {
      list.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    }
    return {{"name", group}, {"versions", list}, {"preferredVersion", list[0]}};
  }

  Json ResourceList(const std::string& group, const std::string& version) const {
    auto types = store->TypesOf(group, version);
    if (types.empty()) return Json();
    Json resources = Json::array();
    const Json verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update",
                        "watch"};
    for (const ResourceType& t : types) {
      Json r = {{"name", t.plural},       {"singularName", t.singular},
                {"namespaced", t.namespaced}, {"kind", t.kind},
                {"verbs", verbs},           {"storageVersionHash", StorageVersionHash(t)}};
      if (!t.short_names.empty()) r["shortNames"] = t.short_names;
      if (!t.categories.empty()) r["categories"] = t.categories;
      resources.push_back(r);
      if (t.has_status) {
        resources.push_back({{"name", t.plural + "/status"}, {"singularName", ""},
                             {"namespaced", t.namespaced}, {"kind", t.kind},
                             {"verbs", {"get", "patch", "update"}}});
      }
      if (t.has_scale) {
        resources.push_back({{"name", t.plural + "/scale"}, {"singularName", ""},
                             {"namespaced", t.namespaced}, {"group", "autoscaling"},
                             {"version", "v1"}, {"kind", "Scale"},
                             {"verbs", {"get", "patch", "update"}}});
      }
    }
    return {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", group.empty() ? version : group + "/" + version},
            {"resources", resources}};
  }

  // ---- resources -----------------------------------------------------------

  static bool WantsTable(const httplib::Request& req) {
    const std::string accept = req.get_header_value("Accept");
    return accept.find("as=Table") != std::string::npos;
  }

  static bool DryRun(const httplib::Request& req) { return req.get_param_value("dryRun") == "All"; }

  ListOptions ListOptionsOf(const httplib::Request& req) const {
    ListOptions o;
    o.label_selector = req.get_param_value("labelSelector");
    o.field_selector = req.get_param_value("fieldSelector");
    if (req.has_param("limit")) {
      try {
        o.limit = std::stoll(req.get_param_value("limit"));
      } catch (...) {
        o.limit = 0;
      }
    }
    o.continue_token = req.get_param_value("continue");
    return o;
  }

  void HandleResource(const httplib::Request& req, httplib::Response& res,
                      const ResourceType& type, const std::string& ns, const std::string& name,
                      const std::string& sub, bool is_watch) {
    const std::string resource = type.plural + (sub.empty() ? "" : "/" + sub);
    const std::string& method = req.method;
    if (MediaType(req.get_header_value("Content-Type")) == "application/vnd.kubernetes.protobuf" &&
        !req.body.empty()) {
      return ReplyError(
          res, ApiError{415, "UnsupportedMediaType",
                        "the schemaop test apiserver accepts JSON (and YAML for apply patches) "
                        "only, not protobuf; kubectl generators such as `kubectl create "
                        "configmap` send protobuf: pipe `--dry-run=client -o yaml` into "
                        "`kubectl apply -f -` instead",
                        Json::object()});
    }
    if (method == "GET") {
      if (sub == "log") return ServePodLog(req, res, type, ns, name);
      if (!name.empty()) {
        Outcome got = store->Get(type, ns, name, sub);
        if (got.error) return ReplyError(res, *got.error);
        if (WantsTable(req) && sub.empty()) {
          TablePrinter printer(type);
          Reply(res, 200,
                printer.Table({got.object}, {{"resourceVersion", MetaOf(got.object).value("resourceVersion", "")}},
                              req.get_param_value("includeObject")));
          return;
        }
        return Reply(res, 200, got.object);
      }
      if (is_watch) {
        return ServeWatch(req, res, type, ns);
      }
      Outcome listed = store->List(type, ns, ListOptionsOf(req));
      if (listed.error) return ReplyError(res, *listed.error);
      if (WantsTable(req)) {
        std::vector<Json> items(listed.object["items"].begin(), listed.object["items"].end());
        return Reply(res, 200,
                     TablePrinter(type).Table(items, listed.object["metadata"],
                                              req.get_param_value("includeObject")));
      }
      return Reply(res, 200, listed.object);
    }
    if (method == "POST") {
      if (!name.empty()) {
        return ReplyError(res, MethodNotAllowed("POST is not supported on a named " + type.plural +
                                                " object; use PUT or PATCH"));
      }
      std::string error;
      auto body = ParseJsonOrYaml(req.body, &error);
      if (!body) return ReplyError(res, BadRequest(error));
      Outcome created = store->Create(type, ns, *body, DryRun(req));
      if (created.error) return ReplyError(res, *created.error);
      if (type.bucket() == "batch/jobs" && !DryRun(req)) jobs->Started(created.object);
      return Reply(res, created.code, created.object);
    }
    if (method == "PUT") {
      if (name.empty()) return ReplyError(res, MethodNotAllowed("PUT needs an object name"));
      std::string error;
      auto body = ParseJsonOrYaml(req.body, &error);
      if (!body) return ReplyError(res, BadRequest(error));
      Outcome updated = store->Modify(
          type, ns, name, sub,
          [&](const Json&, Json& out) -> std::optional<ApiError> {
            out = *body;
            return std::nullopt;
          },
          DryRun(req), false,
          UpdateManagerOf(req.get_param_value("fieldManager"), req.get_header_value("User-Agent")));
      if (updated.error) return ReplyError(res, *updated.error);
      return Reply(res, updated.code, updated.object);
    }
    if (method == "PATCH") {
      if (name.empty()) return ReplyError(res, MethodNotAllowed("PATCH needs an object name"));
      return HandlePatch(req, res, type, ns, name, sub);
    }
    if (method == "DELETE") {
      Json options = Json::object();
      if (!req.body.empty()) {
        options = Json::parse(req.body, nullptr, false);
        if (options.is_discarded()) return ReplyError(res, BadRequest("invalid DeleteOptions body"));
      }
      if (name.empty()) {
        Outcome deleted = store->DeleteCollection(type, ns, ListOptionsOf(req), DryRun(req));
        if (deleted.error) return ReplyError(res, *deleted.error);
        return Reply(res, 200, deleted.object);
      }
      if (!sub.empty()) return ReplyError(res, MethodNotAllowed("DELETE of a subresource"));
      Outcome deleted = store->Delete(type, ns, name, options, DryRun(req));
      if (deleted.error) return ReplyError(res, *deleted.error);
      if (type.bucket() == "batch/jobs" && !DryRun(req)) jobs->Deleted(ns, name);
      return Reply(res, deleted.code, deleted.object);
    }
    ReplyError(res, MethodNotAllowed("method " + method + " is not supported"));
  }

  // GET pods/NAME/log (text/plain): the log of a simulated Job's pod
  // (job_runner.h), else empty; container, tailLines, limitBytes honoured.
  void ServePodLog(const httplib::Request& req, httplib::Response& res, const ResourceType& type,
                   const std::string& ns, const std::string& name) {
    Outcome got = store->Get(type, ns, name, "");
    if (got.error) return ReplyError(res, *got.error);
    const std::string container = req.get_param_value("container");
    std::vector<std::string> names;
    for (const Json& c : got.object["spec"].value("containers", Json::array())) {
      names.push_back(c.value("name", ""));
    }
    if (!container.empty() && std::find(names.begin(), names.end(), container) == names.end()) {
      return ReplyError(res, BadRequest("container " + container + " is not valid for pod " + name));
    }
    auto number = [&](const char* param, long long fallback) -> std::optional<long long> {
      if (!req.has_param(param)) return fallback;
      try {
        return std::stoll(req.get_param_value(param));
      } catch (...) {
        return std::nullopt;
      }
    };
    const auto tail = number("tailLines", -1);
    const auto limit = number("limitBytes", 0);
    if (!tail || !limit || *limit < 0 || (req.has_param("limitBytes") && *limit == 0)) {
      return ReplyError(res, BadRequest("tailLines and limitBytes must be integers (limitBytes > 0)"));
    }
    res.status = 200;
    res.set_content(SelectLog(jobs->PodLog(ns, name).value_or(""), *tail, *limit), "text/plain");
  }

  void HandlePatch(const httplib::Request& req, httplib::Response& res, const ResourceType& type,
                   const std::string& ns, const std::string& name, const std::string& sub) {
    const std::string media = MediaType(req.get_header_value("Content-Type"));
    std::string error;
    std::optional<Json> patch;
    if (media == "application/apply-patch+yaml") {
      patch = ParseJsonOrYaml(req.body, &error);
    } else {
      Json parsed = Json::parse(req.body, nullptr, false);
      if (!parsed.is_discarded()) patch = parsed;
      error = "error decoding patch: invalid JSON";
    }
    if (!patch) return ReplyError(res, BadRequest(error));
    const std::string manager = req.get_param_value("fieldManager");
    Store::Mutation mutation;
    bool create = false;
    if (media == "application/merge-patch+json") {
      if (!patch->is_object()) return ReplyError(res, BadRequest("invalid JSON merge patch: not an object"));
      mutation = [&](const Json& current, Json& out) -> std::optional<ApiError> {
        out = MergePatch(current, *patch);
        return std::nullopt;
      };
    } else if (media == "application/strategic-merge-patch+json") {
      if (type.is_custom) {
        return ReplyError(res, ApiError{415, "UnsupportedMediaType",
                                        "the body of the request was in an unknown format - accepted "
                                        "media types include: application/json-patch+json, "
                                        "application/merge-patch+json, application/apply-patch+yaml",
                                        Json::object()});
      }
      mutation = [&](const Json& current, Json& out) -> std::optional<ApiError> {
        out = StrategicMergePatch(current, *patch);
        return std::nullopt;
      };
    } else if (media == "application/json-patch+json") {
      mutation = [&](const Json& current, Json& out) -> std::optional<ApiError> {
        std::string why;
        auto patched = JsonPatch(current, *patch, &why);
        if (!patched) return ApiError{422, "Invalid", why, Json::object()};
        out = *patched;
        return std::nullopt;
      };
    } else if (media == "application/apply-patch+yaml") {
      if (manager.empty()) {
        return ReplyError(res, Invalid("PatchOptions", "meta.k8s.io", "",
                                       {{"FieldValueRequired", "fieldManager",
                                         "Required value: is required for apply patch"}}));
      }
      if (!patch->is_object()) return ReplyError(res, BadRequest("apply patch must be an object"));
      create = sub.empty();
      mutation = [&](const Json& current, Json& out) -> std::optional<ApiError> {
        out = current.is_null() ? *patch : ApplyMerge(current, *patch);
        Json entry = {{"manager", manager},
                      {"operation", "Apply"},
                      {"apiVersion", type.api_version()},
                      {"time", NowRfc3339()},
                      {"fieldsType", "FieldsV1"},
                      {"fieldsV1", Json::object()}};
        if (!sub.empty()) entry["subresource"] = sub;
        Json managed = Json::array();
        for (const Json& m : MetaOf(current).value("managedFields", Json::array())) {
          if (!(m.value("manager", "") == manager && m.value("operation", "") == "Apply" &&
                m.value("subresource", "") == sub)) {
            managed.push_back(m);
          }
        }
        managed.push_back(entry);
        out["metadata"]["managedFields"] = managed;
        // A precondition only when the applied configuration carries one.
        if (!MetaOf(*patch).contains("resourceVersion") && out["metadata"].contains("resourceVersion")) {
          out["metadata"].erase("resourceVersion");
        }
        return std::nullopt;
      };
    } else {
      return ReplyError(res, ApiError{415, "UnsupportedMediaType",
                                      "the body of the request was in an unknown format - accepted "
                                      "media types include: application/json-patch+json, "
                                      "application/merge-patch+json, "
                                      "application/apply-patch+yaml, "
                                      "application/strategic-merge-patch+json",
                                      Json::object()});
    }
    // An apply records its own entry (operation Apply) in the mutation.
    const std::string update_manager =
        media == "application/apply-patch+yaml"
            ? ""
            : UpdateManagerOf(manager, req.get_header_value("User-Agent"));
    Outcome patched =
        store->Modify(type, ns, name, sub, mutation, DryRun(req), create, update_manager);
    if (patched.error) return ReplyError(res, *patched.error);
    Reply(res, patched.code, patched.object);
  }

  // ---- watch ---------------------------------------------------------------

  struct WatchState {
    std::shared_ptr<Watcher> watcher;
    Clock::time_point deadline;
    Clock::time_point next_bookmark;
    bool bookmarks = false;
    bool table = false;
    std::string include_object;
    std::vector<Json> first_events;  // e.g. the in-stream 410 ERROR
    bool finished = false;
  };

  void ServeWatch(const httplib::Request& req, httplib::Response& res, const ResourceType& type,
                  const std::string& ns) {
    auto state = std::make_shared<WatchState>();
    int timeout = options.default_watch_timeout_seconds;
    if (req.has_param("timeoutSeconds")) {
      try {
        timeout = std::stoi(req.get_param_value("timeoutSeconds"));
      } catch (...) {
        return ReplyError(res, BadRequest("invalid timeoutSeconds"));
      }
    }
    state->deadline = Clock::now() + std::chrono::seconds(timeout);
    state->bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
    state->next_bookmark = Clock::now() + std::chrono::milliseconds(bookmark_interval_ms.load());
    state->table = WantsTable(req);
    state->include_object = req.get_param_value("includeObject");
    WatchStart start = store->StartWatch(type, ns, req.get_param_value("labelSelector"),
                                         req.get_param_value("fieldSelector"),
                                         req.get_param_value("resourceVersion"),
                                         req.get_param_value("sendInitialEvents") == "true");
    if (start.error) return ReplyError(res, *start.error);
    if (start.expired) {
      if (!expired_in_stream) return ReplyError(res, *start.expired);
      state->first_events.push_back({{"type", "ERROR"}, {"object", start.expired->ToStatus()}});
      state->finished = true;
    } else {
      state->watcher = start.watcher;
    }
    const ResourceType type_copy = type;
    Store* store_ptr = store.get();
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json;stream=watch",
        [this, state, type_copy, store_ptr](size_t, httplib::DataSink& sink) {
          std::string out;
          for (const Json& e : state->first_events) out += Render(type_copy, *state, e) + "\n";
          state->first_events.clear();
          if (state->finished) {
            if (!out.empty() && !sink.write(out.data(), out.size())) return false;
            sink.done();
            return true;
          }
          const auto now = Clock::now();
          auto wake = std::min(state->deadline, now + std::chrono::milliseconds(500));
          if (state->bookmarks) wake = std::min(wake, state->next_bookmark);
          std::vector<Json> events;
          const bool open = store_ptr->WaitForEvents(state->watcher, wake, &events) && !stopping;
          for (const Json& e : events) out += Render(type_copy, *state, e) + "\n";
          if (open && state->bookmarks && Clock::now() >= state->next_bookmark) {
            // Taken after draining: every matching event up to this version
            // has been written or is already in `out`.
            const std::string rv = std::to_string(store_ptr->CurrentResourceVersion());
            std::vector<Json> late;
            store_ptr->WaitForEvents(state->watcher, Clock::now(), &late);
            for (const Json& e : late) out += Render(type_copy, *state, e) + "\n";
            if (late.empty()) {
              Json bookmark = {{"type", "BOOKMARK"},
                               {"object",
                                {{"kind", type_copy.kind},
                                 {"apiVersion", type_copy.api_version()},
                                 {"metadata", {{"resourceVersion", rv}}}}}};
              out += bookmark.dump() + "\n";
            }
            state->next_bookmark =
                Clock::now() + std::chrono::milliseconds(bookmark_interval_ms.load());
          }
          if (!out.empty() && !sink.write(out.data(), out.size())) return false;
          if (!open || Clock::now() >= state->deadline) {
            state->finished = true;
            sink.done();
          }
          return true;
        },
        [state, store_ptr](bool) {
          if (state->watcher) store_ptr->StopWatch(state->watcher);
        });
  }

  static std::string Render(const ResourceType& type, const WatchState& state, const Json& event) {
    if (!state.table || event["type"] == "ERROR" || event["type"] == "BOOKMARK") {
      return event.dump();
    }
    Json table = TablePrinter(type).Table(
        {event["object"]},
        {{"resourceVersion", MetaOf(event["object"]).value("resourceVersion", "")}},
        state.include_object);
    return Json({{"type", event["type"]}, {"object", table}}).dump();
  }

  // ---- admin API -----------------------------------------------------------

  void HandleAdmin(const httplib::Request& req, httplib::Response& res) {
    const std::string what = req.path.substr(std::string("/_test/").size());
    Json body = req.body.empty() ? Json::object() : Json::parse(req.body, nullptr, false);
    if (body.is_discarded()) {
      return Reply(res, 400, {{"error", "the admin API takes a JSON object body"}});
    }
    try {
      if (what == "faults" && req.method == "POST") {
        FaultRule rule;
        rule.method = body.value("method", "");
        rule.path_regex = body.value("path", "");
        if (body.contains("pathPrefix")) {
          rule.path_regex = "^" + std::regex_replace(body["pathPrefix"].get<std::string>(),
                                                     std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
        }
        rule.code = body.value("code", 500);
        rule.count = body.value("count", 1);
        rule.reason = body.value("reason", "");
        rule.message = body.value("message", "");
        rule.watch = body.contains("watch") ? (body["watch"].get<bool>() ? 1 : 0) : -1;
        AddFault(rule);
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "faults" && req.method == "DELETE") {
        ClearFaults();
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "latency" && req.method == "POST") {
        LatencyRule rule;
        rule.method = body.value("method", "");
        rule.path_regex = body.value("path", "");
        rule.delay_ms = body.value("delayMs", 0);
        rule.count = body.value("count", -1);
        AddLatency(rule);
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "close-watches" && req.method == "POST") {
        store->CloseAllWatches();
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "expire-history" && req.method == "POST") {
        store->ExpireHistory();
        return Reply(res, 200, {{"ok", true}, {"resourceVersion", store->CurrentResourceVersion()}});
      }
      if (what == "counters" && req.method == "GET") {
        std::lock_guard<std::mutex> lock(admin_mu);
        return Reply(res, 200, {{"requests", counters}, {"writes", WritesLocked()}});
      }
      if (what == "counters" && req.method == "DELETE") {
        std::lock_guard<std::mutex> lock(admin_mu);
        counters.clear();
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "settings" && req.method == "POST") {
        if (body.contains("expiredInStream")) expired_in_stream = body["expiredInStream"].get<bool>();
        if (body.contains("bookmarkIntervalMs")) bookmark_interval_ms = body["bookmarkIntervalMs"].get<int>();
        if (body.contains("deploymentDelayMs")) deployment_delay_ms = body["deploymentDelayMs"].get<int>();
        if (body.contains("serverMinorVersion")) server_minor_version = body["serverMinorVersion"].get<int>();
        if (body.contains("controllersPaused")) SetControllersPaused(body["controllersPaused"].get<bool>());
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "denied" && req.method == "GET") {
        std::lock_guard<std::mutex> lock(admin_mu);
        return Reply(res, 200, {{"total", denied_total}, {"requests", denied}});
      }
      if (what == "authorized" && req.method == "GET") {
        std::lock_guard<std::mutex> lock(admin_mu);
        return Reply(res, 200, {{"requests", authorized}});
      }
      if (what == "denied" && req.method == "DELETE") {
        std::lock_guard<std::mutex> lock(admin_mu);
        denied.clear();
        denied_total = 0;
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "tokens" && req.method == "POST") {
        UserInfo user;
        if (body.contains("serviceAccount")) {
          const Json& sa = body["serviceAccount"];
          user = ServiceAccountUser(sa.at("namespace").get<std::string>(),
                                    sa.at("name").get<std::string>());
        } else {
          user.name = body.at("user").get<std::string>();
          user.groups = body.value("groups", std::vector<std::string>{});
        }
        const std::string token = body.value("token", "token-" + RandomSuffix(32));
        AddToken(token, user);
        return Reply(res, 200, {{"token", token}, {"user", user.name}, {"groups", user.groups}});
      }
      if (what == "jobs/kill" && req.method == "POST") {
        const std::string ns = body.at("namespace").get<std::string>();
        const std::string job = body.at("name").get<std::string>();
        if (!jobs->KillPod(ns, job)) {
          return Reply(res, 404, {{"error", "no running pod process of Job " + ns + "/" + job}});
        }
        return Reply(res, 200, {{"ok", true}});
      }
      if (what == "reset" && req.method == "POST") {
        Reset();
        return Reply(res, 200, {{"ok", true}});
      }
    } catch (const std::exception& e) {
      return Reply(res, 400, {{"error", std::string("bad admin request: ") + e.what()}});
    }
    Reply(res, 404,
          {{"error", "unknown admin endpoint " + req.method + " " + req.path +
                         "; see tests/apiserver/README.md"}});
  }

  std::int64_t WritesLocked() const {
    std::int64_t total = 0;
    for (const auto& [key, n] : counters) {
      const std::string verb = key.substr(0, key.find(' '));
      if (verb == "create" || verb == "update" || verb == "patch" || verb == "delete" ||
          verb == "deletecollection") {
        total += n;
      }
    }
    return total;
  }

  void AddFault(const FaultRule& rule) {
    std::lock_guard<std::mutex> lock(admin_mu);
    faults.push_back({rule, std::regex(rule.path_regex.empty() ? ".*" : rule.path_regex)});
  }

  void AddLatency(const LatencyRule& rule) {
    std::lock_guard<std::mutex> lock(admin_mu);
    latencies.push_back({rule, std::regex(rule.path_regex.empty() ? ".*" : rule.path_regex)});
  }

  void ClearFaults() {
    std::lock_guard<std::mutex> lock(admin_mu);
    faults.clear();
    latencies.clear();
  }

  void Reset() {
    {
      std::lock_guard<std::mutex> lock(admin_mu);
      faults.clear();
      latencies.clear();
      counters.clear();
    }
    SetControllersPaused(false);
  }
};

// ---------------------------------------------------------------------------

TestApiServer::TestApiServer() : impl_(std::make_unique<Impl>()) {}
TestApiServer::~TestApiServer() { Stop(); }

bool TestApiServer::Start(const Options& options, std::string* error) {
  return impl_->Start(options, error);
}
void TestApiServer::Stop() { impl_->Stop(); }
int TestApiServer::port() const { return impl_->port; }
std::string TestApiServer::url() const { return impl_->Url(); }
std::string TestApiServer::ca_cert_pem() const { return impl_->tls.ca_cert; }
std::string TestApiServer::client_cert_pem() const { return impl_->tls.client_cert; }
std::string TestApiServer::client_key_pem() const { return impl_->tls.client_key; }

bool TestApiServer::WriteKubeconfig(const std::string& path, std::string* error) const {
  std::ostringstream out;
  out << "apiVersion: v1\nkind: Config\nclusters:\n- name: schemaop-test\n  cluster:\n"
      << "    server: " << url() << "\n";
  if (impl_->options.tls) {
    out << "    certificate-authority-data: " << Base64Encode(impl_->tls.ca_cert) << "\n";
  }
  out << "contexts:\n- name: schemaop-test\n  context:\n    cluster: schemaop-test\n"
      << "    user: schemaop-test\n    namespace: default\n"
      << "current-context: schemaop-test\nusers:\n- name: schemaop-test\n  user:\n";
  if (impl_->options.tls) {
    out << "    client-certificate-data: " << Base64Encode(impl_->tls.client_cert) << "\n"
        << "    client-key-data: " << Base64Encode(impl_->tls.client_key) << "\n";
  } else {
    out << "    token: " << kAdminToken << "\n";
  }
  std::ofstream file(path, std::ios::trunc);
  file << out.str();
  file.close();
  if (!file) {
    if (error) *error = "cannot write kubeconfig to " + path;
    return false;
  }
  return true;
}

void TestApiServer::AddFault(const FaultRule& rule) { impl_->AddFault(rule); }
void TestApiServer::AddLatency(const LatencyRule& rule) { impl_->AddLatency(rule); }
void TestApiServer::ClearFaults() { impl_->ClearFaults(); }
void TestApiServer::CloseWatches() { impl_->store->CloseAllWatches(); }
void TestApiServer::ExpireHistory() { impl_->store->ExpireHistory(); }
void TestApiServer::SetExpiredInStream(bool in_stream) { impl_->expired_in_stream = in_stream; }
void TestApiServer::SetBookmarkInterval(int ms) { impl_->bookmark_interval_ms = ms; }
void TestApiServer::SetDeploymentDelay(int ms) { impl_->deployment_delay_ms = ms; }
void TestApiServer::SetControllersPaused(bool paused) { impl_->SetControllersPaused(paused); }

std::map<std::string, std::int64_t> TestApiServer::RequestCounts() const {
  std::lock_guard<std::mutex> lock(impl_->admin_mu);
  return impl_->counters;
}
std::int64_t TestApiServer::RequestCount(const std::string& key) const {
  std::lock_guard<std::mutex> lock(impl_->admin_mu);
  auto it = impl_->counters.find(key);
  return it == impl_->counters.end() ? 0 : it->second;
}
std::int64_t TestApiServer::WriteCount() const {
  std::lock_guard<std::mutex> lock(impl_->admin_mu);
  return impl_->WritesLocked();
}
void TestApiServer::ResetCounters() {
  std::lock_guard<std::mutex> lock(impl_->admin_mu);
  impl_->counters.clear();
}
void TestApiServer::Reset() { impl_->Reset(); }
void TestApiServer::AddToken(const std::string& token, const std::string& user,
                             const std::vector<std::string>& groups) {
  impl_->AddToken(token, UserInfo{user, groups});
}
std::string TestApiServer::AddServiceAccountToken(const std::string& ns, const std::string& name) {
  const std::string token = "token-" + RandomSuffix(32);
  impl_->AddToken(token, ServiceAccountUser(ns, name));
  return token;
}
std::int64_t TestApiServer::CurrentResourceVersion() const {
  return impl_->store->CurrentResourceVersion();
}

}  // namespace schemaop::apiserver
