// Reading the Prometheus text the admin API serves, for tests.
#pragma once

#include <set>
#include <sstream>
#include <string>

namespace sluice::test {

// Value of the sample `name{labels}` in Prometheus text, or -1 if absent.
inline double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Every sample belongs to the metric of the # TYPE line before it, and no metric name
// appears in two separate runs of lines (the exposition format requires both).
inline std::string check_exposition(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string current;
  std::set<std::string> done;
  while (std::getline(in, line)) {
    if (line.starts_with("# TYPE ")) {
      if (!current.empty()) done.insert(current);
      current = line.substr(7, line.find(' ', 7) - 7);
      if (done.count(current) != 0) return "metric " + current + " appears twice";
      continue;
    }
    if (line.empty() || line.starts_with("#")) continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    const bool ok = name == current || name == current + "_bucket" || name == current + "_sum" || name == current + "_count";
    if (!ok) return "sample " + line + " is not under its # TYPE line (current " + current + ")";
  }
  return "";
}

}  // namespace sluice::test
