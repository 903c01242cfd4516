// worker/json_check.cpp: the fast check must give nlohmann's verdict (nesting_at_most and
// one_json_value) on the texts where the two parsers differ most.
#include "worker/json_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

bool reference(const std::string& s) {
  return !s.empty() && nesting_at_most(s, kMaxValueJsonDepth) && one_json_value(s);
}

std::string nested(int depth, bool objects) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += objects ? "{\"a\":" : "[";
  s += "1";
  for (int i = 0; i < depth; ++i) s += objects ? "}" : "]";
  return s;
}

TEST(JsonCheck, EveryVerdictIsTheOldOneWhereTheParsersDisagree) {
  const std::vector<std::string> texts = {
      // simdjson refuses these; nlohmann takes them (an integer beyond 64 bits becomes a
      // double there, the byte-order mark is skipped)
      "123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", "\xef\xbb\xbf{}",
      R"({"n": 123456789012345678901234567890})",
      // both refuse: numbers that are no finite double, lone surrogates
      "1E400", "-1e400", "1.7976931348623157e309", std::string(400, '9'), R"("\ud800")", R"("\udc00")",
      R"("\ud800\u0041")",
      // both take
      R"("\ud83d\ude00")", "4.9e-325", "-0", " 1 ", R"("\u0000")", "{}", "[]", R"({"a":[1,{"b":null}]})",
      // neither
      "", " ", "[1,]", "[1]x", "nul", "\"a\tb\"", std::string("1\0", 2), std::string("\"a\0\"", 4), "\xff",
      // the depth limit, at and past it, as arrays and as objects
      nested(kMaxValueJsonDepth, false), nested(kMaxValueJsonDepth + 1, false), nested(kMaxValueJsonDepth, true),
      nested(kMaxValueJsonDepth + 1, true), nested(kMaxValueJsonDepth - 1, true)};
  for (const auto& s : texts) EXPECT_EQ(is_json_value(s), reference(s)) << "for " << s.substr(0, 60);
  // The list above must reach both answers, or it tests nothing.
  EXPECT_TRUE(is_json_value(nested(kMaxValueJsonDepth, true)));
  EXPECT_FALSE(is_json_value(nested(kMaxValueJsonDepth + 1, false)));
  EXPECT_TRUE(is_json_value("123456789012345678901234567890"));
  EXPECT_FALSE(is_json_value("1E400"));
}

TEST(JsonCheck, AValueLargerThanAnySeenBeforeIsJudgedWhole) {
  // The parser's buffers are kept per thread and grow: longer values after short ones,
  // up to and past the size that is left to nlohmann alone.
  EXPECT_TRUE(is_json_value("[1]"));
  for (const int n : {50'000, 200'000}) {
    std::string big = "[";
    for (int i = 0; i < n; ++i) big += "1,";
    big += "1]";
    EXPECT_TRUE(is_json_value(big)) << big.size() << " bytes";
    big.back() = ',';
    EXPECT_FALSE(is_json_value(big)) << big.size() << " bytes";
    big.back() = ']';
    big += " 1";
    EXPECT_FALSE(is_json_value(big)) << big.size() << " bytes";
  }
}

}  // namespace
}  // namespace sluice::worker
