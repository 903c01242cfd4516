// The config files tests start daemons with, and the edit they change them by.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sluice::test {

namespace fs = std::filesystem;

// `text` with the first `from` replaced by `to`; throws if there is none (a test's
// config edit that silently did nothing would test something else).
std::string with(std::string text, const std::string& from, const std::string& to);

struct LambdaSpec {
  std::string name;
  std::string topic;
  int workers = 3;
  std::string ordering = "partition";
  long sleep_us = 0;
  std::string extra;  // more TOML lines for the [[lambda]] table
  std::string handler_extra;  // more lines for [lambda.handler], e.g. "timeout_ms = 500"
  std::string options;        // more recorder options, e.g. "fail_seqs = \"7\""
  std::string handler;        // if set, the whole [lambda.handler] body instead of the recorder
};
std::string daemon_config(const std::string& instance, const fs::path& dir, const std::string& bootstrap,
                          const std::vector<LambdaSpec>& lambdas);
// The same lambda as a lambdas.d file (a [lambda] table).
std::string lambda_file(const fs::path& dir, const std::string& bootstrap, const LambdaSpec& lambda);

}  // namespace sluice::test
