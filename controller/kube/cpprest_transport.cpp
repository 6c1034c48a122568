#include "kube/cpprest_transport.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cpprest/http_client.h>
#include <pplx/pplxtasks.h>

#include <system_error>
#include <vector>

namespace schemaop::kube {
namespace {

using core::Code;
using core::Result;
using core::Status;
namespace http = web::http;

std::string OpenSslError() {
  unsigned long err = ERR_get_error();  // NOLINT(google-runtime-int)
  if (err == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// Parses the PEM material up front so a bad kubeconfig gives a clear error at
// start-up rather than an opaque handshake failure on the first request.
Status ValidateTls(const Config& config) {
  auto bio_of = [](const std::string& pem) {
    return std::unique_ptr<BIO, decltype(&BIO_free)>(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  };
  if (!config.ca_pem.empty()) {
    auto bio = bio_of(config.ca_pem);
    X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (ca == nullptr) {
      return Status(Code::kInvalidArgument,
                    "the certificate authority of " + config.source +
                        " is not a PEM certificate (" + OpenSslError() +
                        "); fix certificate-authority(-data)");
    }
    X509_free(ca);
  }
  if (!config.client_cert_pem.empty()) {
    auto cert_bio = bio_of(config.client_cert_pem);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) {
      return Status(Code::kInvalidArgument,
                    "the client certificate of " + config.source + " is not a PEM certificate (" +
                        OpenSslError() + "); fix client-certificate(-data)");
    }
    auto key_bio = bio_of(config.client_key_pem);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    if (!key) {
      ERR_clear_error();
      return Status(Code::kInvalidArgument, "the client key of " + config.source +
                                                " is not a PEM private key; fix client-key(-data)");
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      ERR_clear_error();
      return Status(Code::kInvalidArgument,
                    "the client key of " + config.source +
                        " does not match its client certificate; fix client-key(-data)");
    }
  }
  return Status::Ok();
}

Status FromException(const std::exception& e, const std::string& server) {
  if (const auto* he = dynamic_cast<const http::http_exception*>(&e)) {
    if (he->error_code() == std::errc::timed_out) {
      return Status(Code::kTimeout, "no response from " + server + " within the timeout",
                    "timeout");
    }
  }
  std::string what = e.what();
  return Status(Code::kUnreachable,
                "cannot reach the API server " + server + ": " + what +
                    " (check the server address, network and TLS settings)",
                "unreachable");
}

class CppRestTransport final : public Transport {
 public:
  explicit CppRestTransport(const Config& config)
      : server_(config.server),
        client_(config.server, MakeConfig(config, config.request_timeout)),
        stream_client_(config.server, MakeConfig(config, config.watch_idle_timeout)) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    // A pooled keep-alive connection that the server (or a load balancer)
    // closed while idle fails before any response arrives, and every retry
    // may pick the next stale connection of the pool. Such a failure is sent
    // again, a bounded number of times, as long as no response head was read.
    // Re-sending is safe for the calls this client makes: updates carry a
    // resourceVersion (a duplicate gets 409), patches and deletes are
    // idempotent, and a repeated create of a named object gets AlreadyExists.
    // Timeouts are not retried: the server may still be working on it.
    constexpr int kAttempts = 10;
    for (int attempt = 1;; ++attempt) {
      http::http_response response;
      try {
        response = client_.request(ToCpprest(request)).get();
      } catch (const std::exception& e) {
        Status status = FromException(e, server_);
        if (attempt < kAttempts && status.code() == Code::kUnreachable) {
          continue;
        }
        return status;
      }
      try {
        HttpResponse out = Head(response);
        out.resent = attempt - 1;
        std::vector<unsigned char> body = response.extract_vector().get();
        out.body.assign(body.begin(), body.end());
        return out;
      } catch (const std::exception& e) {
        return FromException(e, server_);
      }
    }
  }

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_data,
                              Cancellation& cancel) override {
    pplx::cancellation_token_source source;
    int hook = cancel.Register([source]() mutable { source.cancel(); });
    struct Unhook {
      Cancellation& cancel;
      int id;
      ~Unhook() { cancel.Unregister(id); }
    } unhook{cancel, hook};
    HttpResponse out;
    try {
      http::http_response response =
          stream_client_.request(ToCpprest(request), source.get_token()).get();
      out = Head(response);
      if (out.status < 200 || out.status >= 300) {
        std::vector<unsigned char> body = response.extract_vector().get();
        out.body.assign(body.begin(), body.end());
        return out;
      }
      auto buffer = response.body().streambuf();
      std::vector<char> chunk(64 * 1024);
      while (!cancel.cancelled()) {
        // Blocks this (dedicated) thread until a byte or the end arrives,
        // then takes whatever else is already buffered without blocking.
        auto first = buffer.bumpc().get();
        if (first == std::char_traits<char>::eof()) break;
        chunk[0] = static_cast<char>(first);
        size_t n = 1;
        size_t available = buffer.in_avail();
        if (available > 0) {
          n += buffer.getn(reinterpret_cast<uint8_t*>(chunk.data() + 1),
                           std::min(available, chunk.size() - 1))
                   .get();
        }
        if (!on_data(std::string_view(chunk.data(), n))) {
          source.cancel();  // closes the connection
          break;
        }
      }
      return out;
    } catch (const pplx::task_canceled&) {
      return out;
    } catch (const std::exception& e) {
      if (cancel.cancelled()) return out;
      if (out.status != 0) {
        return Status(Code::kUnreachable,
                      "watch stream from " + server_ + " broke: " + std::string(e.what()),
                      "stream broken");
      }
      return FromException(e, server_);
    }
  }

 private:
  static http::client::http_client_config MakeConfig(const Config& config,
                                                     std::chrono::milliseconds timeout) {
    http::client::http_client_config c;
    c.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    c.set_validate_certificates(!config.insecure_skip_tls_verify);
    // Requests are written as header + body; with Nagle's algorithm the body
    // waits for the peer's delayed ACK (~40 ms per request). Disable it.
    const bool https = config.server.rfind("https://", 0) == 0;
    c.set_nativehandle_options([https](web::http::client::native_handle handle) {
      boost::system::error_code ignored;
      if (https) {
        static_cast<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>*>(handle)
            ->lowest_layer()
            .set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      } else {
        static_cast<boost::asio::ip::tcp::socket*>(handle)->set_option(
            boost::asio::ip::tcp::no_delay(true), ignored);
      }
    });
    std::string ca = config.ca_pem;
    std::string cert = config.client_cert_pem;
    std::string key = config.client_key_pem;
    c.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert));
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    });
    return c;
  }

  static http::http_request ToCpprest(const HttpRequest& request) {
    http::http_request out(http::method(request.method));
    out.set_request_uri(web::uri(request.path_and_query));
    std::string content_type;
    for (const auto& [name, value] : request.headers) {
      if (name == "Content-Type") {
        content_type = value;
      } else {
        out.headers().add(name, value);
      }
    }
    if (!request.body.empty() || !content_type.empty()) {
      out.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
      if (!content_type.empty()) out.headers().set_content_type(content_type);
    }
    return out;
  }

  static HttpResponse Head(const http::http_response& response) {
    HttpResponse out;
    out.status = response.status_code();
    for (const auto& [name, value] : response.headers()) {
      std::string lower = name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[lower] = value;
    }
    return out;
  }

  std::string server_;
  http::client::http_client client_;
  http::client::http_client stream_client_;
};

}  // namespace

core::Result<std::unique_ptr<Transport>> MakeCppRestTransport(const Config& config) {
  if (config.server.empty()) {
    return Status(Code::kInvalidArgument, "no API server address in " + config.source);
  }
  if (Status s = ValidateTls(config); !s.ok()) return s;
  try {
    return std::unique_ptr<Transport>(std::make_unique<CppRestTransport>(config));
  } catch (const std::exception& e) {
    return Status(Code::kInvalidArgument, "invalid API server address '" + config.server +
                                              "' in " + config.source + ": " + e.what());
  }
}

}  // namespace schemaop::kube
