// What a handler answers (worker/outbound.cpp, worker/batch_response.cpp): produce lists
// and AWS batchItemFailures, for every format, against a batch of three records.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "worker/batch_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static const char* const kValues[] = {"a", "b", "c"};
  std::vector<sluice_record> records;
  for (int i = 0; i < 3; ++i) {
    records.push_back(sluice_record{"events", 6, i, 10 + i, 1700000000000, 1, "k", 1, kValues[i], 1, nullptr, 0, 1});
  }
  for (const auto format : {sluice::config::Format::kRaw, sluice::config::Format::kJson, sluice::config::Format::kAws,
                            sluice::config::Format::kCloudEvents}) {
    std::vector<sluice_result> results(records.size(), sluice_result{SLUICE_FAIL, "unset"});
    std::vector<sluice::worker::OutboundRecord> produce;
    std::string why;
    const bool ok = sluice::worker::read_ok_answer(format, body, records, results, produce, why);
    if (!ok && why.empty()) __builtin_trap();  // a refused answer always says why
    if (ok) {
      for (const auto& r : results) {
        if (r.outcome != SLUICE_OK && r.outcome != SLUICE_RETRY) __builtin_trap();
      }
      for (const auto& p : produce) {
        if (p.topic.empty()) __builtin_trap();
      }
    }
  }
  return 0;
}
