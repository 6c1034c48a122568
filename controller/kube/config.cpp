#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace schemaop::kube {
namespace {

using core::Code;
using core::Result;
using core::Status;

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(Code::kNotFound, what + " file '" + path + "' cannot be read (" +
                                       std::strerror(errno) + ")");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  auto end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

// Standard base64 (kubeconfig *-data fields). Whitespace is ignored.
bool Base64Decode(const std::string& in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out->clear();
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding) return false;  // data after padding
    int v = value(c);
    if (v < 0) return false;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return true;
}

std::string JoinPath(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Finds the entry `name` in a kubeconfig list like clusters: [{name, cluster}].
YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>() == name) {
      return entry[inner];
    }
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap() || !node[key] || node[key].IsNull()) return "";
  return node[key].as<std::string>();
}

// Loads "X" (file path) or "X-data" (inline base64) into *pem.
Status LoadPem(const YAML::Node& node, const std::string& field, const std::string& origin,
               const std::string& base_dir, std::string* pem) {
  std::string data = Str(node, (field + "-data").c_str());
  std::string file = Str(node, field.c_str());
  if (!data.empty()) {
    if (!Base64Decode(data, pem) || pem->empty()) {
      return Status(Code::kInvalidArgument,
                    "kubeconfig " + origin + ": field '" + field +
                        "-data' is not valid base64; re-encode the PEM with `base64 -w0`");
    }
    return Status::Ok();
  }
  if (!file.empty()) {
    auto content = ReadFile(JoinPath(base_dir, file), "kubeconfig " + origin + " '" + field + "'");
    if (!content.ok()) return content.status();
    *pem = std::move(content.value());
  }
  return Status::Ok();
}

Result<Config> ParseKubeconfigImpl(const std::string& text, const std::string& origin,
                                   const std::string& base_dir, const std::string& context_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument,
                  "kubeconfig " + origin + " is not valid YAML (line " +
                      std::to_string(e.mark.line + 1) + "): " + e.msg +
                      "; fix the file or point KUBECONFIG at a valid one");
  }
  if (!root || !root.IsMap()) {
    return Status(Code::kInvalidArgument, "kubeconfig " + origin +
                                              " is empty or not a mapping; expected a "
                                              "kubeconfig with clusters, users and contexts");
  }
  std::string ctx_name = context_name.empty() ? Str(root, "current-context") : context_name;
  if (ctx_name.empty()) {
    return Status(Code::kInvalidArgument,
                  "kubeconfig " + origin +
                      " has no current-context; set one with `kubectl config use-context NAME` "
                      "or pass a context name");
  }
  YAML::Node ctx = FindNamed(root["contexts"], ctx_name, "context");
  if (!ctx || !ctx.IsMap()) {
    return Status(Code::kNotFound, "kubeconfig " + origin + ": context '" + ctx_name +
                                       "' not found in 'contexts'; list them with "
                                       "`kubectl config get-contexts`");
  }
  std::string cluster_name = Str(ctx, "cluster");
  YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap()) {
    return Status(Code::kNotFound, "kubeconfig " + origin + ": cluster '" + cluster_name +
                                       "' (from context '" + ctx_name +
                                       "') not found in 'clusters'");
  }
  Config config;
  config.source = origin;
  config.server = Str(cluster, "server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status(Code::kInvalidArgument, "kubeconfig " + origin + ": cluster '" + cluster_name +
                                              "' field 'server' must be an http(s):// URL, got '" +
                                              config.server + "'");
  }
  if (cluster["insecure-skip-tls-verify"]) {
    try {
      config.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>();
    } catch (const YAML::Exception&) {
      return Status(Code::kInvalidArgument, "kubeconfig " + origin + ": cluster '" + cluster_name +
                                                "' field 'insecure-skip-tls-verify' must be "
                                                "true or false");
    }
  }
  if (Status s = LoadPem(cluster, "certificate-authority", origin, base_dir, &config.ca_pem);
      !s.ok()) {
    return s;
  }
  std::string ns = Str(ctx, "namespace");
  if (!ns.empty()) config.default_namespace = ns;

  std::string user_name = Str(ctx, "user");
  if (!user_name.empty()) {
    YAML::Node user = FindNamed(root["users"], user_name, "user");
    if (!user) {
      return Status(Code::kNotFound, "kubeconfig " + origin + ": user '" + user_name +
                                         "' (from context '" + ctx_name +
                                         "') not found in 'users'");
    }
    if (user.IsMap()) {
      if (user["exec"] || user["auth-provider"]) {
        return Status(Code::kInvalidArgument,
                      "kubeconfig " + origin + ": user '" + user_name +
                          "' uses an exec/auth-provider plugin, which schemaop does not run; "
                          "use a token, a client certificate or in-cluster credentials");
      }
      config.bearer_token = Trim(Str(user, "token"));
      std::string token_file = Str(user, "tokenFile");
      if (!token_file.empty()) config.token_file = JoinPath(base_dir, token_file);
      if (Status s = LoadPem(user, "client-certificate", origin, base_dir,
                             &config.client_cert_pem);
          !s.ok()) {
        return s;
      }
      if (Status s = LoadPem(user, "client-key", origin, base_dir, &config.client_key_pem);
          !s.ok()) {
        return s;
      }
      if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
        return Status(Code::kInvalidArgument,
                      "kubeconfig " + origin + ": user '" + user_name +
                          "' has a client certificate without a key (or a key without a "
                          "certificate); set both client-certificate(-data) and "
                          "client-key(-data)");
      }
    }
  }
  return config;
}

}  // namespace

core::Result<Config> ParseKubeconfig(const std::string& yaml_text, const std::string& origin,
                                     const std::string& base_dir, const std::string& context) {
  try {
    return ParseKubeconfigImpl(yaml_text, origin, base_dir, context);
  } catch (const YAML::Exception& e) {
    // Wrong node types (a list where a map is expected, etc.).
    return Status(Code::kInvalidArgument, "kubeconfig " + origin + " is malformed (line " +
                                              std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
}

core::Result<Config> LoadKubeconfigFile(const std::string& path, const std::string& context) {
  auto text = ReadFile(path, "kubeconfig");
  if (!text.ok()) {
    return Status(Code::kNotFound, text.status().message() +
                                       "; set KUBECONFIG or --kubeconfig to a valid file");
  }
  return ParseKubeconfig(text.value(), path, DirName(path), context);
}

core::Result<Config> LoadKubeconfig(const std::string& explicit_path, const std::string& context) {
  if (!explicit_path.empty()) return LoadKubeconfigFile(explicit_path, context);
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::stringstream list(env);
    std::string entry;
    while (std::getline(list, entry, ':')) {
      if (entry.empty()) continue;
      if (std::ifstream(entry).good()) return LoadKubeconfigFile(entry, context);
    }
    return Status(Code::kNotFound, std::string("no file in KUBECONFIG='") + env +
                                       "' exists; fix the variable or unset it");
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr) {
    return Status(Code::kNotFound,
                  "no kubeconfig: KUBECONFIG and HOME are unset; pass --kubeconfig");
  }
  return LoadKubeconfigFile(std::string(home) + "/.kube/config", context);
}

core::Result<Config> LoadInClusterConfig(const InClusterPaths& paths) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return Status(Code::kNotFound,
                  "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST/PORT are unset; "
                  "use a kubeconfig instead");
  }
  Config config;
  config.source = "in-cluster";
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  config.server = "https://" + h + ":" + port;
  auto token = ReadFile(paths.token_file, "service-account token");
  if (!token.ok()) {
    return Status(Code::kNotFound, token.status().message() +
                                       "; mount the service-account token "
                                       "(automountServiceAccountToken: true)");
  }
  config.bearer_token = Trim(token.value());
  if (config.bearer_token.empty()) {
    return Status(Code::kInvalidArgument,
                  "service-account token file '" + paths.token_file + "' is empty");
  }
  config.token_file = paths.token_file;
  auto ca = ReadFile(paths.ca_file, "service-account CA");
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(ca.value());
  if (auto ns = ReadFile(paths.namespace_file, "service-account namespace"); ns.ok()) {
    std::string trimmed = Trim(ns.value());
    if (!trimmed.empty()) config.default_namespace = trimmed;
  }
  return config;
}

core::Result<Config> LoadDefaultConfig(const std::string& kubeconfig_path,
                                       const std::string& context) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (kubeconfig_path.empty() && host != nullptr && *host != '\0') {
    return LoadInClusterConfig();
  }
  return LoadKubeconfig(kubeconfig_path, context);
}

}  // namespace schemaop::kube
