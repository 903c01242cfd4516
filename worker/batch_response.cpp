#include "worker/batch_response.hpp"

#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "worker/event_format.hpp"
#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Index of the record `id` names, or nullopt.
std::optional<std::size_t> find_record(const nlohmann::json& id, std::span<const sluice_record> records) {
  if (id.is_string()) {
    const std::string s = id.get<std::string>();
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (s == aws_item_identifier(records[i])) return i;
    }
    return std::nullopt;
  }
  if (!id.is_object() || !id.contains("offset") || !id.contains("partition")) return std::nullopt;
  const nlohmann::json& off = id["offset"];
  const nlohmann::json& part = id["partition"];
  std::optional<std::int64_t> offset = off.is_number_integer() ? std::optional(off.get<std::int64_t>())
                                       : off.is_string()        ? to_int(off.get<std::string>())
                                                                : std::nullopt;
  if (!offset) return std::nullopt;
  std::optional<std::string> topic;
  if (id.contains("topic") && id["topic"].is_string()) topic = id["topic"].get<std::string>();
  std::optional<std::int64_t> partition;
  if (part.is_number_integer()) {
    partition = part.get<std::int64_t>();
  } else if (part.is_string()) {
    // "<topic>-<partition>", the key of the event's records map.
    const std::string s = part.get<std::string>();
    const auto dash = s.rfind('-');
    if (dash == std::string::npos) return std::nullopt;
    partition = to_int(std::string_view(s).substr(dash + 1));
    topic = s.substr(0, dash);
  }
  if (!partition) return std::nullopt;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const sluice_record& r = records[i];
    if (r.offset == *offset && r.partition == *partition &&
        (!topic || std::string_view(r.topic, r.topic_len) == *topic)) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

BatchVerdict apply_batch_item_failures(std::string_view body, std::span<const sluice_record> records,
                                       std::span<sluice_result> results, const char* error, std::string& why) {
  const auto all_ok = [&] {
    for (auto& r : results) r = {SLUICE_OK, nullptr};
    return BatchVerdict::kAllOk;
  };
  if (body.empty()) return all_ok();
  // An answer that is not JSON (text such as "OK") completes every record, but one that
  // names batchItemFailures meant to fail some: taking it as all ok would commit what
  // the handler said had failed, so it fails as a whole, as AWS treats an invalid
  // response. A NUL counts as not JSON (nlohmann's parser stops at one and would read
  // only what precedes it), and so does nesting no answer needs (the parser recurses).
  const bool names_failures = body.find("\"batchItemFailures\"") != std::string_view::npos;
  const bool parsable = nesting_at_most(body, 64) && body.find('\0') == std::string_view::npos;
  const auto j = parsable ? nlohmann::json::parse(body, nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
  if (j.is_discarded() && names_failures) {
    why = "the answer names batchItemFailures but is not JSON";
    return BatchVerdict::kInvalid;
  }
  if (j.is_discarded() || !j.is_object() || !j.contains("batchItemFailures")) return all_ok();
  const nlohmann::json& failures = j["batchItemFailures"];
  if (failures.is_null() || (failures.is_array() && failures.empty())) return all_ok();
  if (!failures.is_array()) {
    why = "batchItemFailures is not a list";
    return BatchVerdict::kInvalid;
  }
  std::vector<bool> failed(records.size(), false);
  for (const auto& entry : failures) {
    if (!entry.is_object() || !entry.contains("itemIdentifier")) {
      why = "a batchItemFailures entry has no itemIdentifier: " + entry.dump();
      return BatchVerdict::kInvalid;
    }
    const auto at = find_record(entry["itemIdentifier"], records);
    if (!at) {
      why = "batchItemFailures names no record of this batch: " + entry["itemIdentifier"].dump();
      return BatchVerdict::kInvalid;
    }
    failed[*at] = true;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    results[i] = failed[i] ? sluice_result{SLUICE_RETRY, error} : sluice_result{SLUICE_OK, nullptr};
  }
  return BatchVerdict::kPartial;
}

bool read_ok_answer(config::Format format, std::string_view body, std::span<const sluice_record> records,
                    std::span<sluice_result> results, std::vector<OutboundRecord>& produce, std::string& why) {
  static const char* const kNamed = "named in batchItemFailures";
  std::vector<OutboundRecord> wanted;
  if (!parse_produce(body, wanted, why)) return false;
  if (format == config::Format::kAws) {
    if (apply_batch_item_failures(body, records, results, kNamed, why) == BatchVerdict::kInvalid) return false;
  } else {
    for (auto& r : results) r = {SLUICE_OK, nullptr};
  }
  for (auto& w : wanted) produce.push_back(std::move(w));
  return true;
}

}  // namespace sluice::worker
