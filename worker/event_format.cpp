#include "worker/event_format.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

#include "shm/trace_context.hpp"
#include "worker/cloudevent_record.hpp"
#include "worker/json_check.hpp"
#include "worker/json_text.hpp"
#include "worker/text_codec.hpp"
#include "worker/trace_headers.hpp"

namespace sluice::worker {
namespace {

using ojson = nlohmann::ordered_json;

std::string_view key_of(const sluice_record& r) { return bytes_of(r.key, r.key_len); }
std::string_view value_of(const sluice_record& r) { return bytes_of(r.value, r.value_len); }
std::string_view topic_of(const sluice_record& r) { return {r.topic, r.topic_len}; }
std::string_view name_of(const sluice_header& h) { return {h.name, h.name_len}; }
std::string_view value_of(const sluice_header& h) { return bytes_of(h.value, h.value_len); }
bool has_timestamp(const sluice_record& r) { return r.timestamp_type != 0 && r.timestamp_ms >= 0; }

// Header names that are not UTF-8 cannot be JSON object keys; percent-encoding keeps them.
std::string json_key(std::string_view name) { return valid_utf8(name) ? std::string(name) : percent_encode(name); }

// An HTTP field name (RFC 9110 token): anything else becomes %XX.
std::string header_token(std::string_view name) {
  static constexpr std::string_view kSpecial = "!#$&'*+-.^_`|~";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || kSpecial.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool is_content_type(std::string_view name) { return ascii_lower(name) == "content-type"; }

// What the value looks like, for a record that says nothing.
std::string guessed_content_type(std::string_view v) {
  if (is_json_value(v)) return "application/json";
  if (valid_utf8(v)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool value_decoded(const RecordSchemas* s) { return s != nullptr && s->value.decoded(); }

// The record's own content-type header if it has one, else a guess from the value. A
// decoded value is JSON whatever its record says (an `application/avro` header described
// the bytes it replaced).
std::string content_type_of(const sluice_record& r, const RecordSchemas* s) {
  if (value_decoded(s)) return "application/json";
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    if (is_content_type(name_of(h)) && h.value != nullptr) return field_value(value_of(h));
  }
  return guessed_content_type(value_of(r));
}

void add_schema_headers(HeaderList& out, const char* part, const SchemaRef& ref) {
  if (!ref.decoded()) return;
  out.emplace_back(std::string("X-Kafka-") + part + "-Schema-Id", std::to_string(ref.id));
  out.emplace_back(std::string("X-Kafka-") + part + "-Data-Format", std::string(ref.data_format));
}

// OpenLambda's synthetic request headers, plus key, timestamp, decoding schemas and the
// Kafka headers.
void add_kafka_headers(HeaderList& out, const sluice_record& r, const EventSource& src, const RecordSchemas* s) {
  out.emplace_back("X-Kafka-Topic", std::string(topic_of(r)));
  out.emplace_back("X-Kafka-Partition", std::to_string(r.partition));
  out.emplace_back("X-Kafka-Offset", std::to_string(r.offset));
  out.emplace_back("X-Kafka-Group-Id", src.group_id);
  if (r.key != nullptr) out.emplace_back("X-Kafka-Key", percent_encode(key_of(r)));
  if (has_timestamp(r)) out.emplace_back("X-Kafka-Timestamp", std::to_string(r.timestamp_ms));
  if (r.value == nullptr) out.emplace_back("X-Kafka-Tombstone", "true");
  if (s != nullptr) {
    add_schema_headers(out, "Key", s->key);
    add_schema_headers(out, "Value", s->value);
  }
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    std::string name = header_token(name_of(h));
    out.emplace_back("X-Kafka-Header-" + name, percent_encode(value_of(h)));
    // A null value and an empty one both send an empty field; the marker right after it
    // tells them apart (servers keep the order of fields, so it marks this one).
    if (h.value == nullptr) out.emplace_back("X-Kafka-Null-Header", std::move(name));
  }
}

Event raw_event(const sluice_record& r, const EventSource& src, const RecordSchemas* s) {
  Event e{std::string(value_of(r)), {}};
  e.headers.emplace_back("Content-Type", content_type_of(r, s));
  add_kafka_headers(e.headers, r, src, s);
  return e;
}

// A record that already is a CloudEvent goes as that event, in HTTP binary mode.
Event passed_through(CloudEvent&& ce, const sluice_record& r, const EventSource& src, const RecordSchemas* s) {
  Event e{std::move(ce.data), {}};
  // No Content-Type when the event has no datacontenttype: the HTTP handler then sends none.
  if (ce.datacontenttype) e.headers.emplace_back("Content-Type", field_value(*ce.datacontenttype));
  for (const auto& [name, value] : ce.attributes) e.headers.emplace_back("ce-" + name, percent_encode(value));
  add_kafka_headers(e.headers, r, src, s);
  return e;
}

// A Kafka header name as a CloudEvents extension name: lower-cased, anything but letters
// and digits dropped (Knative's mapping).
std::string extension_name(std::string_view kafka_name) {
  std::string name = "kafkaheader";
  for (const char c : kafka_name) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

// Knative KafkaSource's CloudEvents binary mode: the value is the body, the metadata are
// ce-* headers, so a handler written for Knative runs unchanged.
Event cloudevents_event(const sluice_record& r, const EventSource& src, const std::optional<TraceContext>& ctx,
                        const RecordSchemas* s) {
  if (auto ce = cloudevent_of(r)) return passed_through(std::move(*ce), r, src, s);
  Event e{std::string(value_of(r)), {}};
  const std::string p = std::to_string(r.partition);
  const std::string o = std::to_string(r.offset);
  // A value that claims the CloudEvents media type but is no valid event must not say so
  // over HTTP, where that type means "the body is the event" (structured mode).
  std::string content_type = content_type_of(r, s);
  if (ascii_lower(content_type).starts_with("application/cloudevents")) content_type = guessed_content_type(value_of(r));
  e.headers.emplace_back("Content-Type", std::move(content_type));
  e.headers.emplace_back("ce-specversion", "1.0");
  e.headers.emplace_back("ce-id", "partition:" + p + "/offset:" + o);
  e.headers.emplace_back("ce-source", "/sluice/" + src.instance + "/" + src.lambda + "#" + std::string(topic_of(r)));
  e.headers.emplace_back("ce-type", "dev.knative.kafka.event");
  e.headers.emplace_back("ce-subject", "partition:" + p + "#" + o);
  if (has_timestamp(r)) e.headers.emplace_back("ce-time", rfc3339_ms(r.timestamp_ms));
  if (value_decoded(s) && !src.schema_registry.empty()) {
    e.headers.emplace_back("ce-dataschema", src.schema_registry + "/schemas/ids/" + std::to_string(s->value.id));
  }
  if (r.key != nullptr) e.headers.emplace_back("ce-key", percent_encode(key_of(r)));
  if (ctx) {  // the Distributed Tracing extension
    e.headers.emplace_back("ce-traceparent", std::string(ctx->traceparent));
    if (!ctx->tracestate.empty()) e.headers.emplace_back("ce-tracestate", std::string(ctx->tracestate));
  }
  // An event has one value per attribute: Kafka headers whose names map to the same
  // extension (`dup` twice, `Case` and `case`, names that differ only in dropped
  // characters) give it the last one's value, at the first one's place. Every header
  // stays in X-Kafka-Header-<name>, repeats and original names kept.
  const std::size_t first_extension = e.headers.size();
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    if (is_content_type(name_of(h))) continue;  // it is Content-Type (datacontenttype) already
    set_attribute(e.headers, first_extension, "ce-" + extension_name(name_of(h)), percent_encode(value_of(h)));
  }
  add_kafka_headers(e.headers, r, src, s);
  return e;
}

ojson json_schema_ref(const SchemaRef& ref) { return {{"data_format", ref.data_format}, {"schema_id", ref.id}}; }

// The envelope's text. A value that is JSON goes in as the producer wrote it (white space
// at its ends dropped): a parse and a dump turned an integer beyond 64 bits, or a
// decimal with more digits than a double holds, into another number.
// Written directly rather than built as an nlohmann tree and dumped: this runs once per
// record on the json path, and the tree cost a fifth of an exec worker's time. The bytes
// are those the tree gave (tests/golden/formats/json_*.txt).
std::string json_envelope(const sluice_record& r, const RecordSchemas* s) {
  // Every string written here is UTF-8 (checked, or percent-encoded), so appending succeeds.
  const auto string = [](std::string& out, std::string_view v) { append_json_string(out, v); };
  std::string out;
  out.reserve(160 + r.key_len + r.value_len);
  out += "{\"topic\":";
  string(out, json_key(topic_of(r)));
  out += ",\"partition\":";
  append_json_number(out, std::int64_t{r.partition});
  out += ",\"offset\":";
  append_json_number(out, std::int64_t{r.offset});
  out += ",\"timestamp\":";
  if (has_timestamp(r)) {
    string(out, rfc3339_ms(r.timestamp_ms));
  } else {
    out += "null";
  }
  const std::string_view key = key_of(r);
  out += ",\"key\":";
  if (r.key == nullptr) {
    out += "null";
  } else if (!append_json_string(out, key)) {  // not UTF-8: nothing appended
    out += "null,\"key_base64\":";
    string(out, base64(key));
  }
  if (s != nullptr && s->key.decoded()) out += ",\"key_schema\":" + json_schema_ref(s->key).dump();
  out += ",\"message\":";
  const std::string_view value = value_of(r);
  if (r.value == nullptr) {
    out += "null";  // a tombstone
  } else if (is_json_value(value)) {
    out += trim_json_space(value);
  } else {
    const std::size_t at = out.size();
    out += "{\"raw_message\":";
    if (!append_json_string(out, value)) {  // not UTF-8: nothing appended
      out.resize(at);
      out += "{\"raw_message_base64\":";
      string(out, base64(value));
    }
    out += '}';
  }
  if (value_decoded(s)) out += ",\"value_schema\":" + json_schema_ref(s->value).dump();
  // Name -> value text; a repeated name keeps its first place and takes its last value
  // (what the ordered tree did). A name whose values are UTF-8 or null goes in
  // "headers", one whose value is other bytes in "binary_headers".
  std::vector<std::pair<std::string, std::string>> text;
  std::vector<std::pair<std::string, std::string>> binary;
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    std::string item;
    bool bytes = false;
    if (h.value == nullptr) {
      item = "null";
    } else if (!append_json_string(item, value_of(h))) {  // not UTF-8: nothing appended
      bytes = true;
      string(item, base64(value_of(h)));
    }
    auto& into = bytes ? binary : text;
    std::string name = json_key(name_of(h));
    const auto same = std::ranges::find(into, name, &std::pair<std::string, std::string>::first);
    if (same != into.end()) {
      same->second = std::move(item);
    } else {
      into.emplace_back(std::move(name), std::move(item));
    }
  }
  for (const auto* members : {&text, &binary}) {
    if (members == &binary && binary.empty()) break;
    out += members == &text ? ",\"headers\":{" : ",\"binary_headers\":{";
    for (std::size_t i = 0; i < members->size(); ++i) {
      if (i > 0) out += ',';
      string(out, (*members)[i].first);
      out += ':';
      out += (*members)[i].second;
    }
    out += '}';
  }
  out += '}';
  return out;
}

// The schemas of records[i], or nullptr.
const RecordSchemas* schemas_of(std::span<const RecordSchemas> schemas, std::size_t i) {
  return i < schemas.size() ? &schemas[i] : nullptr;
}

// One record's envelope, or a batch's list of them.
std::string json_body(std::span<const sluice_record> records, std::span<const RecordSchemas> schemas) {
  if (records.size() == 1) return json_envelope(records.front(), schemas_of(schemas, 0));
  std::string body = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body += ',';
    body += json_envelope(records[i], schemas_of(schemas, i));
  }
  body += ']';
  return body;
}

Event json_event(std::span<const sluice_record> records, const EventSource& src, std::span<const RecordSchemas> schemas) {
  Event e{json_body(records, schemas), {}};
  e.headers.emplace_back("Content-Type", "application/json");
  if (records.size() == 1) {
    add_kafka_headers(e.headers, records.front(), src, schemas_of(schemas, 0));
    return e;
  }
  e.headers.emplace_back("X-Kafka-Group-Id", src.group_id);
  e.headers.emplace_back("X-Kafka-Record-Count", std::to_string(records.size()));
  return e;
}

const char* aws_timestamp_type(std::int32_t t) {
  switch (t) {
    case 1:
      return "CREATE_TIME";
    case 2:
      return "LOG_APPEND_TIME";
    default:
      return "NO_TIMESTAMP_TYPE";
  }
}

// AWS Lambda's Kafka event (MSK shape): records grouped by "<topic>-<partition>" in the
// order they arrived, key and value base64, headers as {name: [byte values]}.
Event aws_event(std::span<const sluice_record> records, const EventSource& src, std::span<const RecordSchemas> schemas) {
  ojson by_partition = ojson::object();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const sluice_record& r = records[i];
    ojson rec;
    rec["topic"] = std::string(topic_of(r));
    rec["partition"] = r.partition;
    rec["offset"] = r.offset;
    rec["timestamp"] = has_timestamp(r) ? r.timestamp_ms : -1;
    rec["timestampType"] = aws_timestamp_type(r.timestamp_type);
    if (r.key != nullptr) rec["key"] = base64(key_of(r));  // AWS leaves a null key out
    rec["value"] = r.value == nullptr ? ojson(nullptr) : ojson(base64(value_of(r)));
    ojson headers = ojson::array();
    for (std::size_t i = 0; i < r.header_count; ++i) {
      const sluice_header& h = r.headers[i];
      ojson bytes = ojson::array();
      for (const char c : value_of(h)) bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
      headers.push_back({{json_key(name_of(h)), std::move(bytes)}});
    }
    rec["headers"] = std::move(headers);
    // AWS's schema metadata, with the id as a string as AWS gives it.
    if (const RecordSchemas* s = schemas_of(schemas, i)) {
      for (const auto& [name, ref] : {std::pair{"keySchemaMetadata", s->key}, std::pair{"valueSchemaMetadata", s->value}}) {
        if (ref.decoded()) rec[name] = {{"dataFormat", ref.data_format}, {"schemaId", std::to_string(ref.id)}};
      }
    }
    by_partition[std::string(topic_of(r)) + "-" + std::to_string(r.partition)].push_back(std::move(rec));
  }
  ojson j;
  j["eventSource"] = "aws:kafka";
  j["eventSourceArn"] = "arn:sluice:kafka:" + src.instance + ":" + src.group_id;
  j["bootstrapServers"] = src.bootstrap_servers;
  j["records"] = std::move(by_partition);
  Event e{j.dump(), {}};
  e.headers.emplace_back("Content-Type", "application/json");
  e.headers.emplace_back("X-Kafka-Group-Id", src.group_id);
  e.headers.emplace_back("X-Kafka-Record-Count", std::to_string(records.size()));
  return e;
}

// A registry URL as a schema's public name: credentials and query (an API key may sit in
// either) are the operator's secret, not the handler's.
std::string public_registry_url(std::string_view url) {
  if (url.empty()) return "";
  const auto scheme = url.find("://");
  const std::size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = std::min(url.find_first_of("?#", host), url.size());
  std::string out(url.substr(0, host));
  std::string_view rest = url.substr(host, end - host);
  const std::string_view authority = rest.substr(0, std::min(rest.find('/'), rest.size()));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  out += rest;
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

EventSource event_source_of(const config::Lambda& lambda) {
  return {lambda.name, lambda.instance, lambda.group_id, lambda.bootstrap_servers,
          public_registry_url(lambda.schema_registry.url)};
}

bool format_takes_batches(config::Format format) {
  return format == config::Format::kAws || format == config::Format::kJson;
}

namespace {

Event formatted(config::Format format, std::span<const sluice_record> records, const EventSource& source,
                const std::optional<TraceContext>& ctx, std::span<const RecordSchemas> schemas) {
  switch (format) {
    case config::Format::kRaw:
      return raw_event(records.front(), source, schemas_of(schemas, 0));
    case config::Format::kCloudEvents:
      return cloudevents_event(records.front(), source, ctx, schemas_of(schemas, 0));
    case config::Format::kJson:
      return json_event(records, source, schemas);
    case config::Format::kAws:
      return aws_event(records, source, schemas);
  }
  return raw_event(records.front(), source, schemas_of(schemas, 0));
}

}  // namespace

Event make_event(config::Format format, std::span<const sluice_record> records, const EventSource& source,
                 std::span<const RecordSchemas> schemas) {
  // A request for one record continues that record's trace. A batch has no single parent:
  // each record's context stays in its own headers inside the body.
  const std::optional<TraceContext> ctx =
      records.size() == 1 ? trace_context_of(records.front()) : std::optional<TraceContext>{};
  Event e = formatted(format, records, source, ctx, schemas);
  if (ctx) {
    e.headers.emplace_back(std::string(shm::kTraceparent), std::string(ctx->traceparent));
    if (!ctx->tracestate.empty()) e.headers.emplace_back(std::string(shm::kTracestate), std::string(ctx->tracestate));
  }
  return e;
}

std::string make_body(config::Format format, std::span<const sluice_record> records, const EventSource& source,
                      std::span<const RecordSchemas> schemas) {
  // The two formats a body-only handler runs with in practice; the others build their
  // headers on the way (a CloudEvent's body depends on what its headers would say).
  switch (format) {
    case config::Format::kJson:
      return json_body(records, schemas);
    case config::Format::kRaw:
      return std::string(value_of(records.front()));
    default:
      return make_event(format, records, source, schemas).body;
  }
}

std::string aws_item_identifier(const sluice_record& r) {
  return std::string(topic_of(r)) + "-" + std::to_string(r.partition) + "-" + std::to_string(r.offset);
}

}  // namespace sluice::worker
