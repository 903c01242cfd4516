#include "shm/sealed.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::shm {
namespace {

constexpr unsigned kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

}  // namespace

UniqueFd make_sealed(const std::string& name, std::string_view bytes) {
  UniqueFd fd(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw std::runtime_error("cannot create memfd " + name + ": " + std::strerror(errno));
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write memfd " + name + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (fcntl(fd.get(), F_ADD_SEALS, kSeals) != 0) {
    throw std::runtime_error("cannot seal memfd " + name + ": " + std::strerror(errno));
  }
  return fd;
}

bool is_sealed(int fd) {
  const int seals = fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (static_cast<unsigned>(seals) & kSeals) == kSeals;
}

std::string read_sealed(int fd, const std::string& what) {
  if (!is_sealed(fd)) throw std::runtime_error("descriptor " + std::to_string(fd) + " for " + what + " is not sealed");
  struct stat st {};
  if (fstat(fd, &st) != 0) throw std::runtime_error("cannot stat " + what + ": " + std::strerror(errno));
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  if (pread(fd, out.data(), out.size(), 0) != static_cast<ssize_t>(out.size())) {
    throw std::runtime_error("cannot read " + what + ": " + std::strerror(errno));
  }
  return out;
}

}  // namespace sluice::shm
