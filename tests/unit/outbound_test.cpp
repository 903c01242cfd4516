#include "worker/outbound.hpp"

#include <gtest/gtest.h>

#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

TEST(Outbound, ReadsEveryFieldOfAProduceList) {
  std::vector<OutboundRecord> out;
  std::string why;
  ASSERT_TRUE(parse_produce(R"({"result": 1, "produce": [
      {"topic": "a", "key": "k", "value": "text", "headers": {"h": "v", "n": null}, "partition": 3},
      {"topic": "b", "value": {"x": [1, 2]}},
      {"topic": "c", "key_base64": "AP8=", "value_base64": "AAEC"},
      {"topic": "d", "key": null, "value": null}]})",
                            out, why))
      << why;
  ASSERT_EQ(out.size(), 4U);
  EXPECT_EQ(out[0].topic, "a");
  EXPECT_EQ(out[0].partition, 3);
  EXPECT_EQ(out[0].key, "k");
  EXPECT_EQ(out[0].value, "text");
  ASSERT_EQ(out[0].headers.size(), 2U);
  EXPECT_EQ(out[0].headers[0], (std::pair<std::string, std::optional<std::string>>{"h", "v"}));
  EXPECT_EQ(out[0].headers[1], (std::pair<std::string, std::optional<std::string>>{"n", std::nullopt}));
  EXPECT_EQ(out[1].value, R"({"x":[1,2]})") << "other JSON is produced as its text";
  EXPECT_EQ(out[1].partition, -1);
  EXPECT_FALSE(out[1].key.has_value());
  EXPECT_EQ(out[2].key, std::string("\x00\xff", 2));
  EXPECT_EQ(out[2].value, std::string("\x00\x01\x02", 3));
  EXPECT_FALSE(out[3].key.has_value());
  EXPECT_FALSE(out[3].value.has_value()) << "a null value is a tombstone";
}

// An object holds one text value per name; AMGI's message.send carries headers as
// (bytes, bytes) pairs, repeats kept. The list form carries those exactly, in order.
TEST(Outbound, HeadersAsAListKeepRepeatsOrderAndBytes) {
  std::vector<OutboundRecord> out;
  std::string why;
  ASSERT_TRUE(parse_produce(R"({"produce": [{"topic": "a", "headers": [
      {"name": "h", "value": "one"}, {"name": "bin", "value_base64": "AP8K"}, {"name": "h", "value": "two"},
      {"name": "gone", "value": null}, {"name": "absent"}, {"name": "", "value": ""}]}]})",
                            out, why))
      << why;
  ASSERT_EQ(out.size(), 1U);
  using Header = std::pair<std::string, std::optional<std::string>>;
  const std::vector<Header> want = {{"h", "one"}, {"bin", std::string("\x00\xff\n", 3)}, {"h", "two"},
                                    {"gone", std::nullopt}, {"absent", std::nullopt}, {"", ""}};
  EXPECT_EQ(out[0].headers, want);
}

TEST(Outbound, AnswersWithoutAListProduceNothing) {
  for (const char* body : {"", "ok", "[1,2]", R"({"produce": null})", R"({"other": "produce"})",
                                 R"("produce")", R"({"batchItemFailures": []})"}) {
    std::vector<OutboundRecord> out;
    std::string why;
    EXPECT_TRUE(parse_produce(body, out, why)) << body;
    EXPECT_TRUE(out.empty()) << body;
  }
}

TEST(Outbound, AMalformedListIsRejectedWholeWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"produce": {"topic": "a"}})", "produce: must be a list of records"},
      {R"({"produce": [{"topic": "a"}, 7]})", "produce[1]: must be an object"},
      {R"({"produce": [{"value": "x"}]})", "produce[0]: topic must be a non-empty string"},
      {R"({"produce": [{"topic": ""}]})", "produce[0]: topic must be a non-empty string"},
      {R"({"produce": [{"topic": "a", "partition": -1}]})", "produce[0]: partition must be a non-negative integer"},
      {R"({"produce": [{"topic": "a", "key": 5}]})", "produce[0]: key must be a string"},
      {R"({"produce": [{"topic": "a", "value_base64": "!!"}]})", "produce[0]: value_base64 must be a base64 string"},
      {R"({"produce": [{"topic": "a", "headers": {"h": 1}}]})", "produce[0]: header h must be a string or null"},
      {R"({"produce": [{"topic": "a", "headers": "h"}]})",
       "produce[0]: headers must be an object of strings or a list of {name, value}"},
      {R"({"produce": [{"topic": "a", "headers": [{"name": "h"}, {"value": "v"}]}]})",
       "produce[0]: headers[1]: must be an object with a string \"name\""},
      {R"({"produce": [{"topic": "a", "headers": [7]}]})", "produce[0]: headers[0]: must be an object with a string \"name\""},
      {R"({"produce": [{"topic": "a", "headers": [{"name": "h", "value": 5}]}]})", "produce[0]: headers[0]: value must be a string"},
      {R"({"produce": [{"topic": "a", "headers": [{"name": "h", "value_base64": "!"}]}]})",
       "produce[0]: headers[0]: value_base64 must be a base64 string"},
  };
  for (const auto& [body, expected] : cases) {
    std::vector<OutboundRecord> out;
    std::string why;
    EXPECT_FALSE(parse_produce(body, out, why)) << body;
    EXPECT_EQ(why, expected) << body;
    EXPECT_TRUE(out.empty()) << body;
  }
}

// An answer that asks for records but cannot be read lost them without a word; now the
// call is retried with the reason. Before, the NUL case produced nothing: the parser
// read the empty list ahead of the NUL as the whole answer.
TEST(Outbound, AnAnswerThatNamesProduceButIsNotJsonIsRefused) {
  const std::string wanted = R"({"produce": [{"topic": "a", "value": "x"}]})";
  for (const std::string& body : {wanted.substr(0, wanted.size() - 1), std::string(R"({"produce": []})") + '\0' + wanted}) {
    std::vector<OutboundRecord> out;
    std::string why;
    EXPECT_FALSE(parse_produce(body, out, why)) << body;
    EXPECT_EQ(why, "produce: the answer names \"produce\" but is not JSON") << body;
    EXPECT_TRUE(out.empty()) << body;
  }
}

// An answer nested 100,000 deep crashed the worker (its value printed back to text
// recursively). Deep answers are refused with a reason, whatever their shape.
TEST(Outbound, AnAnswerNestedTooDeepIsRefusedNotACrash) {
  for (const std::string open : {"[", "{\"a\":"}) {
    std::string deep = R"({"produce": [{"topic": "t", "value": )";
    for (int i = 0; i < 100'000; ++i) deep += open;
    std::vector<OutboundRecord> out;
    std::string why;
    EXPECT_FALSE(parse_produce(deep, out, why));
    EXPECT_NE(why.find("nested deeper than 128 levels"), std::string::npos) << why;
    EXPECT_TRUE(out.empty());
  }
  std::string fine = R"({"produce": [{"topic": "t", "value": )" + std::string(100, '[') + std::string(100, ']') + "}]}";
  std::vector<OutboundRecord> out;
  std::string why;
  EXPECT_TRUE(parse_produce(fine, out, why)) << why;
  ASSERT_EQ(out.size(), 1U);
}

TEST(Base64, DecodesWhatItEncodesAndRejectsTheRest) {
  for (const std::string& s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                              std::string("\x00\xff\x10\x80", 4)}) {
    std::string back;
    ASSERT_TRUE(base64_decode(base64(s), back)) << base64(s);
    EXPECT_EQ(back, s);
  }
  std::string out;
  for (const char* bad : {"A", "AAA", "A===", "=AAA", "AA=A", "AA==AA==", "AA*A"}) {
    EXPECT_FALSE(base64_decode(bad, out)) << bad;
  }
}

}  // namespace
}  // namespace sluice::worker
