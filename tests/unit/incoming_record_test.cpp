// IncomingRecord (consumer/incoming_record.hpp): a fetched record's headers walked once,
// the lambda's limits, its forward record in a ring and its dead letter, byte for byte.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "consumer/incoming_record.hpp"
#include "shm/headers_codec.hpp"
#include "shm/trace_context.hpp"

namespace sluice::consumer {
namespace {

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;

// A fetched record as librdkafka hands it over (only the fields the consumer reads).
rd_kafka_message_t message(const std::string* key, const std::string* value, std::int64_t offset) {
  rd_kafka_message_t m{};
  m.offset = offset;
  if (key != nullptr) {
    m.key = const_cast<char*>(key->data());
    m.key_len = key->size();
  }
  if (value != nullptr) {
    m.payload = const_cast<char*>(value->data());
    m.len = value->size();
  }
  return m;
}

config::Lambda lambda() {
  config::Lambda l;
  l.max_record_bytes = 1000;
  l.max_record_age_s = 60;
  return l;
}

TEST(IncomingRecord, ItsForwardRecordCarriesEveryByteAndNullAsTheRecordHasThem) {
  const std::string key("k\0ey ", 5);
  const std::string value = " value with spaces\xff ";
  const rd_kafka_message_t m = message(&key, &value, 41);
  HeadersPtr hdrs(rd_kafka_headers_new(3));
  const char bytes[] = {'\x00', '\xff', ' '};
  rd_kafka_header_add(hdrs.get(), "bin", -1, bytes, sizeof bytes);
  rd_kafka_header_add(hdrs.get(), "null", -1, nullptr, 0);
  rd_kafka_header_add(hdrs.get(), "bin", -1, "second", 6);  // Kafka allows a name twice
  IncomingRecord in;
  in.read(m, hdrs.get(), 1'700'000'000'123, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);

  const std::size_t headers_len =
      shm::encoded_header_size(3, 3) + shm::encoded_header_size(4, 0) + shm::encoded_header_size(3, 6);
  EXPECT_EQ(in.headers_len(), headers_len);
  EXPECT_EQ(in.payload_bytes(), key.size() + value.size() + headers_len);
  ASSERT_EQ(in.ring_size(), shm::record_size(key.size(), value.size(), headers_len));

  std::vector<std::uint64_t> ring(in.ring_size() / 8 + 1);  // 8-byte aligned, as a ring is
  auto* h = reinterpret_cast<shm::RecordHeader*>(ring.data());
  in.write(h, {.seq = 9, .enqueue_ns = 77, .partition = 3, .slot = 2, .epoch = 5, .topic_index = 1, .attempts = 2});
  EXPECT_EQ(h->kind, shm::RecordKind::kRecord);
  EXPECT_EQ(h->seq, 9U);
  EXPECT_EQ(h->offset, 41);
  EXPECT_EQ(h->timestamp_ms, 1'700'000'000'123);
  EXPECT_EQ(h->timestamp_type, RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME);
  EXPECT_EQ(h->enqueue_ns, 77U);
  EXPECT_EQ(h->partition, 3);
  EXPECT_EQ(h->slot, 2U);
  EXPECT_EQ(h->epoch, 5U);
  EXPECT_EQ(h->topic_index, 1U);
  EXPECT_EQ(h->attempts.load(), 2U);
  EXPECT_EQ(h->flags, 0U);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm::record_key(h)), h->key_len), key);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm::record_value(h)), h->value_len), value);
  std::vector<std::pair<std::string, std::optional<std::string>>> seen;
  ASSERT_TRUE(shm::for_each_header(shm::record_headers(h), h->headers_len, [&](const shm::HeaderView& v) {
    seen.emplace_back(std::string(v.name), v.value == nullptr ? std::nullopt
                                                             : std::optional<std::string>(std::string(
                                                                   reinterpret_cast<const char*>(v.value), v.value_len)));
  }));
  const std::vector<std::pair<std::string, std::optional<std::string>>> want{
      {"bin", std::string(bytes, sizeof bytes)}, {"null", std::nullopt}, {"bin", "second"}};
  EXPECT_EQ(seen, want);
}

TEST(IncomingRecord, NullKeyAndValueAreFlaggedNotEmpty) {
  const rd_kafka_message_t m = message(nullptr, nullptr, 0);
  IncomingRecord in;
  in.read(m, nullptr, -1, RD_KAFKA_TIMESTAMP_NOT_AVAILABLE);
  EXPECT_EQ(in.payload_bytes(), 0U);
  std::vector<std::uint64_t> ring(in.ring_size() / 8 + 1);
  auto* h = reinterpret_cast<shm::RecordHeader*>(ring.data());
  in.write(h, {});
  EXPECT_EQ(h->flags, shm::kFlagKeyNull | shm::kFlagValueNull);
  EXPECT_EQ(h->timestamp_ms, -1);
}

TEST(IncomingRecord, ALimitRefusesItFromTheFirstByteOrSecondOver) {
  const config::Lambda l = lambda();
  const std::string value(1000 - 12, 'v');  // with one header "h" = "abc" (12 bytes encoded): exactly the limit
  const rd_kafka_message_t m = message(nullptr, &value, 0);
  HeadersPtr hdrs(rd_kafka_headers_new(1));
  rd_kafka_header_add(hdrs.get(), "h", -1, "abc", 3);
  IncomingRecord in;
  const std::int64_t now = 1'700'000'000'000;
  in.read(m, hdrs.get(), now, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  ASSERT_EQ(in.payload_bytes(), 1000U);
  EXPECT_EQ(in.refusal(l, now), "");

  const std::string longer = value + "v";
  const rd_kafka_message_t big = message(nullptr, &longer, 0);
  in.read(big, hdrs.get(), now, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_EQ(in.refusal(l, now), "too_large: 1001 bytes exceed max_record_bytes 1000");

  in.read(m, hdrs.get(), now - 60'000, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_EQ(in.refusal(l, now), "") << "exactly max_record_age_s old is not too old";
  in.read(m, hdrs.get(), now - 60'001, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_EQ(in.refusal(l, now), "too_old: record is 60 s old, max_record_age_s is 60");
  in.read(m, hdrs.get(), -1, RD_KAFKA_TIMESTAMP_NOT_AVAILABLE);
  EXPECT_EQ(in.refusal(l, now), "") << "a record without a timestamp has no age";
  config::Lambda no_age = l;
  no_age.max_record_age_s = 0;
  in.read(m, hdrs.get(), 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_EQ(in.refusal(no_age, now), "") << "max_record_age_s = 0 is no limit";
}

TEST(IncomingRecord, ItsDeadLetterIsTheRecordAsFetched) {
  const std::string value("v\0al", 4);
  const rd_kafka_message_t m = message(nullptr, &value, 12);
  HeadersPtr hdrs(rd_kafka_headers_new(2));
  rd_kafka_header_add(hdrs.get(), "a", -1, "1", 1);
  rd_kafka_header_add(hdrs.get(), "n", -1, nullptr, 0);
  IncomingRecord in;
  in.read(m, hdrs.get(), 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  Partition p;
  p.topic = "events";
  p.topic_index = 2;
  p.partition = 4;
  p.epoch = 7;
  const DeadLetter dl = in.dead_letter(p, "too_old: x");
  EXPECT_EQ(dl.source_topic, "events");
  EXPECT_EQ(dl.topic_index, 2U);
  EXPECT_EQ(dl.partition, 4);
  EXPECT_EQ(dl.offset, 12);
  EXPECT_EQ(dl.epoch, 7U);
  EXPECT_EQ(dl.attempts, 0U);
  EXPECT_EQ(dl.error, "too_old: x");
  EXPECT_FALSE(dl.key.has_value()) << "a null key stays null";
  EXPECT_EQ(dl.value, value);
  const std::vector<kafka::Header> want{{"a", "1"}, {"n", std::nullopt}};
  EXPECT_EQ(dl.headers, want);
}

// `trace = true`: a record without a valid traceparent gets a new one after its own
// headers, so its dead letter and its forward record both carry it; a record with one is
// left exactly as it is.
TEST(IncomingRecord, WithTraceARecordWithoutAContextIsGivenOne) {
  const std::string value = "v";
  const rd_kafka_message_t m = message(nullptr, &value, 3);
  Partition p;
  p.topic = "events";
  IncomingRecord traced(true);

  traced.read(m, nullptr, 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  const DeadLetter started = traced.dead_letter(p, "x");
  ASSERT_EQ(started.headers.size(), 1U);
  EXPECT_EQ(started.headers[0].first, "traceparent");
  ASSERT_TRUE(started.headers[0].second.has_value());
  EXPECT_TRUE(shm::valid_traceparent(*started.headers[0].second)) << *started.headers[0].second;
  EXPECT_EQ(traced.headers_len(), shm::encoded_header_size(11, 55));
  traced.read(m, nullptr, 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_NE(traced.dead_letter(p, "x").headers[0].second, started.headers[0].second) << "each record starts its own trace";

  HeadersPtr invalid(rd_kafka_headers_new(1));
  rd_kafka_header_add(invalid.get(), "traceparent", -1, "garbage", 7);
  traced.read(m, invalid.get(), 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  const DeadLetter replaced = traced.dead_letter(p, "x");
  ASSERT_EQ(replaced.headers.size(), 2U) << "the record's own header stays, the new one follows it";
  EXPECT_EQ(replaced.headers[0].second, "garbage");
  EXPECT_TRUE(shm::valid_traceparent(replaced.headers[1].second.value_or("")));

  const std::string context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  HeadersPtr valid(rd_kafka_headers_new(1));
  rd_kafka_header_add(valid.get(), "traceparent", -1, context.data(), static_cast<ssize_t>(context.size()));
  traced.read(m, valid.get(), 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  const std::vector<kafka::Header> kept{{"traceparent", context}};
  EXPECT_EQ(traced.dead_letter(p, "x").headers, kept);

  IncomingRecord untraced;
  untraced.read(m, nullptr, 0, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_TRUE(untraced.dead_letter(p, "x").headers.empty()) << "without trace nothing is added";
}

}  // namespace
}  // namespace sluice::consumer
