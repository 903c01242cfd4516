#include "supervisor/mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace sluice::supervisor {

Mailbox::Mailbox() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Mailbox::~Mailbox() { ::close(fd_); }

std::future<AdminResponse> Mailbox::post(AdminRequest request) {
  auto future = request.reply->get_future();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(request));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // only fails when the counter is saturated
  return future;
}

std::deque<AdminRequest> Mailbox::take() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(fd_, &count, sizeof count);
  std::lock_guard lock(mutex_);
  return std::exchange(queue_, {});
}

}  // namespace sluice::supervisor
