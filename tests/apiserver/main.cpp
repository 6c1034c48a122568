// schemaop-test-apiserver: the test Kubernetes API server as a process, for
// e2e tests and kubectl. See README.md for flags and the admin API.

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "test_api_server.h"

int main(int argc, char** argv) {
  schemaop::apiserver::Options options;
  std::string kubeconfig_out;
  CLI::App app{"Test Kubernetes API server for schemaop tests"};
  app.add_option("--port", options.port, "TCP port; 0 picks a free one")->capture_default_str();
  app.add_option("--bind", options.bind_address, "address to listen on")->capture_default_str();
  app.add_flag("--tls", options.tls,
               "serve HTTPS with generated certificates and require client certificates");
  app.add_option("--cert-dir", options.cert_dir,
                 "where --tls writes ca.crt, server.crt/.key, client.crt/.key "
                 "(default: a new temporary directory)");
  app.add_option("--kubeconfig-out", kubeconfig_out, "write a kubeconfig for this server here");
  app.add_option("--bookmark-interval-ms", options.bookmark_interval_ms,
                 "interval between watch BOOKMARK events")
      ->capture_default_str();
  app.add_option("--history-size", options.history_size,
                 "watch events kept per resource type (older resourceVersions get 410 Gone)")
      ->capture_default_str();
  app.add_option("--deployment-delay-ms", options.deployment_delay_ms,
                 "delay before workload status follows spec.replicas")
      ->capture_default_str();
  app.add_option("--default-watch-timeout-s", options.default_watch_timeout_seconds,
                 "watch duration when the client sets no timeoutSeconds")
      ->capture_default_str();
  bool expired_http = false;
  app.add_flag("--expired-as-http-410", expired_http,
               "answer a watch from a too old resourceVersion with HTTP 410 instead of an "
               "in-stream ERROR event");
  app.add_option("--threads", options.thread_pool_size, "HTTP worker threads")
      ->capture_default_str();
  app.add_flag("--log-requests", options.log_requests, "log every request to stderr");
  app.add_option("--token-file", options.token_file,
                 "bearer tokens, one per line: token,user,uid[,\"group1,group2\"]");
  app.add_flag("--require-auth", options.require_authentication,
               "answer 401 to requests without credentials (default: they act as the admin)");
  CLI11_PARSE(app, argc, argv);
  options.expired_in_stream = !expired_http;

  // Signals are taken synchronously by this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  schemaop::apiserver::TestApiServer server;
  std::string error;
  if (!server.Start(options, &error)) {
    std::cerr << "schemaop-test-apiserver: " << error << std::endl;
    return 1;
  }
  if (!kubeconfig_out.empty() && !server.WriteKubeconfig(kubeconfig_out, &error)) {
    std::cerr << "schemaop-test-apiserver: " << error << std::endl;
    server.Stop();
    return 1;
  }
  std::cout << "listening on " << server.url() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "schemaop-test-apiserver: signal " << received << ", shutting down" << std::endl;
  server.Stop();
  return 0;
}
