// kube::ParseKubeconfig on any text: never throws or crashes (yaml-cpp
// exceptions become a Status), and an accepted config has an http(s) server
// without a trailing slash, a client certificate and key together or not at
// all, a namespace and its origin. Relative file paths resolve against a
// directory that does not exist; inputs that could name a device or a kernel
// file (/dev/zero would be read forever) are skipped, including YAML escapes
// that could spell one.
#include <string>

#include "fuzz_targets.h"
#include "kube/config.h"

namespace schemaop::fuzz {

void Kubeconfig(std::string_view input) {
  for (std::string_view unsafe : {"\\x", "\\u", "\\U", "/dev", "/proc", "/sys", "/run"}) {
    if (input.find(unsafe) != std::string_view::npos) {
      return;
    }
  }
  const auto config =
      kube::ParseKubeconfig(std::string(input), "fuzz-kubeconfig", "/nonexistent-schemaop-fuzz");
  if (!config.ok()) {
    SCHEMAOP_FUZZ_CHECK(!config.status().message().empty(), "error without a message");
    return;
  }
  const std::string& server = config->server;
  SCHEMAOP_FUZZ_CHECK(server.rfind("https://", 0) == 0 || server.rfind("http://", 0) == 0,
                      "server [" + server + "]");
  SCHEMAOP_FUZZ_CHECK(server.back() != '/', "server with a trailing slash [" + server + "]");
  SCHEMAOP_FUZZ_CHECK(config->client_cert_pem.empty() == config->client_key_pem.empty(),
                      "client certificate without key or key without certificate");
  SCHEMAOP_FUZZ_CHECK(!config->default_namespace.empty(), "empty namespace");
  SCHEMAOP_FUZZ_CHECK(config->source == "fuzz-kubeconfig", "source [" + config->source + "]");
}

}  // namespace schemaop::fuzz
