#include "supervisor/admin_server.hpp"

#include <httplib.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "supervisor/admin_auth.hpp"

namespace sluice::supervisor {

// cpp-httplib's request handling, run over a request HttpFront has already buffered
// (process_request is protected: this subclass is how we reach it without its sockets).
class Router : public httplib::Server {
 public:
  std::string serve(const std::string& request, const Peer& peer, const Peer& local) {
    Buffered s(request, peer, local);
    bool closed = false;
    process_request(s, true, closed, nullptr);
    return std::move(s.out);
  }

 private:
  struct Buffered : httplib::Stream {
    Buffered(const std::string& in, const Peer& peer, const Peer& local) : in(in), peer(peer), local(local) {}
    bool is_readable() const override { return pos < in.size(); }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override {
      const size_t n = std::min(size, in.size() - pos);
      in.copy(ptr, n, pos);
      pos += n;
      return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
      out.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
      ip = peer.ip;
      port = peer.port;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
      ip = local.ip;
      port = local.port;
    }
    // Only compared with FD_SETSIZE by cpp-httplib (it would refuse a high descriptor
    // it is not going to use here); there is no socket behind this stream.
    socket_t socket() const override { return 0; }

    const std::string& in;
    size_t pos = 0;
    std::string out;
    Peer peer;
    Peer local;
  };
};

namespace {

std::string error_body(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }

}  // namespace

AdminServer::AdminServer(const std::string& listen, AdminAccess access, Mailbox& mailbox,
                         std::chrono::milliseconds wait_limit)
    : router_(std::make_unique<Router>()), access_(std::move(access)), mailbox_(mailbox), wait_limit_(wait_limit) {
  if (access_.token.empty()) throw std::logic_error("the admin API needs a token");
  const auto parts = config::split_listen(listen);
  if (!parts) throw std::runtime_error("admin_listen \"" + listen + "\" is not HOST:PORT");
  const auto& [host, port] = *parts;
  routes();
  try {
    front_ = std::make_unique<HttpFront>(host, port, [this](const std::string& request, const Peer& peer, const Peer& local) {
      return answer(request, peer, local);
    });
  } catch (const std::exception& e) {
    throw std::runtime_error("admin API: cannot listen on " + listen + " (" + e.what() +
                             "; another daemon may be using it); set admin_listen, or \"\" to turn the admin API off");
  }
  port_ = front_->port();
  address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port_);
}

AdminServer::~AdminServer() {
  stopping_ = true;  // requests waiting for the supervisor give up
  front_.reset();
}

std::string AdminServer::answer(const std::string& request, const Peer& peer, const Peer& local) {
  return router_->serve(request, peer, local);
}

void AdminServer::routes() {
  auto& s = *router_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    auto refuse = [&](int status, const std::string& why) {
      res.status = status;
      if (status == 401) res.set_header("WWW-Authenticate", "Bearer");
      res.set_content(error_body(why), "application/json");
      return R::Handled;
    };
    const std::string challenge = req.get_header_value(kChallengeHeader);
    if (!challenge.empty() && challenge.size() <= 128) {
      res.set_header(kProofHeader, admin_proof(access_.token, access_.instance, challenge));
    }
    // A web page the operator opens can make the browser send requests here (a form
    // or a no-cors fetch: CSRF), and with DNS rebinding read the answers. Browsers say
    // where a request comes from; nothing else this API serves sends these headers.
    const std::string site = req.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none") {
      return refuse(403, "cross-site request refused (Sec-Fetch-Site: " + site + ")");
    }
    const std::string host = req.get_header_value("Host");
    if (req.has_header("Origin") && req.get_header_value("Origin") != "http://" + host) {
      return refuse(403, "cross-origin request refused (Origin: " + req.get_header_value("Origin") + ")");
    }
    const std::string auth = req.get_header_value("Authorization");
    const bool authorized = auth.starts_with("Bearer ") && same_secret(std::string_view(auth).substr(7), access_.token);
    if (!authorized && !host_is_direct(host, port_)) {
      // A DNS name pointing here is how a rebinding page reaches a loopback port.
      return refuse(403, "Host \"" + host + "\" is not an address of this API; use its IP address or localhost");
    }
    const bool is_read = req.method == "GET" || req.method == "HEAD";
    const bool open = is_read && (!access_.reads_need_token || req.path == "/healthz");
    if (!authorized && !open) {
      return refuse(401, std::string(auth.empty() ? "missing" : "wrong") + " bearer token" +
                             (is_read ? "" : "; requests that change the daemon always need one (sluice status and "
                                             "sluice reload find it in the runtime directory)"));
    }
    return R::Unhandled;
  });

  auto ask_with = [this](AdminRequest request, httplib::Response& res) {
    auto answer = mailbox_.post(std::move(request));
    const auto deadline = std::chrono::steady_clock::now() + wait_limit_;
    // In slices, so a daemon that stops does not wait for requests still being answered.
    while (answer.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (stopping_ || std::chrono::steady_clock::now() >= deadline) {
        res.status = stopping_ ? 503 : 504;
        res.set_content(error_body(stopping_ ? "sluice is stopping"
                                             : "no answer from the supervisor within " + std::to_string(wait_limit_.count()) +
                                                   " ms; the operation goes on, see GET /lambdas"),
                        "application/json");
        return;
      }
    }
    const AdminResponse r = answer.get();
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  };
  auto ask = [ask_with](AdminAction action, std::string name, httplib::Response& res) {
    AdminRequest request;
    request.action = action;
    request.name = std::move(name);
    ask_with(std::move(request), res);
  };
  auto named = [ask](AdminAction action) {
    return [ask, action](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.matches[1];
      if (!config::valid_name(name)) {
        res.status = 400;
        res.set_content(error_body("\"" + name + "\" is not a lambda name (1-64 letters, digits, '_' or '-')"),
                        "application/json");
        return;
      }
      ask(action, name, res);
    };
  };

  // The POST routes take a content reader they never call: these requests carry no
  // body, and cpp-httplib 0.11 answers 400 to a POST without Content-Length (what
  // `curl -X POST` sends) unless the handler reads the body itself.
  s.Post(R"(/kafka/register/([^/]*))",
         [h = named(AdminAction::kRegister)](const httplib::Request& req, httplib::Response& res,
                                             const httplib::ContentReader&) { h(req, res); });
  s.Delete(R"(/kafka/register/([^/]*))", named(AdminAction::kDeregister));
  // Partitions stopped by on_failure = "stop" are retried from their failed record:
  // every one of the lambda, or ?topic=T (&partition=N) only.
  s.Post(R"(/lambdas/([^/]*)/resume)", [ask_with](const httplib::Request& req, httplib::Response& res,
                                                  const httplib::ContentReader&) {
    AdminRequest request;
    request.action = AdminAction::kResume;
    request.name = req.matches[1];
    request.topic = req.get_param_value("topic");
    const std::string partition = req.get_param_value("partition");
    if (!config::valid_name(request.name) || (!partition.empty() && request.topic.empty())) {
      res.status = 400;
      res.set_content(error_body("usage: POST /lambdas/<name>/resume[?topic=T[&partition=N]]"), "application/json");
      return;
    }
    if (!partition.empty()) {
      char* end = nullptr;
      const long n = std::strtol(partition.c_str(), &end, 10);
      if (end == partition.c_str() || *end != '\0' || n < 0 || n > INT32_MAX) {
        res.status = 400;
        res.set_content(error_body("partition \"" + partition + "\" is not a partition number"), "application/json");
        return;
      }
      request.partition = static_cast<std::int32_t>(n);
    }
    ask_with(std::move(request), res);
  });
  s.Post("/reload", [ask](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
    // wait=0 answers once the new configuration is read and applied, not settled.
    ask(req.get_param_value("wait") == "0" ? AdminAction::kReloadNoWait : AdminAction::kReload, "", res);
  });
  s.Get("/lambdas", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kLambdas, "", res); });
  s.Get("/metrics", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kMetrics, "", res); });
  s.Get("/healthz", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kHealth, "", res); });
  // The read endpoints answer other methods with 405 and what they allow (a POST used to
  // get 400: cpp-httplib refuses a body it was not asked to read before routing).
  const auto only_get = [](const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET");
    res.set_content(error_body("method " + req.method + " not allowed on " + req.path + "; use GET"), "application/json");
  };
  // POST and PUT take the content-reader form, so cpp-httplib routes them before a body.
  const auto only_get_with_body = [only_get](const httplib::Request& req, httplib::Response& res,
                                             const httplib::ContentReader&) { only_get(req, res); };
  for (const char* path : {"/lambdas", "/metrics", "/healthz"}) {
    s.Post(path, only_get_with_body);
    s.Put(path, only_get_with_body);
    s.Delete(path, only_get);
  }

  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      res.set_content(error_body("no such endpoint: " + req.method + " " + req.path), "application/json");
    } else if (res.status == 405) {
      res.set_content(error_body("method " + req.method + " not allowed on " + req.path), "application/json");
    } else {
      res.set_content(error_body("HTTP status " + std::to_string(res.status)), "application/json");
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(error_body(what), "application/json");
  });
}

}  // namespace sluice::supervisor
