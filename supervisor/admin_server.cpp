#include "supervisor/admin_server.hpp"

#include <httplib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/config.hpp"

namespace sluice::supervisor {
namespace {

std::string error_body(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }

// Compares without an early exit, so response time does not tell how much of a guessed
// token was right.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read admin_token_file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = trim(ss.str());
  if (token.empty()) throw std::runtime_error("admin_token_file " + path + " is empty");
  return token;
}

AdminServer::AdminServer(const std::string& listen, std::string token, Mailbox& mailbox,
                         std::chrono::milliseconds wait_limit)
    : server_(std::make_unique<httplib::Server>()), token_(std::move(token)), mailbox_(mailbox), wait_limit_(wait_limit) {
  const auto parts = config::split_listen(listen);
  if (!parts) throw std::runtime_error("admin_listen \"" + listen + "\" is not HOST:PORT");
  const auto& [host, port] = *parts;
  // A few threads are plenty for an admin API, and each one is a thread in the
  // supervisor, which forks children.
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  server_->set_keep_alive_max_count(100);
  routes();
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    throw std::runtime_error("admin API: cannot listen on " + listen +
                             " (address in use, or not an address of this host); set admin_listen, or \"\" to turn the "
                             "admin API off");
  }
  address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

AdminServer::~AdminServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void AdminServer::routes() {
  auto& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (token_.empty() || (req.method == "GET" && req.path == "/healthz")) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.starts_with("Bearer ") && same_secret(auth.substr(7), token_)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content(error_body("missing or wrong bearer token"), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });

  auto ask = [this](AdminAction action, std::string name, httplib::Response& res) {
    AdminRequest request{action, std::move(name)};
    auto answer = mailbox_.post(std::move(request));
    if (answer.wait_for(wait_limit_) != std::future_status::ready) {
      res.status = 504;
      res.set_content(error_body("no answer from the supervisor within " + std::to_string(wait_limit_.count()) +
                                 " ms; the operation goes on, see GET /lambdas"),
                      "application/json");
      return;
    }
    const AdminResponse r = answer.get();
    res.status = r.status;
    res.set_content(r.body, r.content_type);
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
  s.Post("/reload", [ask](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
    // wait=0 answers once the new configuration is read and applied, not settled.
    ask(req.get_param_value("wait") == "0" ? AdminAction::kReloadNoWait : AdminAction::kReload, "", res);
  });
  s.Get("/lambdas", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kLambdas, "", res); });
  s.Get("/metrics", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kMetrics, "", res); });
  s.Get("/healthz", [ask](const httplib::Request&, httplib::Response& res) { ask(AdminAction::kHealth, "", res); });

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
