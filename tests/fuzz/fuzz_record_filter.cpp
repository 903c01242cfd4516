// Record filters (consumer/record_filter.cpp) judging records with any key, value and
// headers: a fixed set of patterns covering every matcher and nested, listed and whole-
// value fields; a record must be judged without a crash, a leak or undefined behaviour,
// and the same record must always be judged the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "consumer/record_filter.hpp"
#include "record_parts.hpp"

namespace {

sluice::consumer::RecordFilter& filter() {
  static sluice::consumer::RecordFilter f = [] {
    std::vector<sluice::config::Filter> fs;
    for (const char* p : {
             R"({"value": {"a": {"b": [{"prefix": "x"}, {"numeric": [">", 1, "<=", 5]}]}, "c": [{"exists": false}]}})",
             R"({"value": {"list": ["k", 3, true, null, {"anything-but": ["z", 4]}]}})",
             R"({"value": [{"suffix": "!"}, {"equals-ignore-case": "HELLO"}, {"numeric": ["=", 7]}]})",
             R"({"key": [{"anything-but": {"prefix": "a"}}], "headers": {"h": [{"exists": true}, ""]}})",
             R"({"topic": ["t"], "value": {"n": [{"anything-but": {"suffix": "q"}}]}})",
         }) {
      fs.push_back(sluice::config::compile_filter(p));
    }
    return sluice::consumer::RecordFilter(std::move(fs));
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts = record_parts(data, size);
  std::vector<sluice::consumer::FetchedHeader> headers;
  for (std::size_t i = 2; i + 1 < parts.size(); i += 2) {
    headers.push_back({parts[i], parts[i + 1].empty() ? nullptr : parts[i + 1].data(), parts[i + 1].size()});
  }
  rd_kafka_message_t m{};
  m.payload = parts[0].data();
  m.len = parts[0].size();
  if (parts.size() > 1) {
    m.key = parts[1].data();
    m.key_len = parts[1].size();
  }
  const bool first = filter().admits("t", m, headers);
  if (filter().admits("t", m, headers) != first) __builtin_trap();
  return 0;
}
