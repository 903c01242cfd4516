#include "harness/admin_client.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

#include "harness/processes.hpp"

namespace sluice::test {

std::string admin_address(const fs::path& dir, const std::string& instance) {
  const fs::path file = dir / "run" / (instance + ".admin");
  std::string address;
  wait_until(
      [&] {
        std::ifstream in(file);
        return static_cast<bool>(std::getline(in, address)) && !address.empty();
      },
      std::chrono::seconds(30));
  return address;
}

AdminReply admin_with(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                      const std::map<std::string, std::string>& headers_in) {
  const std::string address = admin_address(dir, instance);
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {};
  httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  client.set_read_timeout(120, 0);
  httplib::Headers headers(headers_in.begin(), headers_in.end());
  httplib::Result res = method == "GET"      ? client.Get(path, headers)
                        : method == "DELETE" ? client.Delete(path, headers)
                                             : client.Post(path, headers, "", "application/json");
  if (!res) return {};
  return {res->status, res->body, res->get_header_value("Content-Type")};
}

std::string run_token(const fs::path& dir, const std::string& instance) {
  std::ifstream in(dir / "run" / (instance + ".token"));
  std::string token;
  std::getline(in, token);
  return token;
}

AdminReply admin(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                 const std::string& token) {
  admin_address(dir, instance);  // the token file is written before the address file
  const std::string t = token.empty() ? run_token(dir, instance) : token;
  std::map<std::string, std::string> headers;
  if (!t.empty()) headers.emplace("Authorization", "Bearer " + t);
  return admin_with(dir, instance, method, path, headers);
}

std::string lambda_state(const fs::path& dir, const std::string& instance, const std::string& name) {
  const auto r = admin(dir, instance, "GET", "/lambdas");
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object() || !j.contains("lambdas")) return "?";
  for (const auto& l : j["lambdas"]) {
    if (l.value("name", "") == name) return l.value("state", "?");
  }
  return "absent";
}

}  // namespace sluice::test
