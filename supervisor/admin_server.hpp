// The admin HTTP API (DESIGN §10), served by cpp-httplib on its own threads. Every
// request becomes an AdminRequest in the supervisor's mailbox; this class never reads
// the supervisor's state itself.
//   POST   /kafka/register/<name>   (re)start the lambda from its file (OpenLambda's API)
//   DELETE /kafka/register/<name>   stop it
//   POST   /reload[?wait=0]         re-read the configuration (what `sluice reload` calls)
//   GET    /lambdas, /metrics, /healthz
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "supervisor/mailbox.hpp"

namespace httplib {
class Server;
}

namespace sluice::supervisor {

class AdminServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks one) at once, so a taken port fails the
  // start-up with a clear message; serves from a thread until destroyed. `token`: if not
  // empty, every request but GET /healthz needs "Authorization: Bearer <token>".
  // `wait_limit` bounds how long a request waits for the supervisor's answer.
  AdminServer(const std::string& listen, std::string token, Mailbox& mailbox, std::chrono::milliseconds wait_limit);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The address actually bound, e.g. "127.0.0.1:40321".
  const std::string& address() const { return address_; }

 private:
  void routes();

  std::unique_ptr<httplib::Server> server_;
  std::string token_;
  Mailbox& mailbox_;
  std::chrono::milliseconds wait_limit_;
  std::string address_;
  std::thread thread_;
};

// Reads a bearer token file: its content without surrounding whitespace. Throws with a
// message naming the file when it cannot be read or is empty.
std::string read_token_file(const std::string& path);

}  // namespace sluice::supervisor
