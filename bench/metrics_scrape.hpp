// Reads one histogram from a running sluice's /metrics (its admin API), so the
// benchmark can report what sluice measures of itself next to what it measures outside.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice::bench {

// Cumulative buckets: (upper bound in seconds, +infinity last; count).
using Buckets = std::vector<std::pair<double, std::uint64_t>>;

// `admin_file` is <runtime_dir>/<instance>.admin, where the daemon writes its address.
// Throws std::runtime_error when the daemon or the series cannot be read.
Buckets scrape_histogram(const std::string& admin_file, const std::string& name);

// Sum of every sample of a counter or gauge (over its labels).
double scrape_sum(const std::string& admin_file, const std::string& name);

// Observations between two scrapes of the same series; and two such spans together.
Buckets minus(const Buckets& after, const Buckets& before);
Buckets plus(const Buckets& a, const Buckets& b);

// Upper bound (seconds) of the bucket holding quantile q; +infinity beyond the last
// bound, -1 without observations.
double quantile_bound(const Buckets& b, double q);

}  // namespace sluice::bench
