#include "harness/oracle.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sluice::test {

std::vector<Outcome> read_outcomes(const fs::path& log_dir, const std::string& name) {
  std::vector<Outcome> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(log_dir, ec)) {
    const std::string file = e.path().filename().string();
    if (!file.starts_with(name + ".")) continue;
    std::ifstream f(e.path());
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream ls(line);
      Outcome o;
      o.file = file;
      if (ls >> o.topic >> o.partition >> o.offset >> o.attempt >> o.outcome >> o.key >> o.value) out.push_back(o);
    }
  }
  return out;
}

std::string check_no_loss(const std::vector<Outcome>& outcomes, std::uint64_t count) {
  std::vector<bool> seen(count, false);
  for (const auto& o : outcomes) {
    if (o.outcome != "ok" || o.value.empty() || o.value[0] != 's') continue;
    const std::uint64_t s = std::stoull(o.value.substr(1, o.value.find('-') - 1));
    if (s < count) seen[s] = true;
  }
  std::size_t missing = 0;
  std::uint64_t first_missing = 0;
  for (std::uint64_t s = 0; s < count; ++s) {
    if (!seen[s] && missing++ == 0) first_missing = s;
  }
  if (missing == 0) return "";
  return "I1 violated: " + std::to_string(missing) + " sequence number(s) never handled, first " +
         std::to_string(first_missing);
}

std::string check_commit_safety(const std::vector<Outcome>& outcomes, const std::map<int, std::int64_t>& committed,
                                const std::set<std::pair<int, std::int64_t>>& dead_lettered) {
  std::map<int, std::set<std::int64_t>> ok;
  for (const auto& o : outcomes) {
    if (o.outcome == "ok") ok[o.partition].insert(o.offset);
  }
  for (const auto& [p, off] : dead_lettered) ok[p].insert(off);
  for (const auto& [p, c] : committed) {
    for (std::int64_t off = 0; off < c; ++off) {
      if (!ok[p].contains(off)) {
        return "I2 violated: partition " + std::to_string(p) + " committed " + std::to_string(c) + " but offset " +
               std::to_string(off) + " has no successful outcome";
      }
    }
  }
  return "";
}

std::size_t count_duplicates(const std::vector<Outcome>& outcomes) {
  std::set<std::pair<int, std::int64_t>> seen;
  std::size_t dups = 0;
  for (const auto& o : outcomes) {
    if (o.outcome == "ok" && !seen.emplace(o.partition, o.offset).second) ++dups;
  }
  return dups;
}

std::string sanitizer_report(const std::string& log) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer"}) {
    if (auto at = log.find(marker); at != std::string::npos) return log.substr(at, 2000);
  }
  return "";
}

long backpressure_pauses(const std::string& log, const std::string& lambda) {
  const std::string marker = "lambda " + lambda + ": consumer stopped: ";
  const auto at = log.rfind(marker);
  if (at == std::string::npos) return -1;
  const auto end = log.find(" backpressure pauses", at);
  if (end == std::string::npos) return -1;
  const auto start = log.rfind(", ", end);
  return std::stol(log.substr(start + 2, end - start - 2));
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace sluice::test
