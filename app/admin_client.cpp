#include "app/admin_client.hpp"

#include <httplib.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "supervisor/admin_auth.hpp"
#include "supervisor/runtime_dir.hpp"

namespace sluice::app {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

struct Endpoint {
  std::string host;
  int port = 0;
  std::string token;       // empty when this user cannot read it
  std::string token_path;  // where it was looked for
};

// The running daemon writes the address it bound to <runtime_dir>/<instance>.admin
// (also when admin_listen asked for port 0), and, without admin_token_file, the token
// made for this run to <instance>.token. Without that file there is no daemon to ask:
// whatever listens on the configured port is not one (it would get our token).
Endpoint find_endpoint(const config::Config& c) {
  if (c.admin_listen.empty()) throw std::runtime_error("the admin API is off (admin_listen = \"\") in " + c.source);
  if (const std::string why = supervisor::untrusted_runtime_dir(c.runtime_dir); !why.empty()) {
    throw std::runtime_error("no sluice daemon found: runtime_dir " + c.runtime_dir + " cannot be trusted (" + why + ")");
  }
  const std::string file = c.runtime_dir + "/" + c.instance + ".admin";
  std::string error;
  const auto text = supervisor::read_file_nofollow(file, &error);
  if (!text) {
    throw std::runtime_error("no sluice daemon with instance \"" + c.instance + "\" is running (" + error +
                             "); is `sluice run` running with this config?");
  }
  const std::string address = trim(text->substr(0, text->find('\n')));
  const auto parts = config::split_listen(address);
  if (!parts) throw std::runtime_error("cannot use admin address \"" + address + "\" from " + file);
  Endpoint e{parts->first, parts->second, "", ""};
  if (e.host == "0.0.0.0") e.host = "127.0.0.1";
  if (e.host == "::") e.host = "::1";
  if (!c.admin_token_file.empty()) {
    e.token_path = c.admin_token_file;
    e.token = supervisor::read_token_file(c.admin_token_file);
  } else {
    e.token_path = c.runtime_dir + "/" + supervisor::token_file_name(c.instance);
    if (const auto t = supervisor::read_file_nofollow(e.token_path)) e.token = trim(*t);
  }
  return e;
}

struct Reply {
  int status = 0;
  std::string body;
};

std::runtime_error unreachable(const Endpoint& e, httplib::Error err) {
  return std::runtime_error("cannot reach the sluice daemon's admin API at " + e.host + ":" + std::to_string(e.port) + " (" +
                            httplib::to_string(err) + "); is `sluice run` running with this config?");
}

// Before the token goes anywhere: the daemon at the address must prove it holds the
// token of this instance (admin_auth.hpp).
void check_identity(const config::Config& c, const Endpoint& e, httplib::Client& client) {
  const std::string challenge = supervisor::random_token();
  auto res = client.Get("/healthz", {{supervisor::kChallengeHeader, challenge}});
  if (!res) throw unreachable(e, res.error());
  const std::string proof = res->get_header_value(supervisor::kProofHeader);
  if (!supervisor::same_secret(proof, supervisor::admin_proof(e.token, c.instance, challenge))) {
    throw std::runtime_error("the admin API at " + e.host + ":" + std::to_string(e.port) +
                             " is not the sluice daemon of instance \"" + c.instance +
                             "\" (it cannot prove it holds its token); not sending it the token");
  }
}

Reply call(const config::Config& c, const std::string& method, const std::string& path, int timeout_s) {
  const Endpoint e = find_endpoint(c);
  const bool needs_token = method != "GET" || !c.admin_token_file.empty();
  if (needs_token && e.token.empty()) {
    throw std::runtime_error("cannot read the admin token " + e.token_path +
                             ": run this as root, as the daemon's user, or as a member of its group");
  }
  httplib::Client client(e.host, e.port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout_s, 0);
  httplib::Headers headers;
  if (!e.token.empty()) {
    check_identity(c, e, client);
    headers.emplace("Authorization", "Bearer " + e.token);
  }
  auto res = method == "GET"      ? client.Get(path, headers)
             : method == "DELETE" ? client.Delete(path, headers)
                                  : client.Post(path, headers, "", "application/json");
  if (!res) throw unreachable(e, res.error());
  return {res->status, res->body};
}

std::string or_dash(const nlohmann::json& v) { return v.is_null() ? "-" : v.dump(); }

}  // namespace

int cmd_status(const config::Config& c, bool json) {
  const Reply r = call(c, "GET", "/lambdas", 30);
  if (r.status != 200) {
    std::cerr << "admin API answered " << r.status << ": " << r.body;
    return 1;
  }
  if (json) {
    std::cout << r.body;
    return 0;
  }
  const auto j = nlohmann::json::parse(r.body);
  std::printf("%-20s %-9s %7s %9s %10s %10s %10s %8s\n", "LAMBDA", "STATE", "WORKERS", "RESTARTS", "PARTITIONS",
              "HANDLED", "FAILED", "LAG");
  for (const auto& l : j.at("lambdas")) {
    const auto& rs = l.at("restarts");
    const auto rec = l.value("records", nlohmann::json::object());
    std::printf("%-20s %-9s %7u %9llu %10zu %10s %10s %8lld\n", l.at("name").get<std::string>().c_str(),
                l.at("state").get<std::string>().c_str(), l.at("workers").get<unsigned>(),
                static_cast<unsigned long long>(rs.at("worker").get<std::uint64_t>() + rs.at("consumer").get<std::uint64_t>()),
                l.at("partitions").size(), rec.contains("handled") ? rec["handled"].dump().c_str() : "-",
                rec.contains("failed") ? rec["failed"].dump().c_str() : "-", l.at("lag").get<long long>());
  }
  bool header = false;
  for (const auto& l : j.at("lambdas")) {
    for (const auto& p : l.at("partitions")) {
      if (!header) {
        std::printf("\n%-20s %-30s %9s %12s %12s %8s\n", "LAMBDA", "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG");
        header = true;
      }
      std::printf("%-20s %-30s %9d %12s %12s %8s\n", l.at("name").get<std::string>().c_str(),
                  p.at("topic").get<std::string>().c_str(), p.at("partition").get<int>(), or_dash(p.at("committed")).c_str(),
                  or_dash(p.at("high_watermark")).c_str(), or_dash(p.at("lag")).c_str());
    }
  }
  return 0;
}

int cmd_reload(const config::Config& c, bool wait) {
  // A waiting reload drains changed lambdas before it starts them again.
  const int timeout_s = static_cast<int>(c.shutdown_timeout_ms / 1000) + 90;
  const Reply r = call(c, "POST", wait ? "/reload" : "/reload?wait=0", timeout_s);
  if (r.status == 200 || r.status == 202) {
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    const auto changed = j.is_object() ? j.value("changed", nlohmann::json::array()) : nlohmann::json::array();
    if (changed.empty()) {
      std::printf("reloaded: no lambda changed\n");
    } else if (j.contains("lambdas")) {
      for (const auto& [name, state] : j["lambdas"].items()) std::printf("%s: %s\n", name.c_str(), state.get<std::string>().c_str());
    } else {
      for (const auto& n : changed) std::printf("%s: changing\n", n.get<std::string>().c_str());
    }
    return 0;
  }
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    std::cerr << "reload failed: " << j.value("error", r.body) << "\n";
    for (const auto& d : j.value("diagnostics", nlohmann::json::array())) std::cerr << d.get<std::string>() << "\n";
  } else {
    std::cerr << "reload failed: admin API answered " << r.status << ": " << r.body << "\n";
  }
  return r.status == 422 ? config::kExitConfig : 1;
}

int cmd_resume(const config::Config& c, const std::string& lambda, const std::string& topic, int partition) {
  std::string path = "/lambdas/" + lambda + "/resume";
  if (!topic.empty()) path += "?topic=" + httplib::detail::encode_query_param(topic);
  if (partition >= 0) path += "&partition=" + std::to_string(partition);
  const Reply r = call(c, "POST", path, 60);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status == 200 && j.is_object()) {
    const auto n = j.value("resumed", 0U);
    if (n == 0) {
      std::printf("%s: no stopped partition to resume\n", lambda.c_str());
    } else {
      std::printf("%s: %u partition(s) resumed\n", lambda.c_str(), n);
    }
    return 0;
  }
  std::cerr << "resume failed: " << (j.is_object() ? j.value("error", r.body) : r.body) << "\n";
  return 1;
}

int cmd_register(const config::Config& c, const std::string& lambda, bool start) {
  const int timeout_s = static_cast<int>(c.shutdown_timeout_ms / 1000) + 90;  // a running one drains first
  const Reply r = call(c, start ? "POST" : "DELETE", "/kafka/register/" + lambda, timeout_s);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status == 200 && j.is_object()) {
    std::printf("%s: %s\n", lambda.c_str(), j.value("state", std::string("?")).c_str());
    return 0;
  }
  std::cerr << (start ? "register" : "deregister") << " failed: " << (j.is_object() ? j.value("error", r.body) : r.body) << "\n";
  if (j.is_object()) {
    for (const auto& d : j.value("diagnostics", nlohmann::json::array())) std::cerr << d.get<std::string>() << "\n";
  }
  return r.status == 422 ? config::kExitConfig : 1;
}

std::optional<std::string> daemon_state_of(const config::Config& c, const std::string& lambda) {
  Reply r;
  try {
    r = call(c, "GET", "/lambdas", 10);
  } catch (const std::exception&) {
    return std::nullopt;  // no daemon (or no admin API) for this config
  }
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object()) {
    throw std::runtime_error("the daemon's admin API answered " + std::to_string(r.status) + ": " + r.body);
  }
  for (const auto& l : j.value("lambdas", nlohmann::json::array())) {
    if (l.value("name", "") == lambda) return l.value("state", "?");
  }
  return std::nullopt;
}

}  // namespace sluice::app
