#include "harness/script_server.hpp"

#include <boost/process/args.hpp>
#include <boost/process/io.hpp>
#include <stdexcept>

namespace sluice::test {

namespace bp = boost::process;

ScriptServer::ScriptServer(const std::string& interpreter, const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv{std::string(SLUICE_SOURCE_DIR) + "/tests/integration/handlers/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = bp::child(interpreter, bp::args(argv), bp::std_out > pipe_);
  std::string line;
  if (!std::getline(pipe_, line) || line.empty()) throw std::runtime_error(script + " did not say its port");
  port_ = std::stoi(line);
}

ScriptServer::~ScriptServer() {
  std::error_code ec;
  child_.terminate(ec);
}

}  // namespace sluice::test
