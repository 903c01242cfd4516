#include "app/admin_client.hpp"

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

namespace sluice::app {
namespace {

struct Endpoint {
  std::string host;
  int port = 0;
  std::string token;
};

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// The running daemon writes the address it bound to <runtime_dir>/<instance>.admin
// (also when admin_listen asked for port 0); the config's admin_listen is the fallback.
Endpoint find_endpoint(const config::Config& c) {
  if (c.admin_listen.empty()) throw std::runtime_error("the admin API is off (admin_listen = \"\") in " + c.source);
  std::string address = c.admin_listen;
  if (std::ifstream in(c.runtime_dir + "/" + c.instance + ".admin"); in) {
    std::string line;
    if (std::getline(in, line) && !trim(line).empty()) address = trim(line);
  }
  const auto parts = config::split_listen(address);
  if (!parts) throw std::runtime_error("cannot use admin address \"" + address + "\"");
  Endpoint e{parts->first, parts->second, ""};
  if (e.host == "0.0.0.0") e.host = "127.0.0.1";
  if (e.host == "::") e.host = "::1";
  if (!c.admin_token_file.empty()) {
    std::ifstream t(c.admin_token_file);
    if (!t) throw std::runtime_error("cannot read admin_token_file " + c.admin_token_file);
    std::string token((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
    e.token = trim(token);
  }
  return e;
}

struct Reply {
  int status = 0;
  std::string body;
};

Reply call(const config::Config& c, const std::string& method, const std::string& path, int timeout_s) {
  const Endpoint e = find_endpoint(c);
  httplib::Client client(e.host, e.port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout_s, 0);
  httplib::Headers headers;
  if (!e.token.empty()) headers.emplace("Authorization", "Bearer " + e.token);
  auto res = method == "GET" ? client.Get(path, headers) : client.Post(path, headers, "", "application/json");
  if (!res) {
    throw std::runtime_error("cannot reach the sluice daemon's admin API at " + e.host + ":" + std::to_string(e.port) +
                             " (" + httplib::to_string(res.error()) + "); is `sluice run` running with this config?");
  }
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
