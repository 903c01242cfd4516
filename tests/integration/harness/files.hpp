// Reading what processes under test wrote.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

// The whole file; empty when it does not exist.
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
