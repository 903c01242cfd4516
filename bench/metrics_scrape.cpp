#include "metrics_scrape.hpp"

#include <httplib.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "config/config.hpp"

namespace sluice::bench {

namespace {

std::string get_metrics(const std::string& admin_file) {
  std::ifstream f(admin_file);
  std::string address;
  if (!std::getline(f, address)) throw std::runtime_error("no admin address in " + admin_file);
  const auto host_port = config::split_listen(address);  // as the daemon wrote it, [v6] included
  if (!host_port) throw std::runtime_error("bad admin address " + address);
  httplib::Client client(host_port->first, host_port->second);
  client.set_read_timeout(10, 0);
  const auto res = client.Get("/metrics");
  if (!res || res->status != 200) throw std::runtime_error("GET /metrics from " + address + " failed");
  return res->body;
}

}  // namespace

double scrape_sum(const std::string& admin_file, const std::string& name) {
  std::istringstream body(get_metrics(admin_file));
  double sum = 0;
  for (std::string line; std::getline(body, line);) {
    if (!line.starts_with(name) || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

Buckets scrape_histogram(const std::string& admin_file, const std::string& name) {
  std::istringstream body(get_metrics(admin_file));
  Buckets out;
  const std::string prefix = name + "_bucket{";
  for (std::string line; std::getline(body, line);) {
    if (!line.starts_with(prefix)) continue;
    const auto le = line.find("le=\"");
    const auto end = line.find("\"}", le);
    if (le == std::string::npos || end == std::string::npos) continue;
    const std::string bound = line.substr(le + 4, end - le - 4);
    const double upper = bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(bound);
    out.emplace_back(upper, std::stoull(line.substr(end + 3)));
  }
  if (out.empty()) throw std::runtime_error("no " + name + " in /metrics from " + admin_file);
  return out;
}

Buckets minus(const Buckets& after, const Buckets& before) {
  Buckets d = after;
  for (std::size_t i = 0; i < d.size() && i < before.size(); ++i) d[i].second -= before[i].second;
  return d;
}

Buckets plus(const Buckets& a, const Buckets& b) {
  if (a.empty()) return b;
  Buckets s = a;
  for (std::size_t i = 0; i < s.size() && i < b.size(); ++i) s[i].second += b[i].second;
  return s;
}

double quantile_bound(const Buckets& b, double q) {
  if (b.empty() || b.back().second == 0) return -1;
  const double want = q * static_cast<double>(b.back().second);
  for (const auto& [upper, count] : b) {
    if (static_cast<double>(count) >= want) return upper;
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace sluice::bench
