// Reads a lambda's `[[lambda.filter]]` tables: each one either in TOML (`value.amount =
// [{numeric = [">", 100]}]`) or as the JSON pattern AWS takes (`pattern = '{"value": ...}'`,
// copied from an existing event source mapping). Both compile through one grammar
// (config/filter.hpp); a mistake is reported at its own line and column in the file.
#pragma once

#include <string>
#include <vector>

#include "config/filter.hpp"
#include "config/table_reader.hpp"

namespace sluice::config {

// Consumes `filter` from the lambda's table `r`; `path` is the lambda's key path.
std::vector<Filter> read_filters(TableReader& r, const std::string& path);

}  // namespace sluice::config
