#include "harness/avro_frames.hpp"

#include <boost/process/io.hpp>
#include <boost/process/system.hpp>
#include <fstream>
#include <stdexcept>

#include "harness/decoding.hpp"

namespace sluice::test {

namespace bp = boost::process;

std::vector<std::string> avro_frames(const std::filesystem::path& dir, const nlohmann::json& jobs) {
  const auto in = dir / "avro-frames.json";
  const auto out = dir / "avro-frames.hex";
  std::ofstream(in) << jobs.dump();
  const int rc = bp::system("/usr/bin/python3", std::string(SLUICE_SOURCE_DIR) + "/tests/integration/handlers/avro_frame.py",
                            bp::std_in < in.string(), bp::std_out > out.string());
  if (rc != 0) throw std::runtime_error("avro_frame.py failed (status " + std::to_string(rc) + ")");
  std::vector<std::string> framed;
  std::ifstream hex(out);
  for (std::string line; std::getline(hex, line);) framed.push_back(unhex(line));
  if (framed.size() != jobs.size()) throw std::runtime_error("avro_frame.py framed fewer records than asked");
  return framed;
}

}  // namespace sluice::test
