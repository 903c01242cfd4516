#include "supervisor/admin_auth.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "supervisor/runtime_dir.hpp"

namespace sluice::supervisor {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::string random_token() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  return hex(bytes, sizeof bytes);
}

std::string admin_proof(std::string_view token, std::string_view instance, std::string_view challenge) {
  std::string message(instance);
  message += '\n';
  message += challenge;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()), reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), mac, &len) == nullptr) {
    return "";
  }
  return hex(mac, len);
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string token_file_name(const std::string& instance) { return instance + ".token"; }

std::string read_token_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error("cannot read admin_token_file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 022) != 0 || (st.st_mode & 004) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error("admin_token_file " + path + " has mode " + mode +
                             ": anyone who can read or change it can steer the daemon; run `chmod 0640 " + path + "`");
  }
  std::string error;
  const auto text = read_file_nofollow(path, &error);
  if (!text) throw std::runtime_error("cannot read admin_token_file " + error);
  std::string token = trim(*text);
  if (token.empty()) throw std::runtime_error("admin_token_file " + path + " is empty");
  return token;
}

bool host_is_direct(std::string_view host, int port) {
  std::string_view name = host;
  std::string_view port_text;
  if (!name.empty() && name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    port_text = name.substr(close + 1);
    name = name.substr(1, close - 1);
    if (!port_text.empty()) {
      if (port_text.front() != ':') return false;
      port_text.remove_prefix(1);
    }
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    port_text = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  if (!port_text.empty() && port_text != std::to_string(port)) return false;
  if (iequals(name, "localhost")) return true;
  const std::string n(name);
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, n.c_str(), &v4) == 1 || inet_pton(AF_INET6, n.c_str(), &v6) == 1;
}

}  // namespace sluice::supervisor
