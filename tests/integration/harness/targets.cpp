#include "harness/targets.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace sluice::test {

namespace {

[[noreturn]] void give_up(const std::string& why) {
  // Before any test runs (or in the first one): nothing meaningful can run without these.
  std::fprintf(stderr, "integration tests: %s\n", why.c_str());
  std::abort();
}

Targets load() {
  const char* env = std::getenv("SLUICE_IT_TARGETS");
  const std::string file = env != nullptr && *env != '\0' ? env : SLUICE_IT_TARGETS_FILE;
  std::ifstream in(file);
  if (!in) give_up("cannot read the list of targets " + file);
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  auto need = [&](const char* key) {
    const auto it = kv.find(key);
    if (it == kv.end() || it->second.empty()) give_up(file + " names no " + key);
    return it->second;
  };
  return {need("sluice"), need("recorder_plugin"), need("log_plugin"), need("lose_resume"), need("asan") == "1"};
}

}  // namespace

const Targets& targets() {
  static const Targets t = load();
  return t;
}

}  // namespace sluice::test
