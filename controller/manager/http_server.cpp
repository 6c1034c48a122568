#include "manager/http_server.h"

#include <httplib.h>

#include <cctype>
#include <thread>
#include <utility>

namespace schemaop::manager {

using core::Code;
using core::Status;

core::Result<BindAddress> ParseBindAddress(const std::string& text) {
  const std::string fix =
      " Use HOST:PORT or :PORT (e.g. :8080 or 127.0.0.1:8080), or 0 to disable.";
  BindAddress out;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status(Code::kInvalidArgument, "invalid bind address '" + text + "'." + fix);
    }
    out.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      port_text = text;
    } else {
      if (colon > 0) {
        out.host = text.substr(0, colon);
      }
      port_text = text.substr(colon + 1);
    }
  }
  if (port_text.empty() || port_text.size() > 5) {
    return Status(Code::kInvalidArgument, "invalid port in bind address '" + text + "'." + fix);
  }
  for (char c : port_text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Status(Code::kInvalidArgument,
                    "invalid port in bind address '" + text + "'." + fix);
    }
  }
  out.port = std::stoi(port_text);
  if (out.port > 65535) {
    return Status(Code::kInvalidArgument, "port out of range in bind address '" + text + "'." + fix);
  }
  if (text == "0") {
    return Status(Code::kInvalidArgument, "bind address '0' means disabled, not an address");
  }
  return out;
}

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {}
HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const BindAddress& address, Endpoints endpoints) {
  auto& server = impl_->server;
  auto probe = [](const std::function<std::string()>& check) {
    return [check](const httplib::Request&, httplib::Response& res) {
      const std::string problem = check();
      if (problem.empty()) {
        res.set_content("ok\n", "text/plain");
      } else {
        res.status = 503;
        res.set_content(problem + "\n", "text/plain");
      }
    };
  };
  if (endpoints.metrics) {
    auto metrics = endpoints.metrics;
    server.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  if (endpoints.healthz) {
    server.Get("/healthz", probe(endpoints.healthz));
  }
  if (endpoints.readyz) {
    server.Get("/readyz", probe(endpoints.readyz));
  }
  const std::string where = address.host + ":" + std::to_string(address.port);
  if (address.port == 0) {
    impl_->port = server.bind_to_any_port(address.host);
    if (impl_->port <= 0) {
      return Status(Code::kUnreachable, "cannot listen on " + where);
    }
  } else {
    if (!server.bind_to_port(address.host, address.port)) {
      return Status(Code::kUnreachable,
                    "cannot listen on " + where +
                        " (address in use or not local?). Choose another address with the flag, "
                        "or 0 to disable.");
    }
    impl_->port = address.port;
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

int HttpServer::port() const { return impl_->port; }

}  // namespace schemaop::manager
