// The tests' client of a daemon's admin API.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace sluice::test {

namespace fs = std::filesystem;

// One request to a daemon's admin API, found through <dir>/run/<instance>.admin (the
// address the daemon bound; daemon_config asks for port 0). Waits up to 30 s for the file.
// Without `token`, the one the daemon made for this run (<dir>/run/<instance>.token), if
// there is one, as `sluice status` would.
struct AdminReply {
  int status = 0;  // 0: no connection
  std::string body;
  std::string content_type;
};
AdminReply admin(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                 const std::string& token = "");
// The same with exactly these request headers (no token unless one is among them).
AdminReply admin_with(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                      const std::map<std::string, std::string>& headers);
// "host:port" from <dir>/run/<instance>.admin (waits up to 30 s for it).
std::string admin_address(const fs::path& dir, const std::string& instance);
// A lambda's state as GET /lambdas names it: "absent" when it is not listed, "?" when the
// daemon gave no list.
std::string lambda_state(const fs::path& dir, const std::string& instance, const std::string& name);
// The token the daemon made for this run, or "".
std::string run_token(const fs::path& dir, const std::string& instance);

}  // namespace sluice::test
