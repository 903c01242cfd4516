#include "config/lambda_json.hpp"

namespace sluice::config {

NLOHMANN_JSON_SERIALIZE_ENUM(Ordering, {{Ordering::kPartition, "partition"}, {Ordering::kKey, "key"}, {Ordering::kNone, "none"}})
NLOHMANN_JSON_SERIALIZE_ENUM(OnFailure, {{OnFailure::kDeadLetter, "dead_letter"}, {OnFailure::kSkip, "skip"}, {OnFailure::kStop, "stop"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Format, {{Format::kRaw, "raw"}, {Format::kJson, "json"}, {Format::kAws, "aws"}, {Format::kCloudEvents, "cloudevents"}})
NLOHMANN_JSON_SERIALIZE_ENUM(HandlerType, {{HandlerType::kPlugin, "plugin"}, {HandlerType::kHttp, "http"}, {HandlerType::kExec, "exec"}, {HandlerType::kPython, "python"}})
NLOHMANN_JSON_SERIALIZE_ENUM(HttpVersion, {{HttpVersion::kAuto, "auto"}, {HttpVersion::kHttp1, "1.1"}, {HttpVersion::kHttp2, "2"}})
NLOHMANN_JSON_SERIALIZE_ENUM(SchemaFormat, {{SchemaFormat::kNone, "none"}, {SchemaFormat::kAuto, "auto"}, {SchemaFormat::kAvro, "avro"},
                                            {SchemaFormat::kProtobuf, "protobuf"}, {SchemaFormat::kJsonSchema, "json_schema"}})
NLOHMANN_JSON_SERIALIZE_ENUM(OffsetReset, {{OffsetReset::kEarliest, "earliest"}, {OffsetReset::kLatest, "latest"}, {OffsetReset::kError, "error"}})

// A filter travels as its pattern and is compiled again where it is read.
void to_json(nlohmann::json& j, const Filter& f) { j = f.pattern; }
void from_json(const nlohmann::json& j, Filter& f) { f = compile_filter(j.get<std::string>()); }

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Handler, type, path, function, url, headers, ca_file, client_cert, client_key, command, env, options,
                                   timeout_ms, memory_limit_mb, max_concurrency, http_version)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SchemaRegistry, url, username, password, token, ca_file, client_cert, client_key,
                                   timeout_ms, value_format, key_format)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Lambda, name, source, line, column, instance, topics, group_id, bootstrap_servers,
                                   kafka_properties, auto_offset_reset, ordering, format, workers, max_in_flight,
                                   ring_bytes, max_record_bytes, batch_size, batch_window_ms, bisect_batch_on_error, trace, commit_interval_ms,
                                   drain_timeout_ms, max_attempts, retry_backoff_ms, on_failure, dead_letter_topic,
                                   max_record_age_s, resume_stopped_after_s, static_membership, filters, schema_registry, handler)

nlohmann::json to_json(const Lambda& l) {
  nlohmann::json j;
  to_json(j, l);
  return j;
}

Lambda lambda_from_json(const nlohmann::json& j) { return j.get<Lambda>(); }

}  // namespace sluice::config
