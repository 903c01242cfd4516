// Golden-file tests of the event formats (docs/formats.md): each case renders fixed records in
// one format and compares headers and body with tests/golden/formats/<case>.txt.
// SLUICE_UPDATE_GOLDEN=1 rewrites the files (review the diff before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "worker/event_format.hpp"
#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

const std::string kTopic = "orders";
const EventSource kSource{"billing", "prod", "lambda-billing", "broker-1:9092,broker-2:9092"};

// A record that owns its bytes; view() gives the ABI shape the formats read.
struct TestRecord {
  int partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 1718687340123;  // 2024-06-18T05:09:00.123Z
  std::int32_t timestamp_type = 1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;

  std::vector<sluice_header> header_views;
  sluice_record view() {
    header_views.clear();
    for (const auto& [n, v] : headers) {
      header_views.push_back({n.data(), n.size(), v ? v->data() : nullptr, v ? v->size() : 0});
    }
    return sluice_record{kTopic.data(), kTopic.size(), partition, offset, timestamp_ms, timestamp_type,
                         key ? key->data() : nullptr, key ? key->size() : 0, value ? value->data() : nullptr,
                         value ? value->size() : 0, header_views.empty() ? nullptr : header_views.data(),
                         header_views.size(), 1};
  }
};

TestRecord basic() {
  TestRecord r;
  r.partition = 3;
  r.offset = 42;
  r.key = "user-123";
  r.value = R"({"user_id":"123","event_type":"login"})";
  r.headers = {{"content-type", "application/json"}, {"source", "auth-service"}};
  return r;
}

std::string render(const Event& e) {
  std::ostringstream o;
  o << "== headers\n";
  for (const auto& [n, v] : e.headers) o << n << ": " << v << "\n";
  o << "== body\n" << (valid_utf8(e.body) ? e.body : "base64:" + base64(e.body)) << "\n";
  return o.str();
}

void expect_golden(const std::string& name, const Event& e) {
  const std::string path = std::string(GOLDEN_DIR) + "/formats/" + name + ".txt";
  const std::string got = render(e);
  if (const char* u = std::getenv("SLUICE_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(path) << got;
    return;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << path << " is missing; SLUICE_UPDATE_GOLDEN=1 writes it. Got:\n" << got;
  const std::string want((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, want) << "differs from " << path;
}

Event one(config::Format f, TestRecord r) {
  const sluice_record v = r.view();
  return make_event(f, std::span(&v, 1), kSource);
}

// The edge cases of fault scenario 14 (odd records), each in every format.
std::vector<std::pair<std::string, TestRecord>> cases() {
  std::vector<std::pair<std::string, TestRecord>> c;
  c.emplace_back("basic", basic());
  TestRecord null_key = basic();
  null_key.key.reset();
  c.emplace_back("null_key", null_key);
  TestRecord tombstone = basic();
  tombstone.value.reset();
  tombstone.headers.clear();
  c.emplace_back("tombstone", tombstone);
  TestRecord empty = basic();
  empty.value = "";
  empty.headers.clear();
  c.emplace_back("empty_value", empty);
  TestRecord text = basic();
  text.value = "Plain text message content";
  text.headers = {{"source", "auth-service"}};
  c.emplace_back("non_json", text);
  TestRecord binary = basic();
  binary.key = std::string("k\xff\x00", 3);
  binary.value = std::string("\x00\x01\xfe\xff payload", 12);
  binary.headers = {{"trace", std::string("\x00\x9f\x92\x96", 4)}, {"null-header", std::nullopt}};
  binary.timestamp_type = 0;
  c.emplace_back("non_utf8", binary);
  TestRecord deep = basic();
  deep.value = std::string(300, '[') + std::string(300, ']');
  deep.headers.clear();
  c.emplace_back("too_deep_json", deep);
  TestRecord spaced = basic();  // bytes a server trimming header values would lose
  spaced.key = "  spaced key  ";
  spaced.value = "text";
  spaced.headers = {{"bytes", std::string("\x00\xff ", 3)}, {"content-type", "text/plain; charset=utf-8"}};
  c.emplace_back("spaced", spaced);
  return c;
}

TEST(EventFormat, EveryCaseInEverySingleRecordFormatMatchesItsGoldenFile) {
  for (auto& [name, rec] : cases()) {
    SCOPED_TRACE(name);
    expect_golden("raw_" + name, one(config::Format::kRaw, rec));
    expect_golden("json_" + name, one(config::Format::kJson, rec));
    expect_golden("aws_" + name, one(config::Format::kAws, rec));
    expect_golden("cloudevents_" + name, one(config::Format::kCloudEvents, rec));
  }
}

TEST(EventFormat, BatchesOfTwoPartitionsMatchTheirGoldenFiles) {
  std::vector<TestRecord> recs;
  for (int i = 0; i < 3; ++i) {
    TestRecord r = basic();
    r.partition = i == 2 ? 1 : 0;
    r.offset = 10 + i;
    r.value = R"({"n":)" + std::to_string(i) + "}";
    recs.push_back(r);
  }
  std::vector<sluice_record> views;
  for (auto& r : recs) views.push_back(r.view());
  expect_golden("aws_batch", make_event(config::Format::kAws, views, kSource));
  expect_golden("json_batch", make_event(config::Format::kJson, views, kSource));
}

TEST(TextCodec, Utf8ValidationRejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\x96"));  // é € 💖
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));                             // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));                         // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));                     // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));                             // truncated
  EXPECT_FALSE(valid_utf8("\xff"));
}

TEST(TextCodec, Base64AndPercentEncoding) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("Hello"), "SGVsbG8=");
  EXPECT_EQ(base64("World"), "V29ybGQ=");
  EXPECT_EQ(base64(std::string("\xff\xfe", 2)), "//4=");
  EXPECT_EQ(percent_encode("a b%\"\n\xc3\xa9"), "a%20b%25%22%0A%C3%A9");
  EXPECT_EQ(percent_encode("  spaced key  "), "%20%20spaced%20key%20%20") << "a server that trims keeps every byte";
  EXPECT_EQ(percent_encode(std::string("\x00\xff ", 3)), "%00%FF%20");
  EXPECT_EQ(field_value("text/plain; charset=\"utf-8\"\n"), "text/plain; charset=\"utf-8\"%0A");
  EXPECT_EQ(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace sluice::worker
