// Requests from the admin API's threads to the supervisor's one thread. The supervisor
// owns every piece of state (lambdas, children, segments); the HTTP threads never touch
// it, they post a request here and wait for the answer, which may come later (a reload
// answers once the lambdas it touched have settled).
#pragma once

#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>

namespace sluice::supervisor {

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

enum class AdminAction { kLambdas, kMetrics, kHealth, kReload, kReloadNoWait, kRegister, kDeregister, kResume };

struct AdminRequest {
  AdminAction action = AdminAction::kLambdas;
  std::string name;  // kRegister, kDeregister, kResume
  std::string topic;           // kResume: only this topic ("" every one)
  std::int32_t partition = -1;  // kResume: only this partition (-1 every one)
  std::shared_ptr<std::promise<AdminResponse>> reply = std::make_shared<std::promise<AdminResponse>>();
};

class Mailbox {
 public:
  Mailbox();  // throws if no eventfd can be made
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. Returns the future of the answer.
  std::future<AdminResponse> post(AdminRequest request);
  // Supervisor thread: readable when post() was called; drain with take().
  int fd() const { return fd_; }
  std::deque<AdminRequest> take();

 private:
  int fd_ = -1;
  std::mutex mutex_;
  std::deque<AdminRequest> queue_;
};

}  // namespace sluice::supervisor
