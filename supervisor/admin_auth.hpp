// Who may use the admin API, and how a client knows it reached the daemon it meant.
//
// Every request that changes anything needs `Authorization: Bearer <token>`. The token
// is the operator's `admin_token_file`, or else one the daemon makes at each start and
// writes to <runtime_dir>/<instance>.token (mode 0640: the daemon's user and group, and
// root), where `sluice status` and `sluice reload` find it. A client proves nothing by
// connecting to the admin port — any local user can listen on a port the daemon is not
// using — so before it sends the token the CLI asks for a proof: it sends a random
// challenge and the daemon answers with HMAC-SHA256(token, instance "\n" challenge),
// which only a holder of the token for that instance can compute.
#pragma once

#include <string>
#include <string_view>

namespace sluice::supervisor {

inline constexpr const char* kChallengeHeader = "X-Sluice-Challenge";
inline constexpr const char* kProofHeader = "X-Sluice-Proof";

// 32 random bytes from the kernel, as 64 hex digits.
std::string random_token();

// Hex HMAC-SHA256 of instance + "\n" + challenge under the token.
std::string admin_proof(std::string_view token, std::string_view instance, std::string_view challenge);

// Equal without an early exit, so response time does not tell how much of a guess was right.
bool same_secret(std::string_view a, std::string_view b);

// The file name of the generated token in the runtime directory.
std::string token_file_name(const std::string& instance);

// Reads a bearer token file: its content without surrounding whitespace. Throws with a
// message naming the file when it cannot be read, is empty, or is writable by group or
// others or readable by others (anyone who can read it can steer the daemon).
std::string read_token_file(const std::string& path);

// Whether a request's Host header names this daemon as a browser would address it
// directly: an IP address or "localhost", with the port we listen on if it has one. A
// DNS name is what a rebinding attack uses, so none is accepted without a token.
bool host_is_direct(std::string_view host, int port);

}  // namespace sluice::supervisor
