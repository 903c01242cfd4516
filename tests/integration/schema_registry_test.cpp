// Schema-registry decoding against a registry the test runs (handlers/schema_registry.py,
// answering GET /schemas/ids/<id> as Confluent's does) and records framed as Confluent's
// Avro serializer frames them, encoded by python3-avro (handlers/avro_frame.py) — not by
// the Avro C library sluice decodes with.
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>

#include "daemon_test.hpp"
#include "metrics_text.hpp"
#include "harness/registry_frames.hpp"
#include "harness/decoding.hpp"
#include "harness/script_server.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kUser = R"({"type":"record","name":"User","namespace":"com.example","fields":[
  {"name":"name","type":"string"},{"name":"age","type":"int"},
  {"name":"email","type":["null","string"],"default":null},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}}]})";
// The same record, evolved: a field with a default added.
const std::string kUserV2 = R"({"type":"record","name":"User","namespace":"com.example","fields":[
  {"name":"name","type":"string"},{"name":"age","type":"int"},
  {"name":"email","type":["null","string"],"default":null},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}},
  {"name":"plan","type":"string","default":"free"}]})";

class SchemaRegistry : public DaemonTest {
 protected:
  std::vector<std::string> frames(const json& jobs) const { return avro_frames(dir.path(), jobs); }

  // Each recorded request's JSON envelope by offset (format "json", one record a call).
  std::map<std::int64_t, json> envelopes() const {
    std::map<std::int64_t, json> out;
    for (const auto& r : recorded()) {
      json envelope = json::parse(unhex(r["body"].get<std::string>()));
      const auto offset = envelope["offset"].get<std::int64_t>();
      out[offset] = std::move(envelope);
    }
    return out;
  }

  // The dead letters of `topic` by source offset.
  static std::map<std::int64_t, TopicMessage> dead_letters(const std::string& bootstrap, std::size_t n) {
    std::map<std::int64_t, TopicMessage> dead;
    for (auto& m : read_topic(bootstrap, "events.dlq", n, 30s)) {
      const auto offset = std::stoll(m.headers.at("sluice-source-offset"));
      dead[offset] = std::move(m);
    }
    return dead;
  }

  void write_schemas(const json& schemas) { std::ofstream(dir.path() / "schemas.json") << schemas.dump(); }

  // Each request handlers/recording_server.py recorded, in order.
  std::vector<json> recorded() const {
    std::vector<json> out;
    std::ifstream in(dir.path() / "endpoint.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  std::vector<std::string> registry_log() const {
    std::vector<std::string> out;
    std::ifstream in(dir.path() / "registry.log");
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  // The test's registry (schemas.json, logging to registry.log; `down`: while that file
  // exists it answers 503) and the endpoint that records each call (endpoint.jsonl).
  ScriptServer registry(const std::optional<fs::path>& down = std::nullopt) const {
    std::vector<std::string> args = {(dir.path() / "schemas.json").string(), (dir.path() / "registry.log").string()};
    if (down) args.push_back(down->string());
    return ScriptServer("/usr/bin/python3", "schema_registry.py", args);
  }
  ScriptServer endpoint() const {
    return ScriptServer("/usr/bin/python3", "recording_server.py", {(dir.path() / "endpoint.jsonl").string()});
  }

  // One lambda `name` on events, format json, dead letters to events.dlq, decoding with
  // `registry` and calling `endpoint`; `extra` and `handler_extra` are added to its
  // table and its handler table.
  std::string decoding_config(const std::string& name, const std::string& bootstrap, const ScriptServer& registry,
                              const ScriptServer& endpoint, const std::string& handler_extra = "",
                              const std::string& extra = "", int workers = 1) const {
    return daemon_config(instance, dir.path(), bootstrap,
                         {{.name = name, .topic = "events", .workers = workers,
                           .extra = "format = \"json\"\ndead_letter_topic = \"events.dlq\"\n" + extra,
                           .handler = lambda_toml(registry, endpoint) + handler_extra}});
  }

  std::string lambda_toml(const ScriptServer& registry, const ScriptServer& endpoint) const {
    return "type = \"http\"\nurl = \"" + endpoint.url("/decoded") + "\"\ntimeout_ms = 5000\n" +
           "[lambda.schema_registry]\nurl = \"" + registry.url("/") + "\"\n";
  }
};

// Each decodable record reaches the handler as JSON (Avro's JSON encoding), two schema
// versions in one partition each by its own schema; a record that is not framed passes
// as it is (value_format "auto"); each record that cannot be decoded takes the failure
// path with its reason and its original bytes; each schema is fetched once.
TEST_F(SchemaRegistry, FramedAvroRecordsReachTheHandlerAsJsonAndUndecodableOnesAreDeadLettered) {
  write_schemas({{"1", {{"schema", kUser}}},
                 {"2", {{"schema", kUserV2}, {"schemaType", "AVRO"}}},
                 {"3", {{"schema", R"({"type":"object"})"}, {"schemaType", "JSON"}}}});
  const json ann = {{"name", "ann"}, {"age", 41}, {"email", "a@x"}, {"tags", {"a", "b"}}, {"address", {{"city", "Oslo"}}}};
  const json bob = {{"name", "bob"}, {"age", 7},           {"email", nullptr},
                    {"tags", json::array()}, {"address", {{"city", "Rome"}}}, {"plan", "pro"}};
  json ann_without_email = ann;
  ann_without_email["email"] = nullptr;
  const auto f = frames(json::array({{{"schema", kUser}, {"id", 1}, {"datum", ann}},
                                     {{"schema", kUserV2}, {"id", 2}, {"datum", bob}},
                                     {{"schema", kUser}, {"id", 99}, {"datum", ann}},
                                     {{"schema", kUser}, {"id", 3}, {"datum", ann}},
                                     {{"schema", kUser}, {"id", 1}, {"datum", ann_without_email}}}));
  ASSERT_EQ(f.size(), 5U);
  const std::string truncated = f[0].substr(0, f[0].size() - 3);
  const std::string left_over = f[0] + "!";
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  const std::vector<std::string> values = {f[0], f[1], "plain text", f[2], truncated, f[3], left_over, f[4]};
  for (std::size_t i = 0; i < values.size(); ++i) produce_exact(b, "events", 0, "k" + std::to_string(i), values[i], {});
  ScriptServer registry = this->registry();
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("avro", b, registry, endpoint));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-avro", values.size(), 1); }, 60s)) << d.log();

  std::map<std::int64_t, json> messages;       // offset -> the envelope's message
  std::map<std::int64_t, json> value_schemas;  // offset -> the envelope's value_schema
  std::map<std::int64_t, std::string> schema_id_fields;  // offset -> X-Kafka-Value-Schema-Id
  for (const auto& r : recorded()) {
    const auto envelope = json::parse(unhex(r["body"].get<std::string>()));
    const auto offset = envelope["offset"].get<std::int64_t>();
    messages[offset] = envelope["message"];
    value_schemas[offset] = envelope.value("value_schema", json());
    for (const auto& field : r["fields"]) {
      if (field[0] == "X-Kafka-Value-Schema-Id") schema_id_fields[offset] = unhex(field[1].get<std::string>());
    }
  }
  ASSERT_EQ(messages.size(), 4U) << d.log();
  // The event says which values were decoded, and with which schema.
  EXPECT_EQ(value_schemas[0], json({{"data_format", "AVRO"}, {"schema_id", 1}}));
  EXPECT_EQ(value_schemas[1], json({{"data_format", "AVRO"}, {"schema_id", 2}}));
  EXPECT_TRUE(value_schemas[2].is_null()) << "an undecoded value names no schema: " << value_schemas[2];
  EXPECT_EQ(schema_id_fields, (std::map<std::int64_t, std::string>{{0, "1"}, {1, "2"}, {7, "1"}}));
  json ann_avro_json = ann;  // Avro's JSON encoding names a union's branch
  ann_avro_json["email"] = {{"string", "a@x"}};
  EXPECT_EQ(messages[0], ann_avro_json);
  EXPECT_EQ(messages[1], bob) << "the second schema version decodes by its own schema";
  EXPECT_EQ(messages[2], json({{"raw_message", "plain text"}})) << "an unframed value passes as it is";
  EXPECT_EQ(messages[7], ann_without_email);

  const auto dlq = read_topic(b, "events.dlq", 4, 30s);
  ASSERT_EQ(dlq.size(), 4U);
  std::map<std::int64_t, TopicMessage> dead;
  for (const auto& m : dlq) dead[std::stoll(m.headers.at("sluice-source-offset"))] = m;
  const std::map<std::int64_t, std::string> reasons = {
      {3, "schema_decode: value schema 99: the schema registry has no schema 99"},
      {4, "schema_decode: value schema 1: the bytes are not a datum of the schema"},
      {5, "schema_decode: value schema 3: the data is not JSON: "},  // Avro bytes under a JSON Schema id
      {6, "schema_decode: value schema 1: bytes left over after a datum of the schema"}};
  for (const auto& [offset, reason] : reasons) {
    SCOPED_TRACE(offset);
    ASSERT_EQ(dead.count(offset), 1U);
    EXPECT_NE(dead[offset].headers.at("sluice-error").find(reason), std::string::npos) << dead[offset].headers.at("sluice-error");
    EXPECT_EQ(dead[offset].value, values[static_cast<std::size_t>(offset)]) << "the dead letter keeps the original bytes";
  }
  std::map<std::string, int> asked;
  for (const auto& line : registry_log()) ++asked[line.substr(0, line.find(' '))];
  EXPECT_EQ(asked["/schemas/ids/1"], 1) << "a schema is fetched once and kept";
  EXPECT_EQ(asked["/schemas/ids/2"], 1);
  EXPECT_EQ(asked["/schemas/ids/3"], 1);
  expect_clean_stop(d);
}

// Nested, oneof, enum, repeated, map and a well-known type (the unit tests' schema too).
const std::string kOrderProto = [] {
  std::ifstream f(std::string(SLUICE_SOURCE_DIR) + "/tests/golden/schemas/order.proto");
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}();

// Protobuf records (encoded by protoc, framed with Confluent's message indexes) reach the
// handler as protobuf's JSON mapping, each message type chosen by its indexes; a record
// whose bytes are not a message of its type, or whose index names none, is dead-lettered
// with the reason.
TEST_F(SchemaRegistry, FramedProtobufRecordsReachTheHandlerAsJsonByTheirMessageIndexes) {
  write_schemas({{"7", {{"schema", kOrderProto}, {"schemaType", "PROTOBUF"}}}});
  const auto job = [](const std::string& type, json indexes, const std::string& text) {
    return json{{"schema", kOrderProto}, {"id", 7}, {"type", type}, {"indexes", std::move(indexes)}, {"text", text}};
  };
  const auto f = protobuf_frames(
      dir.path(), json::array({job("shop.Order", {0},
                                   "id: 7 note: 'hi' tags: 'a' tags: 'b' status: PAID customer { name: 'ann' } voucher: 5 "
                                   "counts { key: 'k' value: 3 } created { seconds: 1718687340 } lines { sku: 'x' qty: 2 }"),
                               job("shop.Customer", {1}, "name: 'bob'"), job("shop.Order.Line", {0, 1}, "sku: 'y'"),
                               job("shop.Customer", {5}, "name: 'eve'")}));
  ASSERT_EQ(f.size(), 4U);
  const std::string truncated = f[0].substr(0, f[0].size() - 3);
  const std::vector<std::string> values = {f[0], f[1], f[2], truncated, f[3]};
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  for (std::size_t i = 0; i < values.size(); ++i) produce_exact(b, "events", 0, "k" + std::to_string(i), values[i], {});
  ScriptServer registry = this->registry();
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("proto", b, registry, endpoint, "value_format = \"protobuf\"\n"));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-proto", values.size(), 1); }, 60s)) << d.log();

  auto got = envelopes();
  ASSERT_EQ(got.size(), 3U) << d.log();
  EXPECT_EQ(got[0]["message"], json::parse(R"({"id":"7","note":"hi","tags":["a","b"],"status":"PAID",
      "customer":{"name":"ann"},"voucher":5,"counts":{"k":3},"created":"2024-06-18T05:09:00Z",
      "lines":[{"sku":"x","qty":2}]})"));
  EXPECT_EQ(got[1]["message"], json::parse(R"({"name":"bob"})")) << "the second message type, by its index";
  EXPECT_EQ(got[2]["message"], json::parse(R"({"sku":"y","qty":0})")) << "a nested message type, by its index path";
  for (const auto& [offset, envelope] : got) {
    EXPECT_EQ(envelope["value_schema"], json({{"data_format", "PROTOBUF"}, {"schema_id", 7}})) << offset;
  }
  auto dead = dead_letters(b, 2);
  ASSERT_EQ(dead.size(), 2U);
  EXPECT_NE(dead[3].headers.at("sluice-error").find("schema_decode: value schema 7: the bytes are not a shop.Order message"),
            std::string::npos)
      << dead[3].headers.at("sluice-error");
  EXPECT_EQ(dead[3].value, truncated) << "the dead letter keeps the original bytes";
  EXPECT_NE(dead[4].headers.at("sluice-error").find("schema_decode: value schema 7: message index 5 names no message"),
            std::string::npos)
      << dead[4].headers.at("sluice-error");
  EXPECT_EQ(registry_log().size(), 1U) << "the schema is fetched once";
  expect_clean_stop(d);
}

// While the registry is down, records wait — none reaches the handler undecoded, none is
// dead-lettered, nothing is committed past them — and once it is back every one is
// decoded and delivered.
// JSON Schema records are JSON after the frame: handed on as they are (every digit of a
// number kept), each with its schema's metadata; a record that is not one well-formed
// JSON value, one framed with a schema of another type, and one without a frame each
// take the failure path with the reason.
TEST_F(SchemaRegistry, FramedJsonSchemaRecordsReachTheHandlerAsTheyAreAndMalformedOnesAreDeadLettered) {
  write_schemas({{"9", {{"schema", R"({"type":"object"})"}, {"schemaType", "JSON"}}}, {"3", {{"schema", kUser}}}});
  const auto framed = [](std::uint8_t id, const std::string& text) { return std::string("\0\0\0\0", 4) + char(id) + text; };
  const std::string big = R"({"id": 123456789012345678901234567890, "name": "ann"})";
  const std::vector<std::string> values = {framed(9, big),         framed(9, R"({"id": 1)"), framed(3, "\x02"),
                                           R"({"plain": true})",   framed(9, "[\"\xff\"]"), framed(9, " [1, 2]\n")};
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  for (std::size_t i = 0; i < values.size(); ++i) produce_exact(b, "events", 0, "k", values[i], {});
  ScriptServer registry = this->registry();
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("js", b, registry, endpoint, "value_format = \"json_schema\"\n"));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-js", values.size(), 1); }, 60s)) << d.log();

  const auto bodies = recorded();
  ASSERT_EQ(bodies.size(), 2U) << d.log();
  EXPECT_NE(unhex(bodies[0]["body"].get<std::string>()).find(R"("message":{"id": 123456789012345678901234567890, "name": "ann"})"),
            std::string::npos)
      << "the JSON text as the producer wrote it: " << unhex(bodies[0]["body"].get<std::string>());
  auto got = envelopes();
  EXPECT_EQ(got[5]["message"], json::parse("[1, 2]"));
  for (const auto& [offset, envelope] : got) {
    EXPECT_EQ(envelope["value_schema"], json({{"data_format", "JSON"}, {"schema_id", 9}})) << offset;
  }
  auto dead = dead_letters(b, 4);
  ASSERT_EQ(dead.size(), 4U);
  EXPECT_NE(dead[1].headers.at("sluice-error").find("schema_decode: value schema 9: the data is not JSON: "), std::string::npos)
      << dead[1].headers.at("sluice-error");
  EXPECT_EQ(dead[1].value, values[1]) << "the dead letter keeps the original bytes";
  EXPECT_NE(dead[2].headers.at("sluice-error").find("schema_decode: value schema 3: a AVRO schema, and value_format is json_schema"),
            std::string::npos)
      << dead[2].headers.at("sluice-error");
  EXPECT_NE(dead[3].headers.at("sluice-error").find("not in the schema registry's wire format"), std::string::npos)
      << dead[3].headers.at("sluice-error");
  EXPECT_NE(dead[4].headers.at("sluice-error").find("schema_decode: value schema 9: the data is not JSON: "), std::string::npos)
      << "invalid UTF-8 in a string: " << dead[4].headers.at("sluice-error");
  EXPECT_EQ(registry_log().size(), 2U) << "each schema is fetched once";
  expect_clean_stop(d, instance);
}

// Schemas that use types registered under other subjects (references: Avro named types,
// Protobuf imports) decode with them, each fetched once by subject and version, a
// reference's own references too; a schema whose reference the registry does not have
// fails its records with the reason, and so does one whose references refer back to it.
TEST_F(SchemaRegistry, SchemasWithReferencesDecodeWithTheTypesTheyReferTo) {
  const std::string country = R"({"type":"record","name":"Country","namespace":"geo","fields":[{"name":"code","type":"string"}]})";
  const std::string address = R"({"type":"record","name":"Address","namespace":"com.example","fields":[
      {"name":"city","type":"string"},{"name":"country","type":"geo.Country"}]})";
  const std::string customer = R"({"type":"record","name":"Customer","namespace":"com.example","fields":[
      {"name":"name","type":"string"},{"name":"home","type":"Address"}]})";
  // The same schema in one document, for python3-avro to encode with.
  const std::string whole = R"({"type":"record","name":"Customer","namespace":"com.example","fields":[
      {"name":"name","type":"string"},{"name":"home","type":{"type":"record","name":"Address","fields":[
        {"name":"city","type":"string"},{"name":"country","type":{"type":"record","name":"Country","namespace":"geo",
          "fields":[{"name":"code","type":"string"}]}}]}}]})";
  const std::string line_proto = "syntax = \"proto3\"; package shop; message Line { string sku = 1; int32 qty = 2; }";
  const std::string cart_proto =
      "syntax = \"proto3\"; package shop; import \"shop/line.proto\"; message Cart { repeated Line lines = 1; }";
  const auto refs = [](const std::string& name, const std::string& subject) {
    return json::array({{{"name", name}, {"subject", subject}, {"version", 1}}});
  };
  write_schemas({{"11", {{"schema", customer}, {"references", refs("com.example.Address", "address-value")}}},
                 {"address-value/1", {{"schema", address}, {"references", refs("geo.Country", "country/value")}}},
                 {"country/value/1", {{"schema", country}}},
                 {"12", {{"schema", cart_proto}, {"schemaType", "PROTOBUF"}, {"references", refs("shop/line.proto", "line")}}},
                 {"line/1", {{"schema", line_proto}, {"schemaType", "PROTOBUF"}}},
                 {"13", {{"schema", customer}, {"references", refs("com.example.Address", "gone-value")}}},
                 {"14", {{"schema", customer}, {"references", refs("com.example.Address", "cyc-a")}}},
                 {"cyc-a/1", {{"schema", address}, {"references", refs("geo.Country", "cyc-b")}}},
                 {"cyc-b/1", {{"schema", country}, {"references", refs("com.example.Address", "cyc-a")}}}});
  const json ann = {{"name", "ann"}, {"home", {{"city", "Oslo"}, {"country", {{"code", "NO"}}}}}};
  const auto avro = frames(json::array({{{"schema", whole}, {"id", 11}, {"datum", ann}},
                                        {{"schema", whole}, {"id", 13}, {"datum", ann}},
                                        {{"schema", whole}, {"id", 14}, {"datum", ann}}}));
  const auto proto = protobuf_frames(dir.path(), json::array({{{"schema", cart_proto}, {"id", 12}, {"type", "shop.Cart"},
                                                               {"indexes", {0}}, {"imports", {{"shop/line.proto", line_proto}}},
                                                               {"text", "lines { sku: 'x' qty: 2 }"}}}));
  const std::vector<std::string> values = {avro[0], proto[0], avro[1], avro[0], avro[2]};
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  for (std::size_t i = 0; i < values.size(); ++i) produce_exact(b, "events", 0, "k", values[i], {});
  ScriptServer registry = this->registry();
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("refs", b, registry, endpoint));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-refs", values.size(), 1); }, 60s)) << d.log();

  auto got = envelopes();
  ASSERT_EQ(got.size(), 3U) << d.log();
  EXPECT_EQ(got[0]["message"], ann);
  EXPECT_EQ(got[3]["message"], ann);
  EXPECT_EQ(got[1]["message"], json::parse(R"({"lines":[{"sku":"x","qty":2}]})"));
  auto dead = dead_letters(b, 2);
  ASSERT_EQ(dead.size(), 2U);
  EXPECT_NE(dead[4].headers.at("sluice-error").find(
                "schema_decode: value schema 14: its references form a cycle at subject \"cyc-a\" version 1"),
            std::string::npos)
      << dead[4].headers.at("sluice-error");
  EXPECT_NE(dead[2].headers.at("sluice-error").find(
                "schema_decode: value schema 13: the schema registry has no subject \"gone-value\" version 1"),
            std::string::npos)
      << dead[2].headers.at("sluice-error");
  std::map<std::string, int> asked;
  for (const auto& line : registry_log()) ++asked[line.substr(0, line.find(' '))];
  EXPECT_EQ(asked["/subjects/address-value/versions/1"], 1) << "a reference is fetched once";
  EXPECT_EQ(asked["/subjects/country%2Fvalue/versions/1"], 1) << "a subject is one path segment";
  EXPECT_EQ(asked["/subjects/line/versions/1"], 1);
  EXPECT_EQ(asked["/schemas/ids/11"], 1);
  expect_clean_stop(d, instance);
}

// A plugin gets a decoded value as JSON, like every handler, and can ask the host for
// the bytes it was decoded from (host->original); a value that was not decoded has none
// to give, and neither does an index past the call or an unknown part.
TEST_F(SchemaRegistry, APluginGetsDecodedValuesAndCanAskForTheBytesTheyWereDecodedFrom) {
  write_schemas({{"1", {{"schema", kUser}}}});
  const json ann = {{"name", "ann"}, {"age", 41}, {"email", nullptr}, {"tags", json::array()}, {"address", {{"city", "Oslo"}}}};
  const auto f = frames(json::array({{{"schema", kUser}, {"id", 1}, {"datum", ann}}}));
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  produce_exact(b, "events", 0, "k", f[0], {});
  produce_exact(b, "events", 0, "k", "plain text", {});
  ScriptServer registry = this->registry();
  const fs::path originals = dir.path() / "originals.txt";
  Daemon d(dir.path(), daemon_config(instance, dir.path(), b,
                                     {{.name = "plug", .topic = "events", .workers = 1,
                                       .options = "originals_to = \"" + originals.string() +
                                                  "\"\n[lambda.schema_registry]\nurl = \"" + registry.url("/") + "\"\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-plug", 2, 1); }, 60s)) << d.log();
  std::vector<std::string> lines;
  std::ifstream in(originals);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2U) << d.log();
  const std::string hex = sluice::test::hex(f[0]);
  EXPECT_EQ(lines[0], "0 1 0 -1 -1 " + hex) << "the value's framed bytes; the key was not decoded";
  EXPECT_EQ(lines[1], "1 0 0 -1 -1 -") << "an undecoded value has no original";
  const auto handled = read_outcomes(dir.path() / "outcomes", "plug");
  ASSERT_EQ(handled.size(), 2U);
  EXPECT_TRUE(handled[0].value.starts_with(R"({"name":"ann","age":41)")) << "the record holds the JSON: " << handled[0].value;
  expect_clean_stop(d, instance);
}

// An exec runner that lists the `originals` feature in its ready frame gets, after the
// event in the same body, the bytes each decoded key or value came from; the Python
// runner hands them to f(event, context) as context.original(part, index), for every
// record of a batch, and the event itself is the decoded JSON alone.
TEST_F(SchemaRegistry, AnExecRunnerThatAsksGetsTheBytesEachDecodedPartCameFrom) {
  write_schemas({{"1", {{"schema", kUser}}}});
  const json ann = {{"name", "ann"}, {"age", 41}, {"email", nullptr}, {"tags", json::array()}, {"address", {{"city", "Oslo"}}}};
  const auto f = frames(json::array({{{"schema", kUser}, {"id", 1}, {"datum", ann}}}));
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  produce_exact(b, "events", 0, "k", f[0], {});         // value decoded
  produce_exact(b, "events", 0, "k", "plain text", {});  // nothing decoded
  produce_exact(b, "events", 0, f[0], "{\"x\": 1}", {});  // key decoded
  ScriptServer registry = this->registry();
  const fs::path seen = dir.path() / "seen.txt";
  std::ofstream(dir.path() / "orig.py") << "import json\n"
                                           "def f(event, context):\n"
                                           "    records = event if isinstance(event, list) else [event]\n"
                                           "    with open(" << json(seen.string()).dump() << ", 'a') as out:\n"
                                           "        for i, r in enumerate(records):\n"
                                           "            v, k = context.original('value', i), context.original('key', i)\n"
                                           "            m = r['message']\n"
                                           "            out.write('%d %s %s %s\\n' % (r['offset'], v.hex() if v else '-', "
                                           "k.hex() if k else '-', m['name'] if isinstance(m, dict) and 'name' in m else '-'))\n";
  const std::string handler = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", \"" +
                              (dir.path() / "orig.py").string() + "\"]\ntimeout_ms = 5000\n[lambda.schema_registry]\nurl = \"" +
                              registry.url("/") + "\"\nkey_format = \"auto\"\n";
  Daemon d(dir.path(), daemon_config(instance, dir.path(), b,
                                     {{.name = "ex", .topic = "events", .workers = 1,
                                       .extra = "format = \"json\"\nbatch_size = 10\n", .handler = handler}}),
           "run", {{"PYTHONPATH", std::string(SLUICE_SOURCE_DIR) + "/worker/python"}});
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-ex", 3, 1); }, 60s)) << d.log();
  std::map<int, std::string> lines;
  std::ifstream in(seen);
  for (std::string line; std::getline(in, line);) lines[std::stoi(line)] = line;
  const std::string hex = sluice::test::hex(f[0]);
  ASSERT_EQ(lines.size(), 3U) << d.log();
  EXPECT_EQ(lines[0], "0 " + hex + " - ann") << "the value's framed bytes, and the decoded record as the event";
  EXPECT_EQ(lines[1], "1 - - -") << "nothing was decoded, so there is no original";
  EXPECT_EQ(lines[2], "2 - " + hex + " -") << "the key's framed bytes, at the record's own index in the batch";
  expect_clean_stop(d, instance);
}

TEST_F(SchemaRegistry, RecordsWaitForARegistryThatIsDownAndNoneIsLostOrPassedUndecoded) {
  constexpr int kRecords = 20;
  write_schemas({{"1", {{"schema", kUser}}}});
  json jobs = json::array();
  for (int i = 0; i < kRecords; ++i) {
    jobs.push_back({{"schema", kUser}, {"id", 1},
                    {"datum", {{"name", "u" + std::to_string(i)}, {"age", i}, {"email", nullptr},
                               {"tags", json::array()}, {"address", {{"city", "c"}}}}}});
  }
  const auto f = frames(jobs);
  DevBroker broker({"events:2"});
  const std::string b = broker.bootstrap();
  for (int i = 0; i < kRecords; ++i) produce_exact(b, "events", i % 2, "k", f[static_cast<std::size_t>(i)], {});
  const fs::path down = dir.path() / "down";
  std::ofstream(down) << "down\n";
  ScriptServer registry = this->registry(down);
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("avro", b, registry, endpoint, "", "max_attempts = 1\nretry_backoff_ms = [10, 100]\n", 2));
  // Asked again after its first refusal: the records are waiting, not failed; and the
  // signals say who is at fault: the registry, not the handler.
  ASSERT_TRUE(wait_until([&] { return registry_log().size() >= 4; }, 60s)) << d.log();
  auto health = [&] { return json::parse(admin(dir.path(), instance, "GET", "/healthz").body, nullptr, false); };
  ASSERT_TRUE(wait_until([&] {
    const auto h = health();
    return h.is_object() && h["lambdas"]["avro"]["status"] == "degraded" &&
           h["lambdas"]["avro"]["reasons"].dump().find("schema registry unavailable") != std::string::npos;
  }, 60s)) << health().dump();
  EXPECT_EQ(health()["lambdas"]["avro"]["reasons"].dump().find("handler unavailable"), std::string::npos);
  const std::string metrics = admin(dir.path(), instance, "GET", "/metrics").body;
  EXPECT_GT(sample(metrics, "sluice_schema_registry_unavailable_total{lambda=\"avro\"}"), 0) << metrics;
  EXPECT_GT(sample(metrics, "sluice_workers_schema_registry_unavailable{lambda=\"avro\"}"), 0) << metrics;
  EXPECT_EQ(sample(metrics, "sluice_handler_unavailable_total{lambda=\"avro\"}"), 0) << metrics;
  EXPECT_TRUE(recorded().empty()) << "nothing reaches the handler undecoded";
  for (const auto& [partition, offset] : committed_or_empty(b, "lambda-avro")) {
    EXPECT_LE(offset, 0) << "partition " << partition << " committed past records that wait for the registry";
  }
  fs::remove(down);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-avro", kRecords, 2); }, 60s)) << d.log();
  std::set<std::string> names;
  for (const auto& r : recorded()) names.insert(json::parse(unhex(r["body"].get<std::string>()))["message"]["name"]);
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kRecords)) << "every record, decoded";
  EXPECT_TRUE(read_topic(b, "events.dlq", 1, 2s).empty()) << "nothing was dead-lettered for the outage";
  ASSERT_TRUE(wait_until([&] { return health()["lambdas"]["avro"]["status"] == "ok"; }, 30s)) << health().dump();
  expect_clean_stop(d);
}

// A record whose decoding takes its worker down (here: the worker is killed while it
// waits, inside the decoder, for a registry that never answers) uses up its attempts
// like a record that crashes its handler, and takes the failure path; it is not
// delivered again for ever while the records behind it wait.
TEST_F(SchemaRegistry, ARecordWhoseDecodingKillsItsWorkerUsesUpItsAttempts) {
  write_schemas({{"1", {{"schema", kUser}}}, {"5", {{"hang", true}}}});
  const json ann = {{"name", "ann"}, {"age", 41}, {"email", nullptr}, {"tags", json::array()}, {"address", {{"city", "Oslo"}}}};
  const auto f = frames(json::array({{{"schema", kUser}, {"id", 5}, {"datum", ann}}, {{"schema", kUser}, {"id", 1}, {"datum", ann}}}));
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  produce_exact(b, "events", 0, "k0", f[0], {});
  produce_exact(b, "events", 0, "k1", f[1], {});
  ScriptServer registry = this->registry();
  ScriptServer endpoint = this->endpoint();
  Daemon d(dir.path(), decoding_config("avro", b, registry, endpoint, "timeout_ms = 600000\n", "max_attempts = 2\n"));
  const auto asked_for_5 = [&] {
    std::size_t n = 0;
    for (const auto& line : registry_log()) n += line.starts_with("/schemas/ids/5 ") ? 1 : 0;
    return n;
  };
  for (std::size_t attempt = 1; attempt <= 2; ++attempt) {
    SCOPED_TRACE(attempt);
    ASSERT_TRUE(wait_until([&] { return asked_for_5() == attempt; }, 60s)) << d.log();
    const auto workers = d.children("worker");
    ASSERT_EQ(workers.size(), 1U) << d.log();
    ASSERT_EQ(::kill(workers[0], SIGKILL), 0);  // inside the decoder: the registry never answers
  }
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-avro", 2, 1); }, 60s)) << d.log();
  const auto dlq = read_topic(b, "events.dlq", 1, 30s);
  ASSERT_EQ(dlq.size(), 1U);
  EXPECT_EQ(dlq[0].headers.at("sluice-source-offset"), "0");
  EXPECT_EQ(dlq[0].headers.at("sluice-attempts"), "2");
  EXPECT_NE(dlq[0].headers.at("sluice-error").find("SIGKILL"), std::string::npos) << dlq[0].headers.at("sluice-error");
  EXPECT_EQ(asked_for_5(), 2U) << "not asked again after its attempts ran out";
  const auto got = recorded();
  ASSERT_EQ(got.size(), 1U) << "the record behind it, decoded";
  EXPECT_EQ(json::parse(unhex(got[0]["body"].get<std::string>()))["offset"], 1);
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
