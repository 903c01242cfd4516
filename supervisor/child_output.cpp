#include "supervisor/child_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>

namespace sluice::supervisor {
namespace {

constexpr std::size_t kMaxLine = 4096;
// Per drain: a worker that floods its stderr must not keep the supervisor from the rest
// of its loop; the pipe then fills and the writer waits, which slows only that worker.
constexpr std::size_t kMaxPerDrain = 256 * 1024;

}  // namespace

std::optional<ChildOutput> ChildOutput::open(std::string name) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return ChildOutput(std::move(name), fds[0], fds[1]);
}

ChildOutput::ChildOutput(std::string name, int read_end, int write_end)
    : name_(std::move(name)), read_(read_end), write_(write_end) {}

bool ChildOutput::drain() {
  char buf[16384];
  std::size_t taken = 0;
  while (read_ && taken < kMaxPerDrain) {
    const ssize_t n = ::read(read_.get(), buf, sizeof buf);
    if (n == 0) {
      flush();
      read_.reset();
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      flush();
      read_.reset();
      return false;
    }
    taken += static_cast<std::size_t>(n);
    partial_.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      emit(std::string_view(partial_).substr(start, nl - start));
    }
    partial_.erase(0, start);
    while (partial_.size() >= kMaxLine) {
      emit(std::string_view(partial_).substr(0, kMaxLine));
      partial_.erase(0, kMaxLine);
    }
  }
  return static_cast<bool>(read_);
}

void ChildOutput::flush() {
  if (!partial_.empty()) emit(partial_);
  partial_.clear();
}

void ChildOutput::emit(std::string_view line) {
  // The logger escapes control bytes: a line can never forge another entry.
  spdlog::info("{}: {}", name_, line);
}

}  // namespace sluice::supervisor
