#include "harness/registry_frames.hpp"

#include <boost/process/io.hpp>
#include <boost/process/system.hpp>
#include <fstream>
#include <stdexcept>

#include "harness/decoding.hpp"

namespace sluice::test {

namespace bp = boost::process;

namespace {

// Runs handlers/<script> with the jobs on stdin; it prints one hex line per job.
std::vector<std::string> framed_by(const std::string& script, const std::filesystem::path& dir, const nlohmann::json& jobs) {
  const auto in = dir / (script + ".in.json");
  const auto out = dir / (script + ".out.hex");
  std::ofstream(in) << jobs.dump();
  const int rc = bp::system("/usr/bin/python3", std::string(SLUICE_SOURCE_DIR) + "/tests/integration/handlers/" + script,
                            bp::std_in < in.string(), bp::std_out > out.string());
  if (rc != 0) throw std::runtime_error(script + " failed (status " + std::to_string(rc) + ")");
  std::vector<std::string> framed;
  std::ifstream hex(out);
  for (std::string line; std::getline(hex, line);) framed.push_back(unhex(line));
  if (framed.size() != jobs.size()) throw std::runtime_error(script + " framed fewer records than asked");
  return framed;
}

}  // namespace

std::vector<std::string> avro_frames(const std::filesystem::path& dir, const nlohmann::json& jobs) {
  return framed_by("avro_frame.py", dir, jobs);
}

std::vector<std::string> protobuf_frames(const std::filesystem::path& dir, const nlohmann::json& jobs) {
  return framed_by("protobuf_frame.py", dir, jobs);
}

}  // namespace sluice::test
