// A server the test runs as a script of its own (tests/integration/handlers): a Python
// or Node program that prints the port it listens on, then serves until terminated.
#pragma once

#include <boost/process/child.hpp>
#include <boost/process/pipe.hpp>
#include <string>
#include <vector>

namespace sluice::test {

class ScriptServer {
 public:
  // interpreter: absolute path (/usr/bin/python3, /usr/bin/node); script: a file name in
  // tests/integration/handlers; args follow it.
  ScriptServer(const std::string& interpreter, const std::string& script, const std::vector<std::string>& args);
  ~ScriptServer();
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  boost::process::ipstream pipe_;
  boost::process::child child_;
  int port_ = 0;
};

}  // namespace sluice::test
