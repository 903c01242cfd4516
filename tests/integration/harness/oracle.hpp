// The oracle (docs/testing.md): the recorder's outcome lines, the invariants they
// must satisfy, and what the daemon's log says.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

namespace fs = std::filesystem;

struct Outcome {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::uint32_t attempt = 0;
  std::string outcome;
  std::string key;
  std::string value;
  std::string file;  // which worker process logged it
};
// Every outcome line the recorder wrote for lambda `name` under log_dir.
std::vector<Outcome> read_outcomes(const fs::path& log_dir, const std::string& name);

// Occurrences of `what` in `text`.
std::size_t count_of(const std::string& text, const std::string& what);

// Oracle checks; each returns an empty string when it holds, else what broke.
// I1: every seq in [0, count) handled ok at least once.
std::string check_no_loss(const std::vector<Outcome>& outcomes, std::uint64_t count);
// I2: every offset below each committed offset has an ok outcome.
// Offsets in `dead_lettered` (partition, offset) count as completed too.
std::string check_commit_safety(const std::vector<Outcome>& outcomes, const std::map<int, std::int64_t>& committed,
                                const std::set<std::pair<int, std::int64_t>>& dead_lettered = {});
// Number of ok outcomes beyond the first for the same (partition, offset).
std::size_t count_duplicates(const std::vector<Outcome>& outcomes);
// A sanitizer report from any sluice process (their stderr goes to the daemon log), or "".
std::string sanitizer_report(const std::string& log);

// The number in the consumer's "N backpressure pauses" stop line, or -1 if absent.
long backpressure_pauses(const std::string& log, const std::string& lambda);

}  // namespace sluice::test
