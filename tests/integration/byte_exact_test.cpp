// Every byte of a record's key and headers reaches handlers behind the HTTP servers
// people actually run — Python's http.server and Node's http — in every format, decoded
// with that language's own standard percent-decoder: leading and trailing spaces (which
// HTTP parsers trim from field values), NUL, 0xFF, a non-ASCII name, a name with spaces,
// repeated names, and a null value told apart from an empty one. (cpp-httplib and the
// exec runner are covered in http_handler_test.cpp and exec_handler_test.cpp.)
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon_test.hpp"
#include "harness/decoding.hpp"
#include "harness/script_server.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Header = std::pair<std::string, std::optional<std::string>>;

const std::string kKey = "  spaced key  ";
const std::string kValue = " v a l ";
const std::vector<Header> kHeaders = {{"bytes", std::string("\x00\xff ", 3)},
                                      {"dup", "1"},
                                      {"dup", "2"},
                                      {"cl\xc3\xa9", "cl\xc3\xa9"},
                                      {"h", std::nullopt},
                                      {"h", ""},
                                      {" sp ace ", "x"}};

// path -> the request handlers/recording_server.* recorded for it in `file` (each lambda
// here gets one record).
std::map<std::string, nlohmann::json> recorded(const fs::path& file) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    const auto path = j["path"].get<std::string>();  // before j is moved from
    out[path] = std::move(j);
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The request's fields as the server saw them: name -> decoded bytes of the last one.
std::map<std::string, std::string> decoded_fields(const nlohmann::json& request) {
  std::map<std::string, std::string> out;
  for (const auto& f : request["fields"]) out[lower(f[0].get<std::string>())] = unhex(f[2].get<std::string>());
  return out;
}

// The Kafka headers read back from X-Kafka-Header-<name> fields in the order the server
// received them, each made null by an X-Kafka-Null-Header field right after it naming it.
std::vector<Header> kafka_headers(const nlohmann::json& request) {
  static const std::string kPrefix = "x-kafka-header-";
  std::vector<Header> out;
  std::optional<std::string> previous;  // encoded name of the field before, if a Kafka header
  for (const auto& f : request["fields"]) {
    const std::string name = f[0].get<std::string>();
    if (lower(name).starts_with(kPrefix)) {
      out.emplace_back(percent_decoded(name.substr(kPrefix.size())), unhex(f[2].get<std::string>()));
      previous = lower(name.substr(kPrefix.size()));
      continue;
    }
    if (lower(name) == "x-kafka-null-header" && previous == lower(unhex(f[1].get<std::string>()))) out.back().second.reset();
    previous.reset();
  }
  return out;
}

class ByteExact : public DaemonTest {};

TEST_F(ByteExact, KeyAndHeadersSurvivePythonAndNodeServersInEveryFormat) {
  DevBroker broker({"events:1"});
  produce_exact(broker.bootstrap(), "events", 0, kKey, kValue, kHeaders);
  ScriptServer python("/usr/bin/python3", "recording_server.py", {(dir.path() / "python.jsonl").string()});
  ScriptServer node("/usr/bin/node", "recording_server.js", {(dir.path() / "node.jsonl").string()});
  const std::vector<std::string> formats = {"raw", "json", "cloudevents", "aws"};
  std::vector<LambdaSpec> lambdas;
  for (const auto* server : {&python, &node}) {
    const std::string side = server == &python ? "py" : "node";
    for (const auto& format : formats) {
      lambdas.push_back({.name = side + "-" + format, .topic = "events", .workers = 1,
                         .extra = "format = \"" + format + "\"\n",
                         .handler = "type = \"http\"\nurl = \"" + server->url("/" + format) + "\"\ntimeout_ms = 5000\n"});
    }
  }
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), lambdas));
  for (const auto& l : lambdas) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + l.name, 1, 1); }, 60s))
        << l.name << "\n" << d.log();
  }
  for (const auto* server : {&python, &node}) {
    SCOPED_TRACE(server == &python ? "Python http.server" : "Node http");
    const auto requests = recorded(dir.path() / (server == &python ? "python.jsonl" : "node.jsonl"));
    ASSERT_EQ(requests.size(), formats.size());
    for (const std::string format : {"raw", "cloudevents"}) {
      SCOPED_TRACE(format);
      const auto& r = requests.at("/" + format);
      EXPECT_EQ(decoded_fields(r).at("x-kafka-key"), kKey);
      EXPECT_EQ(kafka_headers(r), kHeaders) << "every header, in order, null apart from empty";
      EXPECT_EQ(unhex(r["body"].get<std::string>()), kValue);
    }
    const auto ce = decoded_fields(requests.at("/cloudevents"));
    EXPECT_EQ(ce.at("ce-key"), kKey);
    EXPECT_EQ(ce.at("ce-kafkaheaderbytes"), std::string("\x00\xff ", 3));
    EXPECT_EQ(ce.at("ce-kafkaheaderdup"), "2") << "one value per attribute: the last";
    EXPECT_EQ(ce.at("ce-kafkaheadercl"), "cl\xc3\xa9");
    EXPECT_EQ(ce.at("ce-kafkaheaderspace"), "x");

    const auto& json_request = requests.at("/json");
    EXPECT_EQ(kafka_headers(json_request), kHeaders);
    const auto envelope = nlohmann::json::parse(unhex(json_request["body"].get<std::string>()));
    EXPECT_EQ(envelope["key"], kKey);
    EXPECT_EQ(envelope["message"]["raw_message"], kValue) << "text that is not JSON";
    EXPECT_EQ(envelope["headers"]["dup"], "2");
    EXPECT_EQ(envelope["headers"]["h"], "") << "the last of h is empty, not null";
    EXPECT_EQ(envelope["headers"]["cl\xc3\xa9"], "cl\xc3\xa9");
    EXPECT_EQ(envelope["headers"][" sp ace "], "x");
    EXPECT_EQ(base64_decoded(envelope["binary_headers"]["bytes"].get<std::string>()), std::string("\x00\xff ", 3));

    const auto event = nlohmann::json::parse(unhex(requests.at("/aws")["body"].get<std::string>()));
    const auto& record = event["records"]["events-0"][0];
    EXPECT_EQ(base64_decoded(record["key"].get<std::string>()), kKey);
    EXPECT_EQ(base64_decoded(record["value"].get<std::string>()), kValue);
    std::vector<Header> aws;
    for (const auto& h : record["headers"]) {
      for (const auto& [name, bytes] : h.items()) {
        std::string v;
        for (const int b : bytes) v += static_cast<char>(b);
        aws.emplace_back(name, v);
      }
    }
    std::vector<Header> want = kHeaders;
    want[4].second = "";  // AWS's format has no null header value: []
    EXPECT_EQ(aws, want);
  }
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
