// The JSON text the Avro printer writes: every string and number must read back as the
// value it came from (checked with nlohmann's parser), and non-UTF-8 text is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "worker/json_text.hpp"

namespace sluice::worker {
namespace {

using nlohmann::json;

std::string as_json(std::string_view s) {
  std::string out;
  EXPECT_TRUE(append_json_string(out, s)) << s;
  return out;
}

TEST(JsonText, StringsReadBackByteForByte) {
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) every_ascii += static_cast<char>(c);
  for (const std::string& s : {std::string(), every_ascii, std::string("caf\xc3\xa9 \xf0\x9f\x98\x80"), std::string(3000, 'n'),
                              std::string("\"\\\n\r\t\b\f\x01\x1f")}) {
    const std::string text = as_json(s);
    EXPECT_EQ(json::parse(text).get<std::string>(), s) << text;
  }
  EXPECT_EQ(as_json("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  // Bytes are looked at eight at a time: a byte to escape (or a bad one) at every place
  // of a word, and across a word's end, is still found.
  for (std::size_t at = 0; at < 20; ++at) {
    for (const char special : {'"', '\\', '\x1f', '\0', '\x7f'}) {
      std::string s(20, 'x');
      s[at] = special;
      EXPECT_EQ(json::parse(as_json(s)).get<std::string>(), s) << at << " " << int{special};
    }
    std::string bad(20, 'x');
    bad[at] = '\xff';
    std::string out;
    EXPECT_FALSE(append_json_string(out, bad)) << "a byte that is not UTF-8 at " << at;
  }
}

TEST(JsonText, TextThatIsNotUtf8IsRefusedAndNothingAppended) {
  for (const std::string& bad : {std::string("\xff"), std::string("ok\xc3"), std::string("\xed\xa0\x80"),
                                std::string("\xc0\xaf")}) {
    std::string out = "x";
    EXPECT_FALSE(append_json_string(out, bad)) << json(std::vector<std::uint8_t>(bad.begin(), bad.end()));
    EXPECT_EQ(out, "x");
  }
}

TEST(JsonText, NumbersReadBackAsTheSameValueAndFloatsStayFloats) {
  for (const std::int64_t n : {std::int64_t{0}, std::int64_t{-7}, std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::int64_t>::max()}) {
    std::string out;
    append_json_number(out, n);
    EXPECT_EQ(json::parse(out).get<std::int64_t>(), n) << out;
  }
  for (const double d : {0.0, 1.0, -2.5, 19.99, 1e300, 5e-324, 123456789012345678.0}) {
    std::string out;
    append_json_number(out, d);
    const json back = json::parse(out);
    EXPECT_TRUE(back.is_number_float()) << out;
    EXPECT_EQ(back.get<double>(), d) << out;
  }
  std::string f;
  append_json_number(f, 0.1F);
  EXPECT_EQ(f, "0.1") << "a float prints as the float it is, not its double widening";
  for (const auto& [d, want] : {std::pair{std::nan(""), "\"NaN\""},
                                std::pair{std::numeric_limits<double>::infinity(), "\"Infinity\""},
                                std::pair{-std::numeric_limits<double>::infinity(), "\"-Infinity\""}}) {
    std::string out;
    append_json_number(out, d);
    EXPECT_EQ(out, want);
  }
}

}  // namespace
}  // namespace sluice::worker
