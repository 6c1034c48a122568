#include "kube/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/cpprest_transport.h"

namespace schemaop::kube {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kube_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

// "-----BEGIN CERTIFICATE-----\nCA\n" base64-encoded.
constexpr const char* kCaData = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==";

const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==
- name: prod-cluster
  cluster:
    server: https://prod.example:443
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: drawing}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
users:
- name: dev-user
  user: {token: "s3cr3t-token"}
- name: prod-user
  user:
    client-certificate: certs/client.crt
    client-key: certs/client.key
)";

TEST_F(ConfigTest, CurrentContextWithTokenAndInlineCa) {
  std::string path = Write("config", kTwoContexts);
  auto config = LoadKubeconfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n");
  EXPECT_EQ(config->bearer_token, "s3cr3t-token");
  EXPECT_EQ(config->default_namespace, "drawing");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(config->client_cert_pem.empty());
  EXPECT_EQ(config->source, path);
}

TEST_F(ConfigTest, NamedContextWithRelativeClientCertificateFiles) {
  Write("certs/client.crt", "CERT PEM");
  Write("certs/client.key", "KEY PEM");
  std::string path = Write("config", kTwoContexts);
  auto config = LoadKubeconfigFile(path, "prod");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://prod.example:443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, "CERT PEM");
  EXPECT_EQ(config->client_key_pem, "KEY PEM");
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_TRUE(config->bearer_token.empty());
}

TEST_F(ConfigTest, InlineClientCertificateData) {
  auto config = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "http://127.0.0.1:8080"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}}]
)",
                                "inline", "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_EQ(config->server, "http://127.0.0.1:8080");
}

TEST_F(ConfigTest, MalformedYamlNamesTheFileAndLine) {
  std::string path = Write("config", "clusters:\n  - name: [unclosed\n");
  auto config = LoadKubeconfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), core::Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find(path), std::string::npos);
  EXPECT_NE(config.status().message().find("line"), std::string::npos);
}

TEST_F(ConfigTest, WrongNodeTypesGiveAnErrorNotACrash) {
  auto config = ParseKubeconfig("current-context: c\ncontexts: {name: c}\n", "x", "/");
  ASSERT_FALSE(config.ok());
  auto config2 = ParseKubeconfig(
      "current-context: c\nclusters: [{name: k, cluster: {server: [1]}}]\n"
      "contexts: [{name: c, context: {cluster: k}}]\n",
      "y", "/");
  ASSERT_FALSE(config2.ok());
  EXPECT_EQ(config2.status().code(), core::Code::kInvalidArgument);
  auto empty = ParseKubeconfig("", "z", "/");
  ASSERT_FALSE(empty.ok());
}

TEST_F(ConfigTest, UnknownContextAndMissingCurrentContext) {
  std::string path = Write("config", kTwoContexts);
  auto config = LoadKubeconfigFile(path, "staging");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), core::Code::kNotFound);
  EXPECT_NE(config.status().message().find("'staging'"), std::string::npos);
  auto none = ParseKubeconfig("clusters: []\n", "f", "/");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("current-context"), std::string::npos);
}

TEST_F(ConfigTest, BadBase64NamesTheField) {
  auto config = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://a:1", certificate-authority-data: "!!notbase64"}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                                "inline", "/");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("certificate-authority-data"), std::string::npos);
}

TEST_F(ConfigTest, CertificateWithoutKeyIsRejected) {
  auto config = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://a:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]
)",
                                "inline", "/");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("client-key"), std::string::npos);
}

TEST_F(ConfigTest, MissingReferencedFileNamesIt) {
  std::string path = Write("config", kTwoContexts);  // certs/ not written
  auto config = LoadKubeconfigFile(path, "prod");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), core::Code::kNotFound);
  EXPECT_NE(config.status().message().find("client.crt"), std::string::npos);
}

TEST_F(ConfigTest, ExecPluginIsAClearError) {
  auto config = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://a:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)",
                                "inline", "/");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("exec"), std::string::npos);
}

TEST_F(ConfigTest, NonUrlServerIsRejected) {
  auto config = ParseKubeconfig(R"(current-context: c
clusters: [{name: k, cluster: {server: "127.0.0.1:6443"}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                                "inline", "/");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("server"), std::string::npos);
}

TEST_F(ConfigTest, KubeconfigEnvironmentVariable) {
  std::string path = Write("config", kTwoContexts);
  std::string list = (dir_ / "missing").string() + ":" + path;
  ::setenv("KUBECONFIG", list.c_str(), 1);
  auto config = LoadKubeconfig();
  ::unsetenv("KUBECONFIG");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->source, path);
  ::setenv("KUBECONFIG", (dir_ / "missing").c_str(), 1);
  auto missing = LoadKubeconfig();
  ::unsetenv("KUBECONFIG");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("KUBECONFIG"), std::string::npos);
}

TEST_F(ConfigTest, InClusterReadsOverriddenPaths) {
  InClusterPaths paths;
  paths.token_file = Write("sa/token", "tok-123\n");
  paths.ca_file = Write("sa/ca.crt", "CA PEM");
  paths.namespace_file = Write("sa/namespace", "schemaop-system\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = LoadInClusterConfig(paths);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->bearer_token, "tok-123");
  EXPECT_EQ(config->token_file, paths.token_file);
  EXPECT_EQ(config->ca_pem, "CA PEM");
  EXPECT_EQ(config->default_namespace, "schemaop-system");

  fs::remove(paths.token_file);
  auto missing = LoadInClusterConfig(paths);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), core::Code::kNotFound);
  EXPECT_NE(missing.status().message().find(paths.token_file), std::string::npos);
  EXPECT_NE(missing.status().message().find("automountServiceAccountToken"), std::string::npos);
}

TEST_F(ConfigTest, InClusterWithoutEnvironmentIsNotFound) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto config = LoadInClusterConfig();
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST_F(ConfigTest, TransportRejectsGarbageTlsMaterial) {
  Config config;
  config.server = "https://127.0.0.1:1";
  config.source = "test-kubeconfig";
  config.ca_pem = "-----BEGIN CERTIFICATE-----\nCA\n";
  auto transport = MakeCppRestTransport(config);
  ASSERT_FALSE(transport.ok());
  EXPECT_NE(transport.status().message().find("certificate authority"), std::string::npos);
  config.ca_pem.clear();
  config.client_cert_pem = "garbage";
  config.client_key_pem = "garbage";
  auto transport2 = MakeCppRestTransport(config);
  ASSERT_FALSE(transport2.ok());
  EXPECT_NE(transport2.status().message().find("client certificate"), std::string::npos);
}

}  // namespace
}  // namespace schemaop::kube
