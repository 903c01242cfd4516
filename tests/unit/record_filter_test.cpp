// RecordFilter (consumer/record_filter.hpp): AWS's filter grammar applied to records as
// librdkafka hands them over, one table row per rule, each with a record it must admit
// and one it must not.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consumer/incoming_record.hpp"
#include "consumer/record_filter.hpp"

namespace sluice::consumer {
namespace {

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};

struct Rec {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::string topic = "orders";
};

bool admitted(RecordFilter& f, const Rec& r) {
  rd_kafka_message_t m{};
  if (r.key) {
    m.key = const_cast<char*>(r.key->data());
    m.key_len = r.key->size();
  }
  if (r.value) {
    m.payload = const_cast<char*>(r.value->data());
    m.len = r.value->size();
  }
  std::unique_ptr<rd_kafka_headers_t, HeadersDeleter> h(rd_kafka_headers_new(r.headers.size() + 1));
  for (const auto& [n, v] : r.headers) {
    rd_kafka_header_add(h.get(), n.data(), static_cast<ssize_t>(n.size()), v ? v->data() : nullptr,
                        v ? static_cast<ssize_t>(v->size()) : 0);
  }
  IncomingRecord in;
  in.read(m, h.get(), 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  return f.admits(r.topic, in.message(), in.headers());
}

RecordFilter filter_of(std::vector<std::string> patterns) {
  std::vector<config::Filter> fs;
  for (const auto& p : patterns) fs.push_back(config::compile_filter(p));
  return RecordFilter(std::move(fs));
}

struct Row {
  std::string pattern;
  Rec admits;
  Rec refuses;
};

Rec value(std::string v) { return Rec{std::nullopt, std::move(v), {}}; }

TEST(RecordFilter, EachRuleOfTheGrammarAdmitsWhatItNamesAndNothingElse) {
  const std::vector<Row> rows = {
      {R"({"value": {"device": ["AB1234"]}})", value(R"({"device":"AB1234"})"), value(R"({"device":"AB12345"})")},
      {R"({"value": {"device": [{"prefix": "AB"}]}})", value(R"({"device":"AB99"})"), value(R"({"device":"XAB"})")},
      {R"({"value": {"file": [{"suffix": ".png"}]}})", value(R"({"file":"a.png"})"), value(R"({"file":"a.png.txt"})")},
      {R"({"value": {"name": [{"equals-ignore-case": "ALICE"}]}})", value(R"({"name":"aLiCe"})"), value(R"({"name":"alicia"})")},
      {R"({"value": {"state": [{"anything-but": ["done", "failed"]}]}})", value(R"({"state":"new"})"),
       value(R"({"state":"done"})")},
      {R"({"value": {"state": [{"anything-but": {"prefix": "tmp-"}}]}})", value(R"({"state":"real"})"),
       value(R"({"state":"tmp-1"})")},
      {R"({"value": {"amount": [{"numeric": [">", 100, "<=", 200]}]}})", value(R"({"amount":200})"),
       value(R"({"amount":100})")},
      {R"({"value": {"amount": [{"numeric": ["=", 3]}]}})", value(R"({"amount":3.0})"), value(R"({"amount":"3"})")},
      {R"({"value": {"amount": [5]}})", value(R"({"amount":5})"), value(R"({"amount":"5"})")},
      {R"({"value": {"ok": [true]}})", value(R"({"ok":true})"), value(R"({"ok":"true"})")},
      {R"({"value": {"gone": [null]}})", value(R"({"gone":null})"), value(R"({"gone":0})")},
      {R"({"value": {"opt": [{"exists": true}]}})", value(R"({"opt":null})"), value(R"({"other":1})")},
      {R"({"value": {"opt": [{"exists": false}]}})", value(R"({"other":1})"), value(R"({"opt":1})")},
      {R"({"value": {"session": {"duration": [{"numeric": [">=", 100]}]}}})",
       value(R"({"session":{"start":"x","duration":162}})"), value(R"({"duration":162,"session":{"duration":99}})")},
      {R"({"value": {"tags": ["red"]}})", value(R"({"tags":["blue","red"]})"), value(R"({"tags":["blue"]})")},
      {R"({"value": {"items": {"sku": ["A1"]}}})", value(R"({"items":[{"sku":"B"},{"sku":"A1"}]})"),
       value(R"({"items":[{"sku":"B"}]})")},
      {R"({"value": {"a": ["x"], "b": ["y"]}})", value(R"({"b":"y","a":"x"})"), value(R"({"a":"x","b":"z"})")},
      // The value as a whole: plain text, or a JSON scalar.
      {R"({"value": [{"prefix": "Hello"}]})", value("Hello, this is a test."), value("Goodbye")},
      {R"({"value": ["hi"]})", value(R"("hi")"), value(R"({"v":"hi"})")},
      {R"({"value": [{"numeric": [">", 10]}]})", value("42"), value("7")},
      {R"({"value": [{"exists": false}]})", Rec{}, value("")},
      {R"({"value": {"id": [{"exists": false}]}})", value(R"({"x":1})"), value("not json")},
      {R"({"value": [{"prefix": "{"}]})", value("{not json"), value(R"({"json":true})")},
      // Key, headers and topic: bytes read as text.
      {R"({"key": [{"prefix": "user-"}]})", Rec{"user-7", "v", {}}, Rec{"admin-7", "v", {}}},
      {R"({"key": [{"numeric": [">=", 100]}]})", Rec{"150", "v", {}}, Rec{"1e1", "v", {}}},
      {R"({"key": [{"exists": false}]})", Rec{std::nullopt, "v", {}}, Rec{"", "v", {}}},
      {R"({"key": [{"anything-but": "x"}]})", Rec{"y", "v", {}}, Rec{std::nullopt, "v", {}}},
      {R"({"headers": {"source": ["web"]}})", Rec{std::nullopt, "v", {{"source", "app"}, {"source", "web"}}},
       Rec{std::nullopt, "v", {{"Source", "web"}}}},
      {R"({"headers": {"trace": [{"exists": true}]}})", Rec{std::nullopt, "v", {{"trace", std::nullopt}}},
       Rec{std::nullopt, "v", {}}},
      {R"({"headers": {"n": [""]}})", Rec{std::nullopt, "v", {{"n", ""}}}, Rec{std::nullopt, "v", {{"n", std::nullopt}}}},
      {R"({"topic": ["orders"]})", Rec{std::nullopt, "v", {}, "orders"}, Rec{std::nullopt, "v", {}, "payments"}},
      {R"({"topic": ["orders"], "value": {"a": [1]}})", value(R"({"a":1})"), Rec{std::nullopt, R"({"a":1})", {}, "x"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.pattern);
    RecordFilter f = filter_of({row.pattern});
    EXPECT_TRUE(admitted(f, row.admits));
    EXPECT_FALSE(admitted(f, row.refuses));
  }
}

TEST(RecordFilter, FiltersAreOredAndAValueIsReadOncePerRecord) {
  RecordFilter f = filter_of({R"({"value": {"kind": ["a"]}})", R"({"value": {"kind": ["b"]}, "key": ["k"]})"});
  EXPECT_TRUE(admitted(f, value(R"({"kind":"a"})")));
  EXPECT_TRUE(admitted(f, Rec{"k", R"({"kind":"b"})", {}}));
  EXPECT_FALSE(admitted(f, Rec{"j", R"({"kind":"b"})", {}})) << "both conditions of the second filter";
  EXPECT_FALSE(admitted(f, value(R"({"kind":"c"})")));
  EXPECT_TRUE(admitted(f, value(R"({"kind":"a"})"))) << "nothing carried over from the record before";
}

TEST(RecordFilter, HostileValuesAreJudgedWithoutHarm) {
  RecordFilter f = filter_of({R"({"value": {"a": {"b": ["x"]}}})"});
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 100000; ++i) deep += "}";
  EXPECT_FALSE(admitted(f, value(deep)));
  EXPECT_TRUE(admitted(f, value(R"({"a":{"b":"x"}})"))) << "and the next record is judged afresh";
  EXPECT_FALSE(admitted(f, value(std::string("{\"a\":{\"b\":\"x\"}}\xff", 16)))) << "trailing garbage: not JSON";
  EXPECT_FALSE(admitted(f, value(std::string("\0\0\0", 3))));
}

TEST(RecordFilter, WithoutFiltersNothingIsJudged) {
  RecordFilter none({});
  EXPECT_FALSE(none.active());
}

}  // namespace
}  // namespace sluice::consumer
