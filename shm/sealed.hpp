// Bytes in a sealed memfd: written once by the supervisor, then nobody — not the process
// that made it, not a child that inherits it — can change, grow or shrink them. How
// children receive what they must be able to trust (a segment's layout, their config).
#pragma once

#include <string>
#include <string_view>

#include "shm/unique_fd.hpp"

namespace sluice::shm {

// A new close-on-exec memfd named `name` holding `bytes`, sealed. Throws on failure.
UniqueFd make_sealed(const std::string& name, std::string_view bytes);

// The whole content of a memfd made by make_sealed, after checking it is sealed. Throws
// if it is not (then it could still be changing under us).
std::string read_sealed(int fd, const std::string& what);

// Whether fd carries every seal make_sealed sets.
bool is_sealed(int fd);

}  // namespace sluice::shm
