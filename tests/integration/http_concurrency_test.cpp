// Many http requests in flight per worker (`max_concurrency`), against a real HTTP
// server that watches what is in flight at once: never two records that must keep their
// order (`ordering`), each partition's or key's records in offset order, never more than
// the limit, and records in flight when their worker is killed delivered again, with
// nothing committed past them meanwhile; and HTTP/2 requests multiplexed onto one
// TLS connection of Debian's nghttpd.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "daemon_test.hpp"
#include "harness/script_server.hpp"
#include "metrics_text.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// One request as the endpoint saw it arrive.
struct Arrival {
  int partition = 0;
  std::int64_t offset = 0;
  std::string key;
  int attempt = 0;
};

// An endpoint that counts what is in flight, overall and per partition and key.
//  * hold_until: requests wait (up to 10 s) until this many are in flight at once, once:
//    the test arranges the concurrency it then checks was allowed, instead of hoping
//    for a moment with several in flight;
//  * hold(): every request waits until release() (up to 60 s);
//  * hold_offset(o): the request for offset o waits until release() (up to 60 s);
//  * fail_once(o): the first request for offset o is answered 500 (to be retried);
//  * fail_every(n, r): requests for offsets o with o % n == r are answered 400 (failed
//    for good) with the body "bad <o>";
//  * mismatches(): requests whose body, key or "seq" header is not what produce() made
//    for their partition and offset (produced_over(p): over p partitions, so that seq
//    is offset * p + partition);
//  * each request then takes a random 0..max_delay_ms, so that they end out of order.
class InFlightServer {
 public:
  InFlightServer(std::size_t hold_until, int max_delay_ms) : hold_until_(hold_until), max_delay_ms_(max_delay_ms) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(96); };
    server_.set_keep_alive_max_count(100000);
    server_.set_tcp_nodelay(true);
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (port_ <= 0 || !wait_until([this] { return server_.is_running(); }, 5s)) {
      throw std::runtime_error("the test HTTP server did not start");
    }
  }
  ~InFlightServer() {
    release();
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  void hold() {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  void fail_once(std::int64_t offset) {
    std::lock_guard lock(mu_);
    fail_once_ = offset;
  }
  void hold_offset(std::int64_t offset) {
    std::lock_guard lock(mu_);
    held_offset_ = offset;
  }
  void fail_every(std::int64_t n, std::int64_t r) {
    std::lock_guard lock(mu_);
    fail_every_ = {n, r};
  }
  void produced_over(int partitions) {
    std::lock_guard lock(mu_);
    partitions_ = partitions;
  }
  std::vector<std::string> mismatches() const {
    std::lock_guard lock(mu_);
    return mismatches_;
  }
  void release() {
    std::lock_guard lock(mu_);
    holding_ = false;
    held_offset_ = -1;
    cv_.notify_all();
  }
  // Whether a request for `offset` is waiting in hold_offset().
  bool holds(std::int64_t offset) const {
    std::lock_guard lock(mu_);
    return held_in_flight_ && held_offset_ == offset;
  }
  std::size_t in_flight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }
  std::size_t max_in_flight() const {
    std::lock_guard lock(mu_);
    return max_in_flight_;
  }
  // The most requests of one partition (or, with by_key, one key) in flight at once.
  std::size_t max_per(bool by_key) const {
    std::lock_guard lock(mu_);
    return by_key ? max_per_key_ : max_per_partition_;
  }
  std::vector<Arrival> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    Arrival a{std::stoi(req.get_header_value("X-Kafka-Partition")), std::stoll(req.get_header_value("X-Kafka-Offset")),
              req.get_header_value("X-Kafka-Key"), std::stoi(req.get_header_value("X-Sluice-Attempt"))};
    int delay_ms = 0;
    bool fail = false;
    bool bad = false;
    const std::string got = "value " + req.body.substr(0, 16) + ", key " + a.key + ", header seq " +
                            req.get_header_value("X-Kafka-Header-seq");
    {
      std::unique_lock lock(mu_);
      arrivals_.push_back(a);
      const std::int64_t seq = a.offset * partitions_ + a.partition;
      if (req.body.rfind("s" + std::to_string(seq) + "-", 0) != 0 || a.key != "k" + std::to_string(seq % 50) ||
          req.get_header_value("X-Kafka-Header-seq") != std::to_string(seq)) {
        mismatches_.push_back("partition " + std::to_string(a.partition) + " offset " + std::to_string(a.offset) + ": " + got);
      }
      bad = fail_every_.first != 0 && a.offset % fail_every_.first == fail_every_.second;
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      max_per_partition_ = std::max(max_per_partition_, ++per_partition_[a.partition]);
      max_per_key_ = std::max(max_per_key_, ++per_key_[a.key]);
      if (in_flight_ >= hold_until_) reached_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, 10s, [this] { return reached_; });
      cv_.wait_for(lock, 60s, [this] { return !holding_; });
      if (a.offset == held_offset_) {
        held_in_flight_ = true;
        cv_.wait_for(lock, 60s, [&] { return a.offset != held_offset_; });
        held_in_flight_ = false;
      }
      delay_ms = std::uniform_int_distribution<int>(0, max_delay_ms_)(rng_);
      fail = a.offset == fail_once_;
      if (fail) fail_once_ = -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));  // the endpoint's own latency
    {
      std::lock_guard lock(mu_);
      --in_flight_;
      --per_partition_[a.partition];
      --per_key_[a.key];
    }
    res.status = fail ? 500 : bad ? 400 : 200;
    res.set_content(bad ? "bad " + std::to_string(a.offset) : "", "text/plain");
  }

  const std::size_t hold_until_;
  const int max_delay_ms_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
  bool holding_ = false;
  std::int64_t held_offset_ = -1;
  std::int64_t fail_once_ = -1;
  std::pair<std::int64_t, std::int64_t> fail_every_{0, 0};
  std::vector<std::string> mismatches_;
  int partitions_ = 1;
  bool held_in_flight_ = false;
  std::size_t in_flight_ = 0;
  std::size_t max_in_flight_ = 0;
  std::size_t max_per_partition_ = 0;
  std::size_t max_per_key_ = 0;
  std::map<int, std::size_t> per_partition_;
  std::map<std::string, std::size_t> per_key_;
  std::vector<Arrival> arrivals_;
  std::mt19937 rng_{7};
};

std::string http_handler(const InFlightServer& server, int max_concurrency) {
  return "type = \"http\"\nurl = \"" + server.url() + "\"\ntimeout_ms = 20000\nmax_concurrency = " +
         std::to_string(max_concurrency) + "\n";
}

// Where an order must hold (per partition, or per key), each record arrives once and
// after every record before it: offsets strictly increase. Returns what broke it.
std::string check_order(const std::vector<Arrival>& arrivals, bool by_key) {
  std::map<std::string, std::int64_t> last;
  for (const auto& a : arrivals) {
    const std::string group = by_key ? "key " + a.key : "partition " + std::to_string(a.partition);
    const auto it = last.find(group);
    if (it != last.end() && a.offset <= it->second) {
      return group + ": offset " + std::to_string(a.offset) + " arrived after " + std::to_string(it->second);
    }
    last[group] = a.offset;
  }
  return "";
}

// A worker's round waits (batch_window_ms) until it holds max_concurrency records, so
// that one round carries records of several partitions or keys: the test does not
// depend on how the consumer's fetches happen to fill the ring.
const std::string kFillRounds = "batch_window_ms = 2000\n";

class HttpConcurrency : public DaemonTest {};

TEST_F(HttpConcurrency, PartitionsRunTogetherButEachPartitionOneRequestAtATimeInOrder) {
  constexpr int kPartitions = 8;
  constexpr std::uint64_t kMessages = 400;  // 50 per partition
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  InFlightServer server(/*hold_until=*/2, /*max_delay_ms=*/3);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "p", .topic = "events", .workers = 1, .extra = kFillRounds,
                                       .handler = http_handler(server, 64)}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-p", kMessages, kPartitions); }, 120s)) << d.log();
  EXPECT_GE(server.max_in_flight(), 2U) << "records of different partitions never ran together";
  EXPECT_EQ(server.max_per(/*by_key=*/false), 1U) << "two records of one partition were in flight together";
  const auto arrivals = server.arrivals();
  EXPECT_EQ(arrivals.size(), kMessages);
  EXPECT_EQ(check_order(arrivals, /*by_key=*/false), "");
  expect_clean_stop(d);
}

// The same without a batch window: the ring holds each partition's records as a run
// (the consumer writes what a fetch brought, partition by partition), longer than a
// round (eight windows of 4: 32). A worker looks past a busy partition's run into the
// ring for records of others (a round streams), so all four run together.
TEST_F(HttpConcurrency, PartitionsRunTogetherWhenTheRingHoldsEachPartitionAsALongRun) {
  constexpr int kPartitions = 4;
  constexpr std::uint64_t kMessages = 160;  // 40 per partition
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  InFlightServer server(/*hold_until=*/kPartitions, /*max_delay_ms=*/3);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "runs", .topic = "events", .workers = 1,
                                       .handler = http_handler(server, kPartitions)}}));
  ASSERT_TRUE(wait_until([&] { return server.max_in_flight() == kPartitions; }, 60s))
      << "most in flight at once: " << server.max_in_flight() << "\n" << d.log();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-runs", kMessages, kPartitions); }, 120s))
      << d.log();
  EXPECT_EQ(server.max_per(/*by_key=*/false), 1U) << "two records of one partition were in flight together";
  const auto arrivals = server.arrivals();
  EXPECT_EQ(arrivals.size(), kMessages);
  EXPECT_EQ(check_order(arrivals, /*by_key=*/false), "");
  expect_clean_stop(d);
}

// A backlog (a lambda that starts behind, or the end of an outage) reaches a worker's
// ring as one partition's fetch after another, each thousands of records long. With
// ordering by partition the worker runs one request of a partition at a time, so it must
// see the other partitions' records while one partition's run waits. Partition 0's
// 9,000 records (more than a worker looks ahead, 8,192; fewer than max_in_flight, which
// would pause it) are all fetched while its first is held at the endpoint; partition
// 1's one record, produced after them, must still reach the endpoint meanwhile.
TEST_F(HttpConcurrency, OnePartitionsLongBacklogDoesNotHideTheOtherPartitionsRecords) {
  constexpr std::uint64_t kRun = 9000;
  DevBroker broker({"events:2"});
  produce(broker.bootstrap(), "events", /*partitions=*/1, 0, kRun, /*value_bytes=*/16);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/0);
  server.hold_offset(0);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "backlog", .topic = "events", .workers = 1,
                                       .handler = http_handler(server, 4)}}));
  ASSERT_TRUE(wait_until([&] { return server.holds(0); }, 60s)) << d.log();
  const auto consumed = [&] {
    return sample(admin(dir.path(), instance, "GET", "/metrics").body, "sluice_records_consumed_total{lambda=\"backlog\"}");
  };
  ASSERT_TRUE(wait_until([&] { return consumed() >= static_cast<double>(kRun); }, 60s))
      << "consumed: " << consumed() << "\n" << d.log();
  produce_exact(broker.bootstrap(), "events", 1, "late", "late", {});
  const auto reached = [&] {
    const auto a = server.arrivals();
    return std::any_of(a.begin(), a.end(), [](const Arrival& x) { return x.partition == 1; });
  };
  ASSERT_TRUE(wait_until(reached, 60s)) << "partition 1's record never reached the endpoint while partition 0's "
                                           "first was held\n" << d.log();
  ASSERT_TRUE(server.holds(0)) << "the held request ended early: the test proves nothing";
  server.release();
  ASSERT_TRUE(wait_until([&] {
    const auto c = committed_or_empty(broker.bootstrap(), "lambda-backlog");
    return c.contains(0) && c.at(0) == static_cast<std::int64_t>(kRun) && c.contains(1) && c.at(1) == 1;
  }, 120s)) << d.log();
  std::vector<std::int64_t> seen;
  for (const auto& a : server.arrivals()) {
    // The held request may have timed out (timeout_ms) and been sent again: a retry in
    // its place, not a record out of order.
    if (a.partition == 0 && !(a.offset == 0 && !seen.empty())) seen.push_back(a.offset);
  }
  ASSERT_EQ(seen.size(), kRun) << "each of partition 0's records once";
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i)) << "in order";
  expect_clean_stop(d);
}

// A record to be retried keeps its place: no later record of its partition is called
// before its retry, while other partitions' records go on. The first request for
// offset 10 (of either partition) is answered 500; that partition's requests must then
// be 0..10, 10 again, 11..39, and the other's 0..39.
TEST_F(HttpConcurrency, ARecordToRetryIsRetriedBeforeAnyLaterRecordOfItsPartition) {
  constexpr int kPartitions = 2;
  constexpr std::uint64_t kMessages = 80;  // 40 per partition
  DevBroker broker({"events:2"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/2);
  server.fail_once(10);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "retry", .topic = "events", .workers = 1, .extra = kFillRounds,
                                       .handler = http_handler(server, 4)}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-retry", kMessages, kPartitions); }, 120s))
      << d.log();
  std::map<int, std::vector<std::int64_t>> offsets;
  for (const auto& a : server.arrivals()) offsets[a.partition].push_back(a.offset);
  std::vector<std::int64_t> want;
  for (std::int64_t o = 0; o < 40; ++o) want.push_back(o);
  std::vector<std::int64_t> want_retried = want;
  want_retried.insert(want_retried.begin() + 11, 10);
  // Which partition holds offset 10's failure: the first to send it.
  int failed = -1;
  for (const auto& a : server.arrivals()) {
    if (a.offset == 10) {
      failed = a.partition;
      break;
    }
  }
  ASSERT_NE(failed, -1);
  for (const auto& [partition, seen] : offsets) {
    EXPECT_EQ(seen, partition == failed ? want_retried : want) << "partition " << partition;
  }
  expect_clean_stop(d);
}

TEST_F(HttpConcurrency, KeysRunTogetherButEachKeyOneRequestAtATimeInOrder) {
  constexpr std::uint64_t kMessages = 400;
  constexpr int kKeys = 8;
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, kMessages, 100, kKeys);
  InFlightServer server(/*hold_until=*/2, /*max_delay_ms=*/3);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "k", .topic = "events", .workers = 1, .ordering = "key",
                                       .extra = kFillRounds, .handler = http_handler(server, 64)}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-k", kMessages, 1); }, 120s)) << d.log();
  EXPECT_GE(server.max_in_flight(), 2U) << "records of different keys never ran together";
  EXPECT_EQ(server.max_per(/*by_key=*/true), 1U) << "two records of one key were in flight together";
  const auto arrivals = server.arrivals();
  EXPECT_EQ(arrivals.size(), kMessages);
  EXPECT_EQ(check_order(arrivals, /*by_key=*/true), "");
  expect_clean_stop(d);
}

TEST_F(HttpConcurrency, WithoutOrderingAWorkerKeepsMaxConcurrencyInFlightAndNoMore) {
  constexpr std::uint64_t kMessages = 400;
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, kMessages);
  InFlightServer server(/*hold_until=*/8, /*max_delay_ms=*/3);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "n", .topic = "events", .workers = 1, .ordering = "none",
                                       .extra = kFillRounds, .handler = http_handler(server, 8)}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-n", kMessages, 1); }, 120s)) << d.log();
  EXPECT_EQ(server.max_in_flight(), 8U);
  EXPECT_EQ(server.arrivals().size(), kMessages);
  expect_clean_stop(d);
}

// Eight requests in flight when their worker is SIGKILLed: nothing is committed past
// them while they are unanswered, and each is delivered again (attempt 2) to the
// worker's replacement, then committed; records its round held but had not begun keep
// attempt 1.
TEST_F(HttpConcurrency, RequestsInFlightWhenTheirWorkerIsKilledAreDeliveredAgainAndNotCommittedBefore) {
  constexpr std::uint64_t kMessages = 40;
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, kMessages);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/0);
  server.hold();
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "kill", .topic = "events", .workers = 1, .ordering = "none",
                                       .extra = kFillRounds,
                                       .handler = http_handler(server, 8)}}));
  ASSERT_TRUE(wait_until([&] { return server.in_flight() == 8; }, 60s))
      << "in flight: " << server.in_flight() << "\n" << d.log();
  const auto workers = d.children("worker");
  ASSERT_EQ(workers.size(), 1U);
  ASSERT_EQ(::kill(workers.front(), SIGKILL), 0);
  // The replacement's first request (a record the dead worker had in flight, attempt 2)
  // is held too: until release() nothing can have been answered, so nothing committed.
  const auto redelivered = [&] {
    const auto a = server.arrivals();
    return std::count_if(a.begin(), a.end(), [](const Arrival& x) { return x.attempt >= 2; });
  };
  ASSERT_TRUE(wait_until([&] { return redelivered() >= 1; }, 60s)) << d.log();
  const auto committed = committed_or_empty(broker.bootstrap(), "lambda-kill");
  EXPECT_LE(committed.contains(0) ? committed.at(0) : -1, 0) << "committed past records never answered";
  server.release();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-kill", kMessages, 1); }, 120s)) << d.log();
  std::map<std::int64_t, int> highest_attempt;
  for (const auto& a : server.arrivals()) highest_attempt[a.offset] = std::max(highest_attempt[a.offset], a.attempt);
  for (std::int64_t offset = 0; offset < 8; ++offset) {
    EXPECT_EQ(highest_attempt[offset], 2) << "offset " << offset << " was in flight when its worker was killed";
  }
  // The dead worker's round held all 40 records (several windows), but only 8 reached
  // the endpoint: the rest were never tried, so no attempt of theirs was counted.
  for (std::int64_t offset = 8; offset < static_cast<std::int64_t>(kMessages); ++offset) {
    EXPECT_EQ(highest_attempt[offset], 1) << "offset " << offset << " never reached the endpoint before the kill";
  }
  expect_clean_stop(d);
}

// One request the endpoint holds does not hold back the records after it: the worker
// keeps its window full with records it takes from the ring as slots free (a round
// streams), and releases the records finished before the held one as they finish, so
// their offsets are committed while it is in flight. Without streaming the worker's
// round (eight windows: 64 records) could not end, and nothing past it would arrive.
TEST_F(HttpConcurrency, ARequestInFlightDoesNotHoldBackTheRecordsAfterItNorTheCommitOfThoseBefore) {
  constexpr std::uint64_t kMessages = 400;
  constexpr std::int64_t kHeld = 100;
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, kMessages);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/0);
  server.hold_offset(kHeld);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "stream", .topic = "events", .workers = 1, .ordering = "none",
                                       .handler = http_handler(server, 8)}}));
  const auto highest = [&] {
    std::int64_t most = -1;
    for (const auto& a : server.arrivals()) most = std::max(most, a.offset);
    return most;
  };
  // Every record after the held one, while it is held.
  ASSERT_TRUE(wait_until([&] { return highest() == static_cast<std::int64_t>(kMessages) - 1; }, 60s))
      << "highest offset the endpoint saw: " << highest() << "\n" << d.log();
  ASSERT_TRUE(server.holds(kHeld)) << "the held request ended early: the test proves nothing";
  // The records before it, committed while it is held (and nothing past it).
  ASSERT_TRUE(wait_until([&] {
    const auto c = committed_or_empty(broker.bootstrap(), "lambda-stream");
    return c.contains(0) && c.at(0) == kHeld;
  }, 60s)) << "committed: " << [&] {
    const auto c = committed_or_empty(broker.bootstrap(), "lambda-stream");
    return c.contains(0) ? c.at(0) : -1;
  }() << "\n" << d.log();
  ASSERT_TRUE(server.holds(kHeld));
  server.release();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-stream", kMessages, 1); }, 60s)) << d.log();
  EXPECT_EQ(server.arrivals().size(), kMessages) << "each record once: none retried, none lost";
  expect_clean_stop(d);
}

// The same when the held request is the only record its worker found in the ring: a
// round of one record streams too (more records may come while it runs), so the
// records produced after it start while it is held.
TEST_F(HttpConcurrency, ARequestAloneInItsRoundDoesNotHoldBackTheRecordsAfterIt) {
  constexpr std::uint64_t kLater = 20;
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, 1);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/0);
  server.hold_offset(0);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "alone", .topic = "events", .workers = 1, .ordering = "none",
                                       .handler = http_handler(server, 8)}}));
  ASSERT_TRUE(wait_until([&] { return server.holds(0); }, 60s)) << d.log();
  produce(broker.bootstrap(), "events", 1, 1, kLater);
  ASSERT_TRUE(wait_until([&] { return server.arrivals().size() == kLater + 1; }, 60s))
      << "requests seen while offset 0 is held: " << server.arrivals().size() << "\n" << d.log();
  ASSERT_TRUE(server.holds(0)) << "the held request ended early: the test proves nothing";
  server.release();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-alone", kLater + 1, 1); }, 60s)) << d.log();
  EXPECT_EQ(server.arrivals().size(), kLater + 1) << "each record once";
  expect_clean_stop(d);
}

// A round that streams drops the records it has released from the front of what it
// holds, and goes on for as long as the ring has fresh records: every record it calls
// after that still carries its own bytes, key and headers, and every failure its own
// error text, however many records came and went before it. Ordering by partition keeps
// records queued (not yet begun) behind their partition's request in flight while the
// records before them are dropped.
TEST_F(HttpConcurrency, ALongStreamKeepsEachRecordsOwnBytesHeadersAndErrorText) {
  constexpr int kPartitions = 4;
  constexpr std::uint64_t kMessages = 3000;  // many times a round (64 records here)
  DevBroker broker({"events:4", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  InFlightServer server(/*hold_until=*/0, /*max_delay_ms=*/1);
  server.produced_over(kPartitions);
  server.fail_every(10, 3);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "long", .topic = "events", .workers = 1,
                                       .extra = "dead_letter_topic = \"events.dlq\"\n", .handler = http_handler(server, 8)}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-long", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto mismatches = server.mismatches();
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " requests not of their record, the first: " << mismatches.front();
  EXPECT_EQ(server.arrivals().size(), kMessages) << "each record once (a 400 is not retried)";
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", kMessages / 10, 60s);
  ASSERT_EQ(dlq.size(), kMessages / 10);  // 750 per partition, 75 of them at offsets ending in 3
  for (const auto& m : dlq) {
    const std::string offset = m.headers.at("sluice-source-offset");
    EXPECT_EQ(std::stoll(offset) % 10, 3);
    EXPECT_NE(m.headers.at("sluice-error").find("bad " + offset), std::string::npos)
        << "offset " << offset << ": " << m.headers.at("sluice-error");
  }
  expect_clean_stop(d);
}

// A certificate for 127.0.0.1 made for the test (root/key.pem, root/cert.pem).
void make_certificate(const fs::path& root) {
  const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout " + (root / "key.pem").string() +
                                " -out " + (root / "cert.pem").string() + " 2>/dev/null";
  if (std::system(make_cert.c_str()) != 0) throw std::runtime_error("openssl could not make a certificate");
}

// nghttpd (nghttp2-server) serving `root` over TLS on a free loopback port with a
// certificate made for the test, offering h2 by ALPN, logging every frame. It answers a
// POST to a file with the file. Its stream-level flow-control window is 15 bytes (-w 4),
// so a request's 100-byte body takes several round trips: every stream a client opens in
// one go is still open when the first is answered.
//
// Not h2c: Debian's libcurl 7.88.1 fails every request after the first on a reused
// prior-knowledge connection ("Error in the HTTP2 framing layer", curl issue 10634,
// fixed in 7.89), so sluice refuses http_version = "2" on http:// with it.
class H2Server {
 public:
  explicit H2Server(const fs::path& root) : log_(root / "nghttpd.log"), cert_(root / "cert.pem") {
    std::ofstream(root / "ok") << "ok\n";
    const fs::path key = root / "key.pem";
    make_certificate(root);
    for (int tries = 0; tries < 10 && !child_.running(); ++tries) {
      port_ = free_port();
      boost::process::child c("/usr/sbin/nghttpd",
                              boost::process::args = {"-v", "-w", "4", "-d", root.string(), std::to_string(port_),
                                                      key.string(), cert_.string()},
                              boost::process::std_out > log_.string(), boost::process::std_err > boost::process::null);
      // Up once it accepts a connection; a port taken meanwhile makes it exit: try another.
      if (wait_until([&] { return !c.running() || accepts(); }, 10s) && c.running()) child_ = std::move(c);
    }
    if (!child_.running()) throw std::runtime_error("nghttpd did not start");
  }
  ~H2Server() {
    if (child_.running()) {
      ::kill(child_.id(), SIGTERM);
      child_.wait();
    }
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/ok"; }
  const fs::path& cert() const { return cert_; }
  // Per connection (nghttpd's session id), the most request streams open at once: from
  // the request's HEADERS frame until the response's.
  std::map<int, std::size_t> most_streams_open() const {
    std::ifstream in(log_);
    static const std::regex frame(R"(^\[id=(\d+)\].* (recv|send) HEADERS frame <.*stream_id=(\d+)>)");
    std::map<int, std::set<int>> open;
    std::map<int, std::size_t> most;
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, frame)) continue;
      const int session = std::stoi(m[1]);
      const int stream = std::stoi(m[3]);
      if (m[2] == "recv") {
        open[session].insert(stream);
        most[session] = std::max(most[session], open[session].size());
      } else {
        open[session].erase(stream);
      }
    }
    return most;
  }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  bool accepts() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  fs::path log_;
  fs::path cert_;
  int port_ = 0;
  boost::process::child child_;
};

// With http_version = "2" over TLS a worker's requests become streams of one connection,
// several in flight at once. ("auto" takes HTTP/2 by ALPN only with libcurl 8.1 or later,
// and nghttpd speaks nothing else.)
TEST_F(HttpConcurrency, OverHttp2RequestsAreStreamsMultiplexedOntoOneConnection) {
  constexpr int kPartitions = 8;
  constexpr std::uint64_t kMessages = 400;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  H2Server server(dir.path());
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "h2", .topic = "events", .workers = 1, .extra = kFillRounds,
                                       .handler = "type = \"http\"\nurl = \"" + server.url() + "\"\nca_file = \"" +
                                                  server.cert().string() + "\"\ntimeout_ms = 20000\nhttp_version = \"2\"\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-h2", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto most = server.most_streams_open();
  ASSERT_EQ(most.size(), 1U) << "one worker, one HTTP/2 connection";
  EXPECT_GE(most.begin()->second, 2U) << "no two requests were ever in flight together on the connection";
  EXPECT_LE(most.begin()->second, 16U) << "more in flight than max_concurrency (16, the default)";
  expect_clean_stop(d);
}

// The default (http_version "auto") against a TLS endpoint offering HTTP/2 and HTTP/1.1,
// as most do, whose HTTP/2 side defends itself against stream-reset floods (Node's).
// libcurl before 8.1 resets nearly every HTTP/2 stream it has finished reading; such a
// server then ends the connection every thousand or so requests, and the request it
// had taken but not answered fails, costing its record an attempt. With max_attempts = 1
// that record would be dead-lettered although its endpoint never failed it. So every
// record must arrive exactly once and the worker keep its connections.
TEST_F(HttpConcurrency, OverTlsTheDefaultKeepsItsConnectionsToAServerThatLimitsStreamResets) {
  constexpr int kPartitions = 8;
  constexpr std::uint64_t kMessages = 4000;
  constexpr std::size_t kConcurrency = 64;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  make_certificate(dir.path());
  const fs::path log = dir.path() / "tls.jsonl";
  ScriptServer server("/usr/bin/node", "tls_recording_server.js",
                      {log.string(), (dir.path() / "key.pem").string(), (dir.path() / "cert.pem").string()});
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "tls", .topic = "events", .workers = 1, .ordering = "none",
                           .extra = "max_attempts = 1\ndead_letter_topic = \"events.dlq\"\n",
                           .handler = "type = \"http\"\nurl = \"https://127.0.0.1:" + std::to_string(server.port()) +
                                      "/\"\nca_file = \"" + (dir.path() / "cert.pem").string() +
                                      "\"\nmax_concurrency = " + std::to_string(kConcurrency) + "\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-tls", kMessages, kPartitions); }, 180s))
      << d.log();
  std::map<std::pair<int, std::int64_t>, int> arrivals;
  std::size_t connections = 0;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("connection")) {
      ++connections;
    } else {
      ++arrivals[{j.at("partition").get<int>(), j.at("offset").get<std::int64_t>()}];
    }
  }
  EXPECT_EQ(arrivals.size(), kMessages) << "records that never reached the endpoint";
  std::size_t again = 0;
  for (const auto& [record, n] : arrivals) again += n > 1 ? 1 : 0;
  EXPECT_EQ(again, 0U) << "records sent more than once: their connection was ended under them";
  EXPECT_LE(connections, kConcurrency) << "the worker kept opening connections";
  const std::string metrics = admin(dir.path(), instance, "GET", "/metrics").body;
  EXPECT_EQ(sample(metrics, "sluice_records_failed_total{lambda=\"tls\"}"), 0) << metrics;
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
