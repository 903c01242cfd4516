// The admin HTTP API (docs/operations.md). Connections are taken by HttpFront (bounded, see
// there); cpp-httplib parses and routes each buffered request. Every request becomes an
// AdminRequest in the supervisor's mailbox; this class never reads the supervisor's
// state itself.
//   POST   /kafka/register/<name>   (re)start the lambda from its file (OpenLambda's API)
//   DELETE /kafka/register/<name>   stop it
//   POST   /reload[?wait=0]         re-read the configuration (what `sluice reload` calls)
//   GET    /lambdas, /metrics, /healthz
// Who may call what is in admin_auth.hpp and docs/operations.md ("Security model").
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "supervisor/http_front.hpp"
#include "supervisor/mailbox.hpp"

namespace sluice::supervisor {

class Router;

struct AdminAccess {
  std::string token;             // never empty: mutations always need it
  bool reads_need_token = false;  // the operator's admin_token_file: every request but /healthz needs it
  std::string instance;          // named in the proof a client asks for
};

class AdminServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks one) at once, so a taken port fails the
  // start-up with a clear message; serves from its own threads until destroyed.
  // `wait_limit` bounds how long a request waits for the supervisor's answer.
  AdminServer(const std::string& listen, AdminAccess access, Mailbox& mailbox, std::chrono::milliseconds wait_limit);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The address actually bound, e.g. "127.0.0.1:40321".
  const std::string& address() const { return address_; }

 private:
  void routes();
  std::string answer(const std::string& request, const Peer& peer, const Peer& local);

  std::unique_ptr<Router> router_;
  AdminAccess access_;
  Mailbox& mailbox_;
  std::chrono::milliseconds wait_limit_;
  std::string address_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<HttpFront> front_;  // last: its threads use everything above
};

}  // namespace sluice::supervisor
