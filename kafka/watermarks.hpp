// Log-start and end offsets of partitions, asked of their leaders within a deadline.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::kafka {

struct Watermarks {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t low = -1;   // first offset in the log
  std::int64_t high = -1;  // the offset the next record will get
};

// One ListOffsets per leader and end (not two round trips per partition), returning by
// timeout_ms whatever the brokers do. rd_kafka_query_watermark_offsets (librdkafka 2.0.2)
// waits for its answers however short its timeout: with the leader down and a 100 ms
// timeout it had not returned after 60 s. On an error `out` is left unset.
rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, std::vector<Watermarks>& out, int timeout_ms);

// Sends the partition's leader a request and returns without waiting for the answer:
// any request wakes the leader's broker thread (see Consumer::resume).
void nudge_leader(rd_kafka_t* rk, const std::string& topic, std::int32_t partition);

}  // namespace sluice::kafka
