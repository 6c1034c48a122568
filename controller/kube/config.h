#pragma once
// Where the API server is and how to authenticate: in-cluster service account
// or kubeconfig. Loading never throws; a bad file gives a Status naming the
// file, the field and the fix.
#include <chrono>
#include <string>

#include "core/status.h"

namespace schemaop::kube {

struct Config {
  std::string server;  // "https://10.0.0.1:443" (no trailing slash)
  // Trust: PEM data of the CA bundle (from a file or inline base64 data).
  // Empty means the system trust store. TLS is verified unless
  // insecure_skip_tls_verify is set explicitly.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Client certificate authentication (PEM), both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Bearer token. If token_file is set, the client re-reads it every
  // token_refresh_interval and after a 401, so a rotated projected
  // service-account token keeps working. Never logged.
  std::string bearer_token;
  std::string token_file;
  std::chrono::seconds token_refresh_interval{60};
  // Namespace of the context / the pod ("default" if unspecified).
  std::string default_namespace = "default";
  // Where this came from ("in-cluster" or the kubeconfig path), for messages.
  std::string source;
  // Per-request timeout for ordinary calls (connect + no-progress).
  std::chrono::milliseconds request_timeout{30000};
  // Watch streams: how long a stream may stay silent before the client gives
  // up on it and reconnects. Must exceed the server's bookmark interval
  // (about a minute on kube-apiserver) so healthy idle watches are not cut.
  std::chrono::milliseconds watch_idle_timeout{90000};
};

// Paths of the in-cluster service-account files, overridable for tests.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// Reads KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and the service-account
// files. Error (kNotFound / kInvalidArgument) if not running in a pod.
[[nodiscard]] core::Result<Config> LoadInClusterConfig(const InClusterPaths& paths = {});

// Parses one kubeconfig file. `context` empty means current-context. Relative
// file paths inside are resolved against the kubeconfig's directory.
[[nodiscard]] core::Result<Config> LoadKubeconfigFile(const std::string& path,
                                                      const std::string& context = "");

// Same, from YAML text (`origin` names it in messages; `base_dir` resolves
// relative paths).
[[nodiscard]] core::Result<Config> ParseKubeconfig(const std::string& yaml_text,
                                                   const std::string& origin,
                                                   const std::string& base_dir,
                                                   const std::string& context = "");

// `explicit_path` if non-empty, else $KUBECONFIG (first existing entry of the
// colon-separated list), else ~/.kube/config.
[[nodiscard]] core::Result<Config> LoadKubeconfig(const std::string& explicit_path = "",
                                                  const std::string& context = "");

// In-cluster when KUBERNETES_SERVICE_HOST is set and no explicit kubeconfig is
// given, otherwise LoadKubeconfig.
[[nodiscard]] core::Result<Config> LoadDefaultConfig(const std::string& kubeconfig_path = "",
                                                     const std::string& context = "");

}  // namespace schemaop::kube
