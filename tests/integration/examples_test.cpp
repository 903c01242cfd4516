// The examples in examples/ run for real: each example's own lambda file is put into a
// daemon's lambdas.d (paths pointed at the source tree and the build), records are
// produced to the dev broker, and what the example logged is checked against the oracle.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon_test.hpp"
#include "harness/registry_frames.hpp"
#include "harness/script_server.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
constexpr int kPartitions = 8;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

// Every "<topic>[<p>]@<o> key=<k> value=<v>" the examples log, as outcomes. (Parsed by
// hand: std::regex trips g++ 12's maybe-uninitialized warning under the sanitizers.)
std::vector<Outcome> logged_records(const std::string& log) {
  std::vector<Outcome> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    const auto key = line.find(" key=");
    const auto value = line.find(" value=", key == std::string::npos ? 0 : key);
    if (key == std::string::npos || value == std::string::npos) continue;
    const auto word = line.rfind(' ', key - 1) + 1;  // npos + 1 == 0: the line's start
    const std::string where = line.substr(word, key - word);
    const auto open = where.find('[');
    const auto close = where.find("]@");
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    Outcome o;
    o.topic = where.substr(0, open);
    o.partition = std::stoi(where.substr(open + 1, close - open - 1));
    o.offset = std::stoll(where.substr(close + 2));
    o.attempt = 1;
    o.outcome = "ok";
    o.key = line.substr(key + 5, value - key - 5);
    o.value = line.substr(value + 7, line.find(' ', value + 7) - value - 7);
    o.file = "log";
    out.push_back(o);
  }
  return out;
}

class Examples : public DaemonTest {
 protected:
  // Installs examples/<example>/lambda.toml as lambda `name`, with the installed paths
  // pointed at the source tree and the build.
  void install_example(const std::string& example, const std::string& name) {
    std::string text = read_file(fs::path(SLUICE_SOURCE_DIR) / "examples" / example / "lambda.toml");
    ASSERT_FALSE(text.empty()) << "no lambda.toml in examples/" << example;
    text = replace_all(text, "/usr/share/doc/sluice/examples", std::string(SLUICE_SOURCE_DIR) + "/examples");
    text = replace_all(text, "/usr/lib/sluice/examples/liblog_plugin.so", targets().log_plugin);
    fs::create_directories(dir.path() / "lambdas.d");
    std::ofstream(dir.path() / "lambdas.d" / (name + ".toml")) << text;
  }

  // What an installed package provides: python3 from Debian (with Flask) first on PATH,
  // and sluice_handler importable.
  static std::map<std::string, std::string> python_env() {
    return {{"PATH", "/usr/bin:/bin"}, {"PYTHONPATH", std::string(SLUICE_SOURCE_DIR) + "/worker/python"}};
  }

  // Runs the lambda over `count` records; checks I1 and I2 from the example's own log
  // lines, that the dead-letter topic holds exactly `dead_lettered` (the records whose
  // value says "invalid"), and a clean stop. Returns the daemon's log.
  std::string run_example(const std::string& name, std::uint64_t count,
                          const std::set<std::pair<int, std::int64_t>>& dead_lettered = {}) {
    std::vector<std::string> topics = {"events:8", "events-dlq:1"};
    topics.insert(topics.end(), more_topics.begin(), more_topics.end());
    DevBroker broker(topics);
    produce(broker.bootstrap(), "events", kPartitions, 0, count, 100, 50, ~0ULL, 0, value_of);
    Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {}), "run", python_env());
    const bool done = wait_until(
        [&] { return committed_to_end(broker.bootstrap(), "lambda-" + name, count, kPartitions); },
        120s);
    const std::string log = d.log();
    EXPECT_TRUE(done) << "not everything was committed\n" << log;
    const auto seen = logged_records(log);
    std::set<std::uint64_t> failed;
    for (std::uint64_t s = 0; s < count; ++s) {
      if (dead_lettered.contains(where(s))) failed.insert(s);
    }
    // I1 over the records the example accepts.
    std::set<std::uint64_t> handled;
    for (const auto& o : seen) handled.insert(seq_of(o.value));
    std::uint64_t missing = 0;
    for (std::uint64_t s = 0; s < count; ++s) missing += !failed.contains(s) && !handled.contains(s);
    EXPECT_EQ(missing, 0U) << "records the example never logged; its log:\n" << log.substr(0, 20000);
    EXPECT_EQ(check_commit_safety(seen, committed_offsets(broker.bootstrap(), "lambda-" + name, "events"), dead_lettered),
              "");
    // Read for more than is expected (until the limit): an extra dead letter must show.
    last_bootstrap_dlq = read_topic(broker.bootstrap(), "events-dlq", dead_lettered.size() + 1, dead_lettered.empty() ? 1s : 10s);
    if (!more_topics.empty()) {
      const std::string topic = more_topics.front().substr(0, more_topics.front().find(':'));
      produced = read_topic(broker.bootstrap(), topic, count - dead_lettered.size() + 1, 5s);
    }
    std::set<std::pair<int, std::int64_t>> got;
    for (const auto& m : last_bootstrap_dlq) {
      got.emplace(std::stoi(m.headers.at("sluice-source-partition")), std::stoll(m.headers.at("sluice-source-offset")));
    }
    EXPECT_EQ(got, dead_lettered) << "the dead-letter topic must hold exactly the records named as failed";
    EXPECT_EQ(last_bootstrap_dlq.size(), dead_lettered.size()) << "a record was dead-lettered twice";
    expect_clean_stop(d);
    return d.log();  // with what the handlers wrote while they stopped
  }

  std::function<std::string(std::uint64_t)> value_of;
  std::vector<TopicMessage> last_bootstrap_dlq;
  std::vector<std::string> more_topics;  // "NAME:PARTITIONS" the example produces to
  std::vector<TopicMessage> produced;    // what it produced to the first of them, read before the stop
};

// examples/log-plugin: the C plugin, two workers, key ordering.
TEST_F(Examples, CPluginLogsEveryRecord) {
  install_example("log-plugin", "orders");
  const std::string log = run_example("orders", 2000);
  EXPECT_NE(log.find("orders: events["), std::string::npos) << "the plugin's prefix option was not applied";
}

// examples/python-f: OpenLambda's `def f(event)` with the workflow-engine envelope.
TEST_F(Examples, PythonFunctionGetsTheJsonEnvelope) {
  install_example("python-f", "pyf");
  const std::string log = run_example("pyf", 2000);
  // The envelope's key and message reached the function: key=k<seq % 50>.
  const auto seen = logged_records(log);
  ASSERT_FALSE(seen.empty());
  for (const auto& o : seen) {
    const std::uint64_t s = seq_of(o.value);
    ASSERT_EQ(o.key, "k" + std::to_string(s % 50)) << "offset " << o.offset;
    ASSERT_EQ(o.value.size(), 100U);
  }
}

// What an app reading X-Kafka-Topic / -Partition / -Key logged agrees with each record.
void expect_headers_read(const std::string& log) {
  const auto seen = logged_records(log);
  ASSERT_FALSE(seen.empty());
  for (const auto& o : seen) {
    ASSERT_EQ(o.topic, "events");
    const std::uint64_t s = seq_of(o.value);
    ASSERT_EQ(o.partition, static_cast<int>(s % kPartitions)) << "X-Kafka-Partition disagrees with the record";
    ASSERT_EQ(o.key, "k" + std::to_string(s % 50));
  }
}

// examples/flask-app: a Flask app written for OpenLambda, hosted by the exec handler,
// reading X-Kafka-Topic / -Partition / -Offset / -Key.
TEST_F(Examples, FlaskAppReadsTheKafkaHeaders) {
  install_example("flask-app", "web");
  expect_headers_read(run_example("web", 1000));
}

// examples/fastapi-app: a FastAPI app hosted as ASGI by the exec handler, reading the
// same headers; its startup and shutdown handlers run once for each of its two runners.
TEST_F(Examples, FastApiAppReadsTheKafkaHeadersAndRunsItsLifespan) {
  install_example("fastapi-app", "api");
  const std::string log = run_example("api", 1000);
  expect_headers_read(log);
  EXPECT_EQ(count_of(log, "fastapi-app: lifespan startup"), 2U) << log.substr(0, 20000);
  EXPECT_EQ(count_of(log, "fastapi-app: lifespan shutdown after"), 2U) << log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
}

// examples/amgi-app: an AMGI app hosted natively: acked orders each produce one
// "accepted" record (before their commit), nacked ones are dead-lettered with the app's
// reason and produce nothing; lifespan once per runner.
TEST_F(Examples, AmgiAppAcksSendsAndNacksThroughSluice) {
  install_example("amgi-app", "amgi");
  constexpr std::uint64_t kCount = 1000;
  value_of = [](std::uint64_t s) { return seq_value_prefix(s) + (s % 97 == 13 ? "invalid-order" : "order"); };
  std::set<std::pair<int, std::int64_t>> expected;
  for (std::uint64_t s = 13; s < kCount; s += 97) expected.insert(where(s));
  more_topics = {"orders-accepted:2"};
  const std::string log = run_example("amgi", kCount, expected);
  for (const auto& m : last_bootstrap_dlq) {
    EXPECT_NE(m.headers.at("sluice-error").find("amgi: nack: order 's"), std::string::npos) << m.headers.at("sluice-error");
    EXPECT_EQ(m.headers.at("sluice-attempts"), "2");
  }
  std::map<std::uint64_t, int> accepted;
  for (const auto& m : produced) {
    ASSERT_TRUE(m.value.has_value());
    const auto order = nlohmann::json::parse(*m.value);
    ++accepted[seq_of(order.at("order").get<std::string>())];
    EXPECT_EQ(order.at("status"), "accepted");
  }
  for (std::uint64_t s = 0; s < kCount; ++s) {
    EXPECT_EQ(accepted[s], s % 97 == 13 ? 0 : 1) << "seq " << s;
  }
  EXPECT_EQ(count_of(log, "amgi-app: lifespan startup"), count_of(log, "amgi-app: lifespan shutdown")) << log.substr(0, 20000);
  EXPECT_GE(count_of(log, "amgi-app: lifespan startup"), 1U);
}

// examples/aws-batch: AWS's Kafka event in batches; the records the function names in
// batchItemFailures, and only those, end up in the dead-letter topic.
TEST_F(Examples, AwsBatchLambdaDeadLettersExactlyItsFailures) {
  install_example("aws-batch", "awsb");
  constexpr std::uint64_t kCount = 3000;
  value_of = [](std::uint64_t s) { return seq_value_prefix(s) + (s % 97 == 13 ? "invalid-order" : "order"); };
  std::set<std::pair<int, std::int64_t>> expected;
  for (std::uint64_t s = 13; s < kCount; s += 97) expected.insert(where(s));
  run_example("awsb", kCount, expected);
  for (const auto& m : last_bootstrap_dlq) {
    EXPECT_EQ(m.headers.at("sluice-error"), "named in batchItemFailures");
    EXPECT_EQ(m.headers.at("sluice-attempts"), "2");
    ASSERT_TRUE(m.value.has_value());
    EXPECT_NE(m.value->find("invalid"), std::string::npos);
  }
}

// examples/avro-python: Confluent-framed Avro records, decoded against a schema registry
// before a Python `def f(event)` sees them as plain JSON.
TEST_F(Examples, AvroRecordsReachAPythonFunctionAsJson) {
  constexpr std::uint64_t kCount = 1000;
  const std::string schema = R"({"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"total","type":"long"},{"name":"note","type":"string"},{"name":"coupon","type":["null","string"],"default":null}]})";
  nlohmann::json jobs = nlohmann::json::array();
  for (std::uint64_t s = 0; s < kCount; ++s) {
    jobs.push_back({{"schema", schema}, {"id", 42},
                    {"datum", {{"total", s * 10}, {"note", seq_value_prefix(s) + "order"},
                               {"coupon", s % 3 == 0 ? nlohmann::json("SAVE" + std::to_string(s)) : nlohmann::json(nullptr)}}}});
  }
  const auto framed = avro_frames(dir.path(), jobs);
  std::ofstream(dir.path() / "schemas.json") << nlohmann::json({{"42", {{"schema", schema}}}}).dump();
  ScriptServer registry("/usr/bin/python3", "schema_registry.py",
                        {(dir.path() / "schemas.json").string(), (dir.path() / "registry.log").string()});
  install_example("avro-python", "avro");
  const fs::path file = dir.path() / "lambdas.d" / "avro.toml";
  const std::string text = replace_all(read_file(file), "http://localhost:8081", registry.url(""));
  std::ofstream(file) << text;
  value_of = [&](std::uint64_t s) { return framed.at(s); };
  const std::string log = run_example("avro", kCount);
  const auto seen = logged_records(log);
  ASSERT_FALSE(seen.empty());
  for (const auto& o : seen) {
    const std::uint64_t s = seq_of(o.value);
    const std::string line_end = " coupon=" + (s % 3 == 0 ? "SAVE" + std::to_string(s) : std::string("-")) +
                                 " total=" + std::to_string(s * 10);
    ASSERT_NE(log.find(o.value + line_end), std::string::npos) << "the decoded fields of record " << s;
  }
}

}  // namespace
}  // namespace sluice::test
