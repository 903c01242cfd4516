// The `http` handler against a real HTTP server (cpp-httplib, in this process, on
// loopback): the request each format makes (OpenLambda's X-Kafka-* headers, the json
// envelope, Knative's CloudEvents binary mode, the AWS event), the status rules of worker/http_handler.hpp,
// timeouts, and AWS partial batch failures sending exactly the named records down the
// failure path. Every test checks I1 and I2 from what the server saw.
#include <httplib.h>

#include <algorithm>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "daemon_test.hpp"
#include "harness/decoding.hpp"
#include "metrics_text.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 8;
const std::string kDeadLetter = "dead_letter_topic = \"events.dlq\"\nmax_attempts = 3\nretry_backoff_ms = [1, 5]\n";

struct Request {
  std::string path;
  std::map<std::string, std::string> headers;  // last value per name
  std::string body;
  int status = 0;
};

// What the server answers for one request.
using Policy = std::function<int(const httplib::Request&, std::string& body)>;

// A real HTTP server on an ephemeral loopback port that records every request.
class RecordingServer {
 public:
  // port 0: an ephemeral one.
  explicit RecordingServer(Policy policy, int port = 0) : policy_(std::move(policy)) {
    server_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::string body;
      const int status = policy_(req, body);
      Request r{req.path, {}, req.body, status};
      for (const auto& [k, v] : req.headers) r.headers[k] = v;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(r));
      }
      res.status = status;
      res.set_content(body, "application/json");
    });
    // Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body
    // for the client's delayed ACK, 40 ms per request.
    server_.set_tcp_nodelay(true);
    if (port == 0) {
      port_ = server_.bind_to_any_port("127.0.0.1");
    } else {
      port_ = server_.bind_to_port("127.0.0.1", port) ? port : -1;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (port_ <= 0 || !wait_until([this] { return server_.is_running(); }, 5s)) {
      throw std::runtime_error("the test HTTP server did not start");
    }
  }
  ~RecordingServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  Policy policy_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

// Outcomes (for the oracle) of single-record requests to `path`: one per request.
std::vector<Outcome> outcomes_of(const std::vector<Request>& reqs, const std::string& path) {
  std::vector<Outcome> out;
  for (const auto& r : reqs) {
    if (r.path != path) continue;
    Outcome o;
    o.topic = r.headers.at("X-Kafka-Topic");
    o.partition = std::stoi(r.headers.at("X-Kafka-Partition"));
    o.offset = std::stoll(r.headers.at("X-Kafka-Offset"));
    o.outcome = r.status / 100 == 2 ? "ok" : "status " + std::to_string(r.status);
    o.value = path == "/json" ? nlohmann::json::parse(r.body)["message"]["raw_message"].get<std::string>() : r.body;
    out.push_back(o);
  }
  return out;
}

// The seq header of each record of an aws event (its header values are byte arrays), with
// the record's AWS itemIdentifier.
std::vector<std::pair<std::uint64_t, std::string>> aws_records(const std::string& body) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  const auto event = nlohmann::json::parse(body);
  for (const auto& [key, records] : event["records"].items()) {
    for (const auto& r : records) {
      std::string seq;
      for (const auto& h : r["headers"]) {
        if (h.contains("seq")) {
          for (const auto& b : h["seq"]) seq += static_cast<char>(b.get<int>());
        }
      }
      out.emplace_back(std::stoull(seq), r["topic"].get<std::string>() + "-" + std::to_string(r["partition"].get<int>()) +
                                             "-" + std::to_string(r["offset"].get<std::int64_t>()));
    }
  }
  return out;
}

std::string handler_toml(const std::string& url, const std::string& format_note = "") {
  return "type = \"http\"\nurl = \"" + url + "\"\ntimeout_ms = 2000\n" + format_note;
}

class Http : public DaemonTest {};

TEST_F(Http, EachFormatMakesTheRequestItsUsersExpectAndEveryRecordArrives) {
  constexpr std::uint64_t kMessages = 2000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  RecordingServer server([](const httplib::Request&, std::string&) { return 200; });
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "raw", .topic = "events", .workers = 2, .handler = handler_toml(server.url("/raw"))},
                          {.name = "json", .topic = "events", .workers = 2, .extra = "format = \"json\"\n",
                           .handler = handler_toml(server.url("/json"))},
                          {.name = "ce", .topic = "events", .workers = 2, .extra = "format = \"cloudevents\"\n",
                           .handler = handler_toml(server.url("/ce"))}}));
  for (const std::string name : {"raw", "json", "ce"}) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + name, kMessages, kPartitions); },
                           120s))
        << name << "\n" << d.log();
  }
  const auto reqs = server.requests();
  for (const std::string path : {"/raw", "/json", "/ce"}) {
    SCOPED_TRACE(path);
    const auto out = outcomes_of(reqs, path);
    EXPECT_EQ(check_no_loss(out, kMessages), "");
    EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-" + path.substr(1), "events")), "");
  }
  // Every request of each format, checked against the record it came from.
  for (const auto& r : reqs) {
    SCOPED_TRACE(r.path + " " + r.body);
    const auto& h = r.headers;
    const int partition = std::stoi(h.at("X-Kafka-Partition"));
    const std::int64_t offset = std::stoll(h.at("X-Kafka-Offset"));
    EXPECT_EQ(h.at("X-Kafka-Topic"), "events");
    EXPECT_EQ(h.at("X-Kafka-Header-seq"), std::to_string(static_cast<std::int64_t>(offset) * kPartitions + partition));
    const std::uint64_t seq = std::stoull(h.at("X-Kafka-Header-seq"));
    EXPECT_EQ(h.at("X-Kafka-Key"), "k" + std::to_string(seq % 50));
    EXPECT_FALSE(h.at("X-Kafka-Timestamp").empty());
    if (r.path == "/raw") {
      EXPECT_EQ(h.at("X-Kafka-Group-Id"), "lambda-raw");
      EXPECT_EQ(seq_of(r.body), seq);
      EXPECT_EQ(r.body.size(), 100U);
      EXPECT_EQ(h.at("Content-Type"), "text/plain; charset=utf-8");
    } else if (r.path == "/json") {
      EXPECT_EQ(h.at("Content-Type"), "application/json");
      const auto j = nlohmann::json::parse(r.body);
      EXPECT_EQ(j["topic"], "events");
      EXPECT_EQ(j["partition"], partition);
      EXPECT_EQ(j["offset"], offset);
      EXPECT_EQ(j["key"], "k" + std::to_string(seq % 50));
      EXPECT_EQ(j["headers"]["seq"], std::to_string(seq));
      EXPECT_EQ(seq_of(j["message"]["raw_message"].get<std::string>()), seq);
      EXPECT_TRUE(j["timestamp"].get<std::string>().ends_with("Z"));
    } else {
      EXPECT_EQ(h.at("ce-specversion"), "1.0");
      EXPECT_EQ(h.at("ce-type"), "dev.knative.kafka.event");
      EXPECT_EQ(h.at("ce-id"), "partition:" + std::to_string(partition) + "/offset:" + std::to_string(offset));
      EXPECT_EQ(h.at("ce-subject"), "partition:" + std::to_string(partition) + "#" + std::to_string(offset));
      EXPECT_EQ(h.at("ce-source"), "/sluice/" + instance + "/ce#events");
      EXPECT_EQ(h.at("ce-key"), "k" + std::to_string(seq % 50));
      EXPECT_EQ(h.at("ce-kafkaheaderseq"), std::to_string(seq));
      EXPECT_EQ(seq_of(r.body), seq);
    }
  }
  expect_clean_stop(d);
}

TEST_F(Http, StatusCodesAndTimeoutsFollowTheRules) {
  constexpr std::uint64_t kMessages = 400;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  // seq 5: 503 twice then 200; seq 6: 429 once; seq 7: 400 always (fails at once);
  // seq 8: 500 always (retried to max_attempts); seq 9: slower than timeout_ms once.
  std::mutex mu;
  std::map<std::uint64_t, int> seen;
  RecordingServer server([&](const httplib::Request& req, std::string& body) {
    const std::uint64_t seq = std::stoull(req.get_header_value("X-Kafka-Header-seq"));
    int n = 0;
    {
      std::lock_guard lock(mu);
      n = ++seen[seq];
    }
    if (seq == 5 && n <= 2) return 503;
    if (seq == 6 && n == 1) return 429;
    if (seq == 7) {
      body = R"({"error":"bad order"})";
      return 400;
    }
    if (seq == 8) return 500;
    if (seq == 9 && n == 1) std::this_thread::sleep_for(3s);  // past timeout_ms = 2000
    return 200;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "st", .topic = "events", .workers = 2, .extra = kDeadLetter,
                                       .handler = handler_toml(server.url("/st"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-st", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", 2, 30s);
  ASSERT_EQ(dlq.size(), 2U);
  std::map<std::uint64_t, TopicMessage> dead;
  for (const auto& m : dlq) dead[seq_of(*m.value)] = m;
  ASSERT_TRUE(dead.contains(7) && dead.contains(8));
  EXPECT_EQ(dead[7].headers.at("sluice-attempts"), "1") << "a 4xx is not retried";
  EXPECT_EQ(dead[7].headers.at("sluice-error"), R"(http: status 400: {"error":"bad order"})");
  EXPECT_EQ(dead[8].headers.at("sluice-attempts"), "3");
  EXPECT_EQ(dead[8].headers.at("sluice-error"), "http: status 500");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen[5], 3);
    EXPECT_EQ(seen[6], 2);
    EXPECT_EQ(seen[7], 1);
    EXPECT_EQ(seen[8], 3);
    EXPECT_GE(seen[9], 2) << "a timed-out request is retried";
  }
  std::vector<std::string> attempts_of_8;
  for (const auto& r : server.requests()) {
    if (r.headers.count("X-Kafka-Header-seq") != 0 && r.headers.at("X-Kafka-Header-seq") == "8") {
      attempts_of_8.push_back(r.headers.count("X-Sluice-Attempt") != 0 ? r.headers.at("X-Sluice-Attempt") : "none");
    }
  }
  EXPECT_EQ(attempts_of_8, (std::vector<std::string>{"1", "2", "3"})) << "each retry says its attempt";
  const auto out = outcomes_of(server.requests(), "/st");
  std::set<std::pair<int, std::int64_t>> dead_lettered;
  for (const auto& m : dlq) {
    dead_lettered.emplace(std::stoi(m.headers.at("sluice-source-partition")), std::stoll(m.headers.at("sluice-source-offset")));
  }
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-st", "events"), dead_lettered), "");
  std::set<std::uint64_t> ok;
  for (const auto& o : out) {
    if (o.outcome == "ok") ok.insert(seq_of(o.value));
  }
  for (std::uint64_t s = 0; s < kMessages; ++s) {
    if (s != 7 && s != 8) {
      EXPECT_TRUE(ok.contains(s)) << "seq " << s << " never answered 2xx";
    }
  }
  EXPECT_EQ(sanitizer_report(d.log()), "");
  expect_clean_stop(d);
}

// With the packaged defaults (no dead-letter topic, so on_failure = "stop"; 3 attempts
// from 100 ms) an endpoint down for under a second used to stop its partitions for good.
// A refused connection (and 502-504, 429) is not the record's fault: retried with capped
// backoff without counting attempts, the lambda degraded meanwhile, and every record
// handled once the endpoint is back. Down here for 10 s, refusing connections.
TEST_F(Http, AnEndpointDownForTenSecondsLosesNothingWithThePackagedDefaults) {
  constexpr std::uint64_t kMessages = 200;
  DevBroker broker({"events:8"});
  int port = 0;
  {
    RecordingServer probe([](const httplib::Request&, std::string&) { return 200; });
    port = probe.port();
  }  // closed: connections to the port are refused from here on
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "down", .topic = "events", .workers = 2,
                                       .handler = handler_toml("http://127.0.0.1:" + std::to_string(port) + "/d")}}));
  const auto outage_start = std::chrono::steady_clock::now();
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  auto health = [&] { return nlohmann::json::parse(admin(dir.path(), instance, "GET", "/healthz").body, nullptr, false); };
  ASSERT_TRUE(wait_until(
      [&] {
        const auto h = health();
        return h.is_object() && h["lambdas"].is_object() && h["lambdas"]["down"]["status"] == "degraded" &&
               h["lambdas"]["down"]["reasons"].dump().find("handler unavailable") != std::string::npos;
      },
      60s))
      << health().dump() << d.log();
  std::this_thread::sleep_for(10s - (std::chrono::steady_clock::now() - outage_start));  // the outage's length, not a wait
  const std::string during = admin(dir.path(), instance, "GET", "/metrics").body;
  EXPECT_GT(sample(during, "sluice_handler_unavailable_total{lambda=\"down\"}"), 0) << during;
  EXPECT_EQ(sample(during, "sluice_records_failed_total{lambda=\"down\"}"), 0);

  RecordingServer server([](const httplib::Request&, std::string&) { return 200; }, port);
  ASSERT_EQ(server.port(), port) << "the port was taken meanwhile";
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-down", kMessages, kPartitions); },
                         120s))
      << d.log();
  const auto out = outcomes_of(server.requests(), "/d");
  EXPECT_EQ(check_no_loss(out, kMessages), "");
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-down", "events")), "");
  for (const auto& r : server.requests()) {
    ASSERT_EQ(r.headers.count("X-Sluice-Attempt"), 1U) << "every http call says its attempt";
    EXPECT_EQ(r.headers.at("X-Sluice-Attempt"), "1") << "an outage costs no attempt";
  }
  const std::string after = admin(dir.path(), instance, "GET", "/metrics").body;
  EXPECT_EQ(sample(after, "sluice_partitions_stopped{lambda=\"down\"}"), 0);
  EXPECT_EQ(sample(after, "sluice_records_failed_total{lambda=\"down\"}"), 0);
  ASSERT_TRUE(wait_until([&] { return health()["status"] == "ok"; }, 30s)) << health().dump();
  expect_clean_stop(d);
}

TEST_F(Http, AwsBatchesWithPartialFailuresDeadLetterExactlyTheNamedRecords) {
  constexpr std::uint64_t kMessages = 2000;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  // Every record whose seq is 7 mod 100 is reported failed, every time.
  std::mutex mu;
  std::size_t batches = 0;
  std::size_t largest = 0;
  std::set<std::uint64_t> ok;
  RecordingServer server([&](const httplib::Request& req, std::string& body) {
    nlohmann::json failures = nlohmann::json::array();
    std::vector<std::uint64_t> good;
    const auto records = aws_records(req.body);
    const std::size_t n = records.size();
    for (const auto& [s, id] : records) {
      if (s % 100 == 7) {
        failures.push_back({{"itemIdentifier", id}});
      } else {
        good.push_back(s);
      }
    }
    {
      std::lock_guard lock(mu);
      ++batches;
      largest = std::max(largest, n);
      ok.insert(good.begin(), good.end());
    }
    body = nlohmann::json{{"batchItemFailures", failures}}.dump();
    return 200;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "aws", .topic = "events", .workers = 2,
                                       .extra = kDeadLetter + "format = \"aws\"\nbatch_size = 50\nbatch_window_ms = 20\n",
                                       .handler = handler_toml(server.url("/aws"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-aws", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", kMessages / 100, 30s);
  std::set<std::uint64_t> dead;
  for (const auto& m : dlq) {
    dead.insert(seq_of(*m.value));
    EXPECT_EQ(m.headers.at("sluice-attempts"), "3");
    EXPECT_EQ(m.headers.at("sluice-error"), "named in batchItemFailures");
  }
  std::set<std::uint64_t> want;
  for (std::uint64_t s = 7; s < kMessages; s += 100) want.insert(s);
  EXPECT_EQ(dead, want) << "exactly the named records are dead-lettered";
  std::lock_guard lock(mu);
  for (std::uint64_t s = 0; s < kMessages; ++s) {
    if (!want.contains(s)) {
      EXPECT_TRUE(ok.contains(s)) << "seq " << s << " never completed";
    }
  }
  EXPECT_GT(largest, 1U) << "records never arrived in batches";
  EXPECT_LE(largest, 50U);
  std::cout << "[ http ] " << batches << " aws batches, largest " << largest << " records\n";
  expect_clean_stop(d);
}

// AWS's BisectBatchOnFunctionError, sluice's default: a batch handler that fails as a
// whole (a 500) whenever its batch holds a poison record, as a handler that raises does.
// The batch is split until the poison records fail alone: exactly they are dead-lettered,
// each after its own max_attempts, and no other record is ever charged an attempt.
TEST_F(Http, ABatchThatFailsAsAWholeIsSplitUntilOnlyItsPoisonRecordsFail) {
  constexpr std::uint64_t kMessages = 500;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  const auto poison = [](std::uint64_t s) { return s % 20 == 7; };  // 25 of 500
  std::mutex mu;
  std::set<std::uint64_t> ok;
  std::size_t calls = 0;
  std::size_t largest = 0;
  std::vector<std::string> charged_wrongly;  // calls at attempt > 1 holding more than one poison record
  RecordingServer server([&](const httplib::Request& req, std::string& body) {
    const auto records = aws_records(req.body);
    const bool bad = std::any_of(records.begin(), records.end(), [&](const auto& r) { return poison(r.first); });
    std::lock_guard lock(mu);
    ++calls;
    largest = std::max(largest, records.size());
    if (req.get_header_value("X-Sluice-Attempt") != "1" && (records.size() != 1 || !poison(records.front().first))) {
      charged_wrongly.push_back(req.get_header_value("X-Sluice-Attempt") + ": " + req.body.substr(0, 200));
    }
    if (bad) {
      body = "poison in batch";
      return 500;
    }
    for (const auto& r : records) ok.insert(r.first);
    body = R"({"batchItemFailures":[]})";
    return 200;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "bisect", .topic = "events", .workers = 2,
                                       .extra = kDeadLetter + "format = \"aws\"\nbatch_size = 20\nbatch_window_ms = 20\n",
                                       .handler = handler_toml(server.url("/bisect"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-bisect", kMessages, kPartitions); }, 120s))
      << d.log();
  std::set<std::uint64_t> want;
  for (std::uint64_t s = 0; s < kMessages; ++s) {
    if (poison(s)) want.insert(s);
  }
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", want.size(), 30s);
  std::set<std::uint64_t> dead;
  for (const auto& m : dlq) {
    dead.insert(seq_of(*m.value));
    EXPECT_EQ(m.headers.at("sluice-attempts"), "3") << "each poison record used its own attempts";
    EXPECT_EQ(m.headers.at("sluice-error"), "http: status 500: poison in batch");
  }
  EXPECT_EQ(dead, want) << "exactly the poison records are dead-lettered";
  std::lock_guard lock(mu);
  for (std::uint64_t s = 0; s < kMessages; ++s) {
    if (!poison(s)) {
      EXPECT_TRUE(ok.contains(s)) << "seq " << s << " never completed";
    }
  }
  EXPECT_TRUE(charged_wrongly.empty()) << "a record was called again for a batch-mate's failure: " << charged_wrongly.front();
  EXPECT_GT(largest, 1U) << "records never arrived in batches";
  std::cout << "[ http ] bisect: " << calls << " calls for " << kMessages << " records, " << want.size() << " poison\n";
  expect_clean_stop(d);
}

// bisect_batch_on_error = false keeps whole-batch semantics: every record of a call that
// failed as a whole shares its failure, and those of the last failed calls are dead-lettered.
TEST_F(Http, WithoutBisectABatchSharesItsFailure) {
  constexpr std::uint64_t kMessages = 100;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  std::mutex mu;
  std::set<std::uint64_t> in_last_failed;  // records of calls that failed at their last attempt
  RecordingServer server([&](const httplib::Request& req, std::string& body) {
    const auto records = aws_records(req.body);
    const bool bad = std::any_of(records.begin(), records.end(), [](const auto& r) { return r.first % 50 == 7; });
    if (!bad) {
      body = R"({"batchItemFailures":[]})";
      return 200;
    }
    std::lock_guard lock(mu);
    if (req.get_header_value("X-Sluice-Attempt") == "3") {
      for (const auto& r : records) in_last_failed.insert(r.first);
    }
    body = "poison in batch";
    return 500;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "whole", .topic = "events", .workers = 1,
                                       .extra = kDeadLetter + "format = \"aws\"\nbatch_size = 20\nbatch_window_ms = 50\n"
                                                              "bisect_batch_on_error = false\n",
                                       .handler = handler_toml(server.url("/whole"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-whole", kMessages, kPartitions); }, 120s))
      << d.log();
  std::set<std::uint64_t> want;
  {
    std::lock_guard lock(mu);
    want = in_last_failed;
  }
  ASSERT_TRUE(want.contains(7) && want.contains(57)) << "the poison records failed";
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", want.size(), 30s);
  std::set<std::uint64_t> dead;
  for (const auto& m : dlq) dead.insert(seq_of(*m.value));
  EXPECT_EQ(dead, want);
  EXPECT_GT(dead.size(), 2U) << "no batch-mate shared a poison record's failure: were they ever batched?";
  expect_clean_stop(d);
}

// The bytes a server that trims header values would lose (leading and trailing spaces,
// NUL, 0xFF) survive cpp-httplib in the key and header values of raw and cloudevents
// requests, and Content-Type keeps its inner space.
TEST_F(Http, KeyAndHeaderBytesSurviveAServerThatTrimsHeaderValues) {
  DevBroker broker({"events:1"});
  produce_exact(broker.bootstrap(), "events", 0, "  spaced key  ", "text",
                {{"bytes", std::string("\x00\xff ", 3)}, {"content-type", "text/plain; charset=utf-8"}});
  RecordingServer server([](const httplib::Request&, std::string&) { return 200; });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "raw", .topic = "events", .workers = 1, .handler = handler_toml(server.url("/raw"))},
                                      {.name = "ce", .topic = "events", .workers = 1, .extra = "format = \"cloudevents\"\n",
                                       .handler = handler_toml(server.url("/ce"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-raw", 1, 1) &&
                                      committed_to_end(broker.bootstrap(), "lambda-ce", 1, 1); }, 60s))
      << d.log();
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2U);
  for (const auto& r : reqs) {
    SCOPED_TRACE(r.path);
    EXPECT_EQ(percent_decoded(r.headers.at("X-Kafka-Key")), "  spaced key  ");
    EXPECT_EQ(percent_decoded(r.headers.at("X-Kafka-Header-bytes")), std::string("\x00\xff ", 3));
    EXPECT_EQ(r.headers.at("Content-Type"), "text/plain; charset=utf-8");
    if (r.path == "/ce") {
      EXPECT_EQ(percent_decoded(r.headers.at("ce-key")), "  spaced key  ");
      EXPECT_EQ(percent_decoded(r.headers.at("ce-kafkaheaderbytes")), std::string("\x00\xff ", 3));
    }
  }
  expect_clean_stop(d);
}

// A record that already is a CloudEvent reaches a `cloudevents` endpoint as that event (as
// Knative's KafkaSource delivers it), in either of the Kafka binding's modes; a record that
// is none, or an invalid one, is wrapped as before.
TEST_F(Http, CloudEventRecordsArriveAsTheProducersEventsInBothModes) {
  DevBroker broker({"events:1"});
  const std::string b = broker.bootstrap();
  produce_exact(b, "events", 0, "k1", R"({"total":42})",
                {{"ce_specversion", "1.0"}, {"ce_id", "order-7"}, {"ce_source", "/shop/orders"},
                 {"ce_type", "com.example.order.created"}, {"ce_subject", " spaced "}, {"content-type", "application/json"}});
  produce_exact(b, "events", 0, "k2",
                R"({"specversion":"1.0","id":"e-1","source":"/shop","type":"com.example.blob",)"
                R"("datacontenttype":"application/octet-stream","data_base64":"AAH+/w==","tenant":"a b"})",
                {{"content-type", "application/cloudevents+json"}});
  produce_exact(b, "events", 0, "k3", "plain", {{"ce_specversion", "1.0"}, {"ce_type", "t"}});  // no id, no source
  produce_exact(b, "events", 0, "k4", "a=b", {{"ce_specversion", "1.0"}, {"ce_id", "4"}, {"ce_source", "/s"}, {"ce_type", "t"}});
  RecordingServer server([](const httplib::Request&, std::string&) { return 200; });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), b,
                                     {{.name = "ce", .topic = "events", .workers = 1, .extra = "format = \"cloudevents\"\n",
                                       .handler = handler_toml(server.url("/ce"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-ce", 4, 1); }, 60s)) << d.log();
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4U);
  std::ranges::sort(reqs, {}, [](const auto& r) { return std::stoll(r.headers.at("X-Kafka-Offset")); });
  const auto& binary = reqs[0].headers;
  EXPECT_EQ(binary.at("ce-id"), "order-7");
  EXPECT_EQ(binary.at("ce-source"), "/shop/orders");
  EXPECT_EQ(binary.at("ce-type"), "com.example.order.created");
  EXPECT_EQ(percent_decoded(binary.at("ce-subject")), " spaced ");
  EXPECT_EQ(binary.at("Content-Type"), "application/json");
  EXPECT_EQ(binary.count("ce-kafkaheadercespecversion"), 0U) << "the event is not wrapped";
  EXPECT_EQ(reqs[0].body, R"({"total":42})");
  const auto& structured = reqs[1].headers;
  EXPECT_EQ(structured.at("ce-id"), "e-1");
  EXPECT_EQ(structured.at("ce-type"), "com.example.blob");
  EXPECT_EQ(percent_decoded(structured.at("ce-tenant")), "a b");
  EXPECT_EQ(structured.at("Content-Type"), "application/octet-stream");
  EXPECT_EQ(reqs[1].body, std::string("\x00\x01\xfe\xff", 4)) << "data_base64 is the body's bytes";
  const auto& wrapped = reqs[2].headers;
  EXPECT_EQ(wrapped.at("ce-type"), "dev.knative.kafka.event") << "an invalid event is wrapped, not lost";
  EXPECT_EQ(wrapped.at("ce-id"), "partition:0/offset:2");
  EXPECT_EQ(wrapped.at("ce-kafkaheadercetype"), "t");
  EXPECT_EQ(reqs[2].body, "plain");
  EXPECT_EQ(reqs[3].headers.at("ce-id"), "4");
  EXPECT_EQ(reqs[3].headers.count("Content-Type"), 0U)
      << "an event without datacontenttype gets none, not curl's form-urlencoded default";
  EXPECT_EQ(reqs[3].body, "a=b");
  expect_clean_stop(d);
}

// W3C trace context: a record's traceparent/tracestate reach the endpoint as HTTP headers
// (and as the CloudEvents extension), and what the handler produces and what is
// dead-lettered carry it; with `trace = true` a record without one gets a new trace that
// the handler, its outbound records and its dead letter all share.
TEST_F(Http, TraceContextFollowsEachRecordIntoItsRequestOutboundRecordsAndDeadLetter) {
  const std::string ctx_a = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string ctx_c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  DevBroker broker({"events:1", "events-out:1", "events.dlq:1"});
  const std::string b = broker.bootstrap();
  produce_exact(b, "events", 0, "a", "ok", {{"traceparent", ctx_a}, {"tracestate", "vendor=1"}});
  produce_exact(b, "events", 0, "b", "ok", {});
  produce_exact(b, "events", 0, "c", "fail", {{"traceparent", ctx_c}});
  produce_exact(b, "events", 0, "d", "fail", {{"traceparent", "not-a-context"}});
  RecordingServer server([](const httplib::Request& req, std::string& body) {
    if (req.body == "fail") return 400;
    body = nlohmann::json{{"produce", {{{"topic", "events-out"}, {"key", req.get_header_value("X-Kafka-Key")}}}}}.dump();
    return 200;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), b,
                                     {{.name = "traced", .topic = "events", .workers = 1,
                                       .extra = kDeadLetter + "format = \"cloudevents\"\ntrace = true\n",
                                       .handler = handler_toml(server.url("/t"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(b, "lambda-traced", 4, 1); }, 60s)) << d.log();
  std::map<std::string, Request> seen;  // by key: the last attempt's request
  for (const auto& r : server.requests()) seen[r.headers.at("X-Kafka-Key")] = r;
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen["a"].headers.at("traceparent"), ctx_a);
  EXPECT_EQ(seen["a"].headers.at("tracestate"), "vendor=1");
  EXPECT_EQ(seen["a"].headers.at("ce-traceparent"), ctx_a);
  EXPECT_EQ(seen["c"].headers.at("traceparent"), ctx_c);
  for (const std::string k : {"b", "d"}) {
    SCOPED_TRACE(k);
    const std::string started = seen[k].headers.at("traceparent");
    EXPECT_EQ(started.size(), 55U);
    EXPECT_NE(started, ctx_a);
    EXPECT_EQ(seen[k].headers.at("ce-traceparent"), started);
    EXPECT_EQ(seen[k].headers.count("tracestate"), 0U);
  }
  EXPECT_NE(seen["b"].headers.at("traceparent"), seen["d"].headers.at("traceparent")) << "one trace per record";

  std::map<std::string, TopicMessage> out;
  for (auto& m : read_topic(b, "events-out", 2, 30s)) out[m.key.value_or("")] = m;
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out["a"].headers.at("traceparent"), ctx_a);
  EXPECT_EQ(out["a"].headers.at("tracestate"), "vendor=1");
  EXPECT_EQ(out["b"].headers.at("traceparent"), seen["b"].headers.at("traceparent"));

  std::map<std::string, TopicMessage> dlq;
  for (auto& m : read_topic(b, "events.dlq", 2, 30s)) dlq[m.key.value_or("")] = m;
  ASSERT_EQ(dlq.size(), 2U);
  EXPECT_EQ(dlq["c"].headers.at("traceparent"), ctx_c);
  EXPECT_EQ(dlq["d"].headers.at("traceparent"), seen["d"].headers.at("traceparent"))
      << "the dead letter carries the trace the handler saw (its own invalid header is kept before it)";
  expect_clean_stop(d);
}

// [[lambda.filter]]: only records some filter admits reach the endpoint; the others are
// counted and their offsets commit in order with the rest, to the end of every partition.
TEST_F(Http, OnlyRecordsAFilterAdmitsReachTheHandlerAndEveryOffsetCommits) {
  constexpr std::uint64_t kMessages = 1000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages, 100, 50, ~0ULL, 0, [](std::uint64_t seq) {
    return R"({"seq":)" + std::to_string(seq) + R"(,"order":{"total":)" + std::to_string(seq) + "}}";
  });
  RecordingServer server([](const httplib::Request&, std::string&) { return 200; });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "f", .topic = "events", .workers = 2,
                                       .extra = "[[lambda.filter]]\nvalue.order.total = [{ numeric = [\"<\", 100] }]\n"
                                                "[[lambda.filter]]\nkey = [\"k7\"]\n",
                                       .handler = handler_toml(server.url("/f"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-f", kMessages, kPartitions); }, 120s))
      << d.log();
  std::set<std::uint64_t> want;
  for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
    if (seq < 100 || seq % 50 == 7) want.insert(seq);
  }
  std::set<std::uint64_t> got;
  for (const auto& r : server.requests()) got.insert(std::stoull(r.headers.at("X-Kafka-Header-seq")));
  EXPECT_EQ(got, want);
  const std::string l = "{lambda=\"f\"}";
  std::string metrics;
  ASSERT_TRUE(wait_until(
      [&] {
        metrics = admin(dir.path(), instance, "GET", "/metrics").body;
        return sample(metrics, "sluice_records_filtered_total" + l) == static_cast<double>(kMessages - want.size());
      },
      30s))
      << metrics;
  EXPECT_EQ(sample(metrics, "sluice_records_handled_total" + l), static_cast<double>(want.size()));
  EXPECT_EQ(sample(metrics, "sluice_records_consumed_total" + l), static_cast<double>(kMessages));
  expect_clean_stop(d);
}

// A format that calls the handler once per record (raw) makes several calls per batch:
// each record keeps the error text of its own call (the handler's texts last only until
// its next call; the second call's text used to replace the first's).
TEST_F(Http, EachRecordOfABatchCalledOneAtATimeKeepsItsOwnError) {
  constexpr std::uint64_t kMessages = 64;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  RecordingServer server([&](const httplib::Request& req, std::string& body) {
    const std::string seq = req.get_header_value("X-Kafka-Header-seq");
    if (std::stoull(seq) % 2 != 0) return 200;
    body = "rejected record number " + seq + ", which is even";
    return 400;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "own", .topic = "events", .workers = 1,
                                       .extra = kDeadLetter + "batch_size = 8\nbatch_window_ms = 50\n",
                                       .handler = handler_toml(server.url("/own"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-own", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", kMessages / 2, 30s);
  ASSERT_EQ(dlq.size(), kMessages / 2);
  for (const auto& m : dlq) {
    const std::string seq = std::to_string(seq_of(*m.value));
    EXPECT_EQ(m.headers.at("sluice-error"), "http: status 400: rejected record number " + seq + ", which is even");
  }
  EXPECT_EQ(sanitizer_report(d.log()), "");
  expect_clean_stop(d);
}

// An http answer can ask for records to produce: each arrives, keyed and with headers as
// asked, and the source offsets are all committed.
TEST_F(Http, AnswersThatProduceRecordsGetThemProducedAndCommitted) {
  constexpr std::uint64_t kMessages = 1000;
  DevBroker broker({"events:8", "events-out:2"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  RecordingServer server([](const httplib::Request& req, std::string& body) {
    body = nlohmann::json{{"produce", {{{"topic", "events-out"},
                                        {"key", req.get_header_value("X-Kafka-Key")},
                                        {"value", "out-" + req.body},
                                        {"headers", {{"source", req.get_header_value("X-Kafka-Partition") + "/" +
                                                                    req.get_header_value("X-Kafka-Offset")}}}}}}}
               .dump();
    return 200;
  });
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "out", .topic = "events", .workers = 2, .handler = handler_toml(server.url("/out"))}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-out", kMessages, kPartitions); },
                         120s))
      << d.log();
  std::set<std::uint64_t> produced;
  for (const auto& m : read_topic(broker.bootstrap(), "events-out", kMessages, 60s)) {
    ASSERT_TRUE(m.value && m.value->starts_with("out-s"));
    const std::uint64_t s = seq_of(m.value->substr(4));
    produced.insert(s);
    EXPECT_EQ(m.key, "k" + std::to_string(s % 50));
    const auto [p, o] = where(s);
    EXPECT_EQ(m.headers.at("source"), std::to_string(p) + "/" + std::to_string(o));
  }
  EXPECT_EQ(produced.size(), kMessages) << "every record's outbound record must be there";
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
