// The event formats (worker/event_format.cpp) for records with any key, value and
// headers: every format must build, and the JSON ones must be JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "record_parts.hpp"
#include "worker/event_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> parts = record_parts(data, size);
  std::vector<sluice_header> headers;
  for (std::size_t i = 2; i + 1 < parts.size(); i += 2) {
    headers.push_back({parts[i].data(), parts[i].size(), parts[i + 1].data(), parts[i + 1].size()});
  }
  const std::string& value = parts[0];
  const std::string key = parts.size() > 1 ? parts[1] : "";
  std::vector<sluice_record> records;
  records.push_back(sluice_record{"events", 6, 3, 42, 1700000000123, 1, parts.size() > 1 ? key.data() : nullptr, key.size(),
                                  value.data(), value.size(), headers.empty() ? nullptr : headers.data(), headers.size(), 1});
  records.push_back(records.front());
  records.back().offset = 43;
  records.back().value = nullptr;
  records.back().value_len = 0;
  const sluice::worker::EventSource source{"lambda", "default", "lambda-lambda", "127.0.0.1:9092", "http://registry:8081"};
  // Half the inputs as if a registry had decoded the first record's key and value.
  const bool decoded = size % 2 == 1;
  const std::vector<sluice::worker::RecordSchemas> schemas{{{"AVRO", 1}, {"AVRO", 2}, {}, {}}, {}};
  for (const auto format : {sluice::config::Format::kRaw, sluice::config::Format::kJson, sluice::config::Format::kAws,
                            sluice::config::Format::kCloudEvents}) {
    const auto n = sluice::worker::format_takes_batches(format) ? records.size() : 1;
    const auto event = sluice::worker::make_event(format, std::span(records).first(n), source,
                                                  decoded ? std::span(schemas).first(n) : std::span<const sluice::worker::RecordSchemas>());
    for (const auto& [name, v] : event.headers) {
      // Header values travel on one line (HTTP, the exec protocol).
      if (v.find('\n') != std::string::npos || v.find('\r') != std::string::npos) __builtin_trap();
    }
    if ((format == sluice::config::Format::kJson || format == sluice::config::Format::kAws) &&
        !nlohmann::json::accept(event.body)) {
      __builtin_trap();
    }
  }
  return 0;
}
