#include "supervisor/runtime_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sluice::supervisor {
namespace {

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

void prepare_runtime_dir(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path p(dir);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create runtime_dir " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) throw std::runtime_error("cannot stat runtime_dir " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    throw std::runtime_error("runtime_dir " + dir + " is not a directory (a symlink or file there is refused: another "
                             "user may have planted it); remove it or set runtime_dir");
  }
  if (st.st_uid != geteuid()) {
    throw std::runtime_error("runtime_dir " + dir + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
                             std::to_string(geteuid()) + "); another user may have created it first: remove it or set "
                             "runtime_dir to a directory of your own");
  }
  if ((st.st_mode & 022) != 0) {
    throw std::runtime_error("runtime_dir " + dir + " is writable by group or others (mode " + mode_text(st.st_mode) +
                             "); run `chmod go-w " + dir + "` or set runtime_dir");
  }
}

std::string untrusted_runtime_dir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return "cannot stat " + dir + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
  if ((st.st_mode & 022) != 0) return dir + " is writable by group or others (mode " + mode_text(st.st_mode) + ")";
  if (geteuid() != 0 && st.st_uid != geteuid() && st.st_uid != 0) {
    return dir + " belongs to uid " + std::to_string(st.st_uid) + ", neither this user nor root";
  }
  return "";
}

void write_runtime_file(const std::string& dir, const std::string& name, const std::string& content, unsigned mode) {
  const std::string path = dir + "/" + name;
  // Replace rather than truncate: whatever is there (a leftover, or a symlink planted
  // before the directory was ours) is unlinked, and O_EXCL | O_NOFOLLOW make sure the
  // file written is a new one.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("cannot replace " + path + ": " + std::strerror(errno));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
  }
}

std::optional<std::string> read_file_nofollow(const std::string& path, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (error != nullptr) *error = errno == ELOOP ? path + " is a symlink" : path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    ::close(fd);
    if (error != nullptr) *error = path + " is not a regular file";
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace sluice::supervisor
