// The exec handler against real handler processes: a Python `f(event, context)` through
// sluice_handler, and a bash script speaking the frame protocol by hand.
#include <gtest/gtest.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "kafka/kafka_handles.hpp"
#include <sstream>

#include "daemon_test.hpp"
#include "metrics_text.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
constexpr int kPartitions = 8;

const std::string kHandlers = std::string(SLUICE_SOURCE_DIR) + "/tests/integration/handlers/";

std::map<std::string, std::string> python_env() {
  return {{"PYTHONPATH", std::string(SLUICE_SOURCE_DIR) + "/worker/python"}};
}

// (source partition, offset) -> the dead letter's headers.
std::map<std::pair<int, std::int64_t>, std::map<std::string, std::string>> dead_letters(const std::string& bs,
                                                                                        std::size_t count) {
  std::map<std::pair<int, std::int64_t>, std::map<std::string, std::string>> out;
  for (const auto& m : read_topic(bs, "events-dlq", count, 30s)) {
    out[{std::stoi(m.headers.at("sluice-source-partition")), std::stoll(m.headers.at("sluice-source-offset"))}] = m.headers;
  }
  return out;
}

// How a crash and a hang end, and what each costs, for the runner as a child (exec) and
// inside the worker (python).
struct EndingRules {
  std::string crash_error;
  std::string hang_error;
  std::size_t min_processes;   // that recorded something (the recorder names its file after its pid)
  std::size_t max_processes;
  std::size_t worker_restarts;
  std::size_t lifespan_ends;   // processes whose SIGTERM handler ran at shutdown
};

class Exec : public DaemonTest {
 protected:
  // The Python recorder (handlers/exec_recorder.py) behind the runner, timeout_ms 1000,
  // with `env` (TOML lines: which seqs crash, hang, ...) added to its environment;
  // `runner_option` ("--no-coalesce") goes to the runner.
  std::string recorder_handler(const std::string& env, const std::string& runner_option = "") {
    return "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", " +
           (runner_option.empty() ? "" : "\"" + runner_option + "\", ") + "\"" + kHandlers +
           "exec_recorder.py\"]\ntimeout_ms = 1000\n[lambda.handler.env]\nOUTCOMES_DIR = \"" + outcomes().string() + "\"\n" +
           env;
  }
  void runner_ending_mid_window(const std::string& handler, bool coalesce);
  void python_outcomes_follow_the_rules(const std::string& handler, const EndingRules& rules);
};

// Frames to and from a handler process, by the protocol (docs/exec-protocol.md).
std::string frame(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
  std::string block;
  for (const auto& [n, v] : headers) block += n + ": " + v + "\n";
  return std::to_string(block.size()) + " " + std::to_string(body.size()) + "\n" + block + body;
}

struct Answer {
  std::string headers;
  std::string body;
};

std::optional<Answer> read_answer(std::istream& in) {
  std::size_t h = 0, b = 0;
  if (!(in >> h >> b)) return std::nullopt;
  in.get();  // the newline
  Answer a{std::string(h, '\0'), std::string(b, '\0')};
  if (!in.read(a.headers.data(), static_cast<std::streamsize>(h)) || !in.read(a.body.data(), static_cast<std::streamsize>(b))) {
    return std::nullopt;
  }
  return a;
}

// The Python runner on `file`, speaking the protocol with the test over its stdin and stdout.
struct PythonRunner {
  boost::process::opstream to;
  boost::process::ipstream from;
  boost::process::child runner;
  explicit PythonRunner(const fs::path& file, const std::vector<std::string>& options = {},
                        const std::map<std::string, std::string>& env = {})
      : runner(boost::process::exe = "/usr/bin/python3", boost::process::args = args(file, options),
               boost::process::std_in < to, boost::process::std_out > from, environment(env)) {}
  static std::vector<std::string> args(const fs::path& file, const std::vector<std::string>& options) {
    std::vector<std::string> out = {"-m", "sluice_handler"};
    out.insert(out.end(), options.begin(), options.end());
    out.push_back(file.string());
    return out;
  }
  // Closes its input, as sluice does at lifespan end, and waits: its exit code.
  int end() {
    to.pipe().close();
    runner.wait();
    return runner.exit_code();
  }
  static boost::process::environment environment(const std::map<std::string, std::string>& more) {
    auto env = boost::this_process::environment();
    env["PYTHONPATH"] = std::string(SLUICE_SOURCE_DIR) + "/worker/python";
    for (const auto& [name, value] : more) env[name] = value;
    return env;
  }
};

// The Python runner died (exit 1, a restart for every attempt) on a raw record of
// "[" * 50000: decoding it raised RecursionError outside its try. Whatever a record
// holds is now that record's business: here the function gets the text.
TEST_F(Exec, ThePythonRunnerSurvivesARecordItCannotParse) {
  std::ofstream(dir.path() / "kind.py") << "def f(event):\n    return {'type': type(event).__name__}\n";
  PythonRunner r(dir.path() / "kind.py");
  auto& to = r.to;
  auto& from = r.from;
  auto ready = read_answer(from);
  ASSERT_TRUE(ready.has_value());
  // f(event) reads no header; a sluice that sends them anyway (one before `body-only`,
  // as here) is still answered.
  EXPECT_EQ(ready->headers, "Status: ready\nFeatures: pipeline, body-only\n");
  for (const auto& [body, type] : std::vector<std::pair<std::string, std::string>>{
           {std::string(50'000, '['), "str"}, {std::string(5'000, '[') + std::string(5'000, ']'), "str"}, {"{\"a\": 1}", "dict"}}) {
    to << frame({{"X-Kafka-Topic", "t"}}, body) << std::flush;
    const auto answer = read_answer(from);
    ASSERT_TRUE(answer.has_value()) << "the runner ended on a body of " << body.size() << " bytes";
    EXPECT_EQ(answer->headers, "Status: ok\n");
    EXPECT_EQ(answer->body, "{\"type\": \"" + type + "\"}");
  }
  EXPECT_EQ(r.end(), 0);
}

// The originals section (docs/exec-protocol.md) as the Python runner reads it: a
// function with a context asks for it in its ready frame, and gets the event without it
// and each part's bytes by record index; a section that does not fit its body is that
// request's retry, and the runner goes on.
TEST_F(Exec, ThePythonRunnerSplitsTheOriginalsFromTheEvent) {
  std::ofstream(dir.path() / "orig.py") << "def f(event, context):\n"
                                           "    parts = [(i, p) for i in range(3) for p in ('key', 'value')]\n"
                                           "    got = {'%d.%s' % (i, p): context.original(p, i).hex() for i, p in parts\n"
                                           "           if context.original(p, i) is not None}\n"
                                           "    return {'event': event, 'originals': got, 'default': (context.original() or b'').hex()}\n";
  PythonRunner r(dir.path() / "orig.py");
  auto& to = r.to;
  auto& from = r.from;
  const auto ready = read_answer(from);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->headers, "Status: ready\nFeatures: pipeline, originals\n");
  const std::string value0("\0\0\0\0\1\2ann", 9);
  const std::string key2("\0\0\0\0\2\n\r\xff", 8);  // bytes a line reader would trip on
  const std::string section = frame({{"Record", "0"}, {"Part", "value"}}, value0) +
                              frame({{"Record", "2"}, {"Part", "key"}}, key2);
  to << frame({{"X-Kafka-Record-Count", "3"}, {"X-Sluice-Originals", std::to_string(section.size())}},
              R"([{"n": 1}, {"n": 2}, {"n": 3}])" + section)
     << std::flush;
  auto answer = read_answer(from);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->headers, "Status: ok\n");
  EXPECT_EQ(nlohmann::json::parse(answer->body),
            nlohmann::json::parse(R"({"event": [{"n": 1}, {"n": 2}, {"n": 3}],
                                      "originals": {"0.value": "000000000102616e6e", "2.key": "00000000020a0dff"},
                                      "default": "000000000102616e6e"})"))
      << answer->body;
  for (const char* size : {"99", "-1", "x"}) {
    to << frame({{"X-Sluice-Originals", size}}, "{}") << std::flush;
    answer = read_answer(from);
    ASSERT_TRUE(answer.has_value()) << "the runner ended on X-Sluice-Originals: " << size;
    EXPECT_TRUE(answer->headers.starts_with("Status: retry\nError: ValueError: X-Sluice-Originals")) << answer->headers;
  }
  to << frame({{"X-Sluice-Originals", "7"}}, "{}" + std::string("5 0\nRec")) << std::flush;
  answer = read_answer(from);
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->headers.starts_with("Status: retry\nError: ValueError: the originals section ends inside a frame"))
      << answer->headers;
  to << frame({}, "[]") << std::flush;
  answer = read_answer(from);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->body, R"({"event": [], "originals": {}, "default": ""})") << "no section, no originals";
  EXPECT_EQ(r.end(), 0);
}

// A WSGI app asks for originals too: its request body is the event alone, and
// environ["sluice.original"] gives each part's bytes.
TEST_F(Exec, AWsgiAppGetsTheEventAsItsBodyAndTheOriginalsBeside) {
  std::ofstream(dir.path() / "app.py") << "def app(environ, start_response):\n"
                                          "    body = environ['wsgi.input'].read()\n"
                                          "    value = environ['sluice.original']('value', 0)\n"
                                          "    start_response('200 OK', [])\n"
                                          "    return [body + b' ' + value.hex().encode()]\n";
  PythonRunner r(dir.path() / "app.py", {"--wsgi"});
  auto& to = r.to;
  auto& from = r.from;
  const auto ready = read_answer(from);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->headers, "Status: ready\nFeatures: pipeline, originals\n");
  const std::string section = frame({{"Record", "0"}, {"Part", "value"}}, std::string("\0\0\0\0\7\xff", 6));
  to << frame({{"X-Sluice-Originals", std::to_string(section.size())}}, R"({"n": 1})" + section) << std::flush;
  const auto answer = read_answer(from);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->headers, "Status: ok\n");
  EXPECT_EQ(answer->body, R"({"n": 1} 0000000007ff)");
  EXPECT_EQ(r.end(), 0);
}

std::string hex_of(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

// An ASGI app (--asgi) gets each event as the POST sluice's http handler would send:
// every header as written (names lower-cased, values untouched), the body byte for byte
// with its content-length, the state its lifespan startup left; lifespan startup runs
// before the ready frame and shutdown at the end of input, once each; statuses follow the
// http handler's rules.
TEST_F(Exec, AnAsgiAppGetsEveryHeaderAndByteAndItsLifespanOnce) {
  const fs::path lifespan = dir.path() / "lifespan.log";
  std::ofstream(dir.path() / "app.py")
      << "import json\n"
         "async def app(scope, receive, send):\n"
         "    if scope['type'] == 'lifespan':\n"
         "        while True:\n"
         "            m = await receive()\n"
         "            with open('" << lifespan.string() << "', 'a') as f:\n"
         "                f.write(m['type'] + '\\n')\n"
         "            if m['type'] == 'lifespan.startup':\n"
         "                scope['state']['stage'] = 'started'\n"
         "                await send({'type': 'lifespan.startup.complete'})\n"
         "            else:\n"
         "                await send({'type': 'lifespan.shutdown.complete'})\n"
         "                return\n"
         "    m = await receive()\n"
         "    out = json.dumps({'method': scope['method'], 'path': scope['path'], 'state': scope['state'],\n"
         "                      'headers': [[k.hex(), v.hex()] for k, v in scope['headers']],\n"
         "                      'body': m['body'].hex(), 'more': m['more_body']})\n"
         "    status = 503 if m['body'] == b'down' else 200\n"
         "    await send({'type': 'http.response.start', 'status': status, 'headers': [(b'retry-after', b'3')]})\n"
         "    await send({'type': 'http.response.body', 'body': out.encode()})\n";
  PythonRunner r(dir.path() / "app.py", {"--asgi"});
  const auto ready = read_answer(r.from);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->headers, "Status: ready\nFeatures: pipeline, originals\n");
  EXPECT_EQ(read_file(lifespan), "lifespan.startup\n") << "startup must be over before the runner is ready";

  std::string body;
  for (int b = 0; b < 256; ++b) body += static_cast<char>(b);
  const std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/octet-stream"},
                                                                    {"X-Kafka-Topic", "orders"},
                                                                    {"X-Kafka-Key", "%00%FFk%20"},
                                                                    {"X-Kafka-Header-trace%20id", "a%0Ab"},
                                                                    {"X-Sluice-Attempt", "1"}};
  r.to << frame(headers, body) << std::flush;
  const auto answer = read_answer(r.from);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->headers, "Status: ok\n");
  const auto seen = nlohmann::json::parse(answer->body);
  EXPECT_EQ(seen["method"], "POST");
  EXPECT_EQ(seen["path"], "/");
  EXPECT_EQ(seen["state"], nlohmann::json({{"stage", "started"}}));
  nlohmann::json want = nlohmann::json::array();
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    want.push_back({hex_of(lower), hex_of(value)});
  }
  want.push_back({hex_of("content-length"), hex_of("256")});
  EXPECT_EQ(seen["headers"], want);
  EXPECT_EQ(seen["body"], hex_of(body));
  EXPECT_EQ(seen["more"], false);

  r.to << frame({}, "down") << std::flush;
  const auto down = read_answer(r.from);
  ASSERT_TRUE(down.has_value());
  EXPECT_TRUE(down->headers.starts_with("Status: unavailable\nError: asgi: status 503: ")) << down->headers;
  EXPECT_TRUE(down->headers.ends_with("\nRetry-After: 3\n")) << down->headers;

  EXPECT_EQ(r.end(), 0);
  EXPECT_EQ(read_file(lifespan), "lifespan.startup\nlifespan.shutdown\n");
}

// Requests written ahead to an AMGI or ASGI app run together on its event loop where
// the lambda's ordering lets them, and one after another where it does not; answers keep
// request order. Run one at a time, as they were, the first record would wait in vain for
// its neighbour (handlers/overlap_app.py).
TEST_F(Exec, AsyncAppsRunRequestsTogetherOnlyWhereTheOrderingAllows) {
  struct Request {
    std::string partition, key, payload;
  };
  const std::vector<std::pair<std::string, std::vector<Request>>> cases = {
      {"partition",
       {{"0", "k1", R"({"id": "a", "beside": ["b"]})"},
        {"1", "k1", R"({"id": "b", "beside": ["a"]})"},
        {"0", "k2", R"({"id": "c", "after": ["a"]})"},
        {"1", "k2", R"({"id": "d", "after": ["b"]})"}}},
      {"key",
       {{"0", "k1", R"({"id": "a", "beside": ["b"]})"},
        {"0", "k2", R"({"id": "b", "beside": ["a"]})"},
        {"0", "k1", R"({"id": "c", "after": ["a"]})"},
        {"0", "k2", R"({"id": "d", "after": ["b"]})"}}},
      {"none",
       {{"0", "k1", R"({"id": "a", "beside": ["b", "c"]})"},
        {"0", "k1", R"({"id": "b", "beside": ["a", "c"]})"},
        {"0", "k1", R"({"id": "c", "beside": ["a", "b"]})"}}},
  };
  for (const auto& [ordering, requests] : cases) for (const std::string kind : {"--amgi", "--asgi"}) {
    SCOPED_TRACE(kind + ", ordering = " + ordering);
    PythonRunner r(kHandlers + "overlap_app.py", {kind},
                   {{"SLUICE_EXEC_FEATURES", "pipeline, originals, coalesce"},
                    {"SLUICE_ORDERING", ordering},
                    {"SLUICE_FORMAT", "raw"}});
    const auto ready = read_answer(r.from);
    ASSERT_TRUE(ready.has_value());
    EXPECT_EQ(ready->headers, kind == "--amgi" ? "Status: ready\nFeatures: pipeline, coalesce\n"
                                               : "Status: ready\nFeatures: pipeline, originals, coalesce\n");
    std::string window;  // written at once, as sluice writes a window
    for (const auto& q : requests) {
      window += frame({{"X-Kafka-Topic", "events"},
                       {"X-Kafka-Partition", q.partition},
                       {"X-Kafka-Key", q.key},
                       {"X-Sluice-Attempt", "1"}},
                      q.payload);
    }
    r.to << window << std::flush;
    for (const auto& q : requests) {
      const auto answer = read_answer(r.from);
      ASSERT_TRUE(answer.has_value());
      EXPECT_EQ(answer->headers, "Status: ok\n") << q.payload << answer->body;
    }
    EXPECT_EQ(r.end(), 0);
  }
}

// An ASGI app whose lifespan startup fails is a handler that cannot start: the runner
// exits before its ready frame, saying why.
TEST_F(Exec, AnAsgiAppWhoseStartupFailsNeverReportsReady) {
  std::ofstream(dir.path() / "app.py") << "async def app(scope, receive, send):\n"
                                          "    await receive()\n"
                                          "    await send({'type': 'lifespan.startup.failed', 'message': 'no database'})\n";
  PythonRunner r(dir.path() / "app.py", {"--asgi"});
  EXPECT_FALSE(read_answer(r.from).has_value());
  EXPECT_EQ(r.end(), 1);
}

// A handler that lists `pipeline` has the next requests written while it handles one,
// so neither side waits for the other between records; one that does not list it never
// sees a request before it has answered the one before (the protocol as it always was).
TEST_F(Exec, RequestsArriveAheadOnlyForAHandlerThatListsPipeline) {
  constexpr std::uint64_t kCount = 300;
  DevBroker broker({"piped:1", "plain:1"});
  produce(broker.bootstrap(), "piped", 1, 0, kCount);
  produce(broker.bootstrap(), "plain", 1, 0, kCount);
  const auto probe = [&](const std::string& name, bool pipeline) {
    return LambdaSpec{.name = name, .topic = name, .workers = 1,
                      .handler = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"" + kHandlers +
                                 "pipeline_probe.py\"]\n[lambda.handler.env]\nPROBE_LOG = \"" +
                                 (dir.path() / (name + ".log")).string() + "\"\nPIPELINE = \"" + (pipeline ? "1" : "0") +
                                 "\"\n"};
  };
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {probe("piped", true), probe("plain", false)}));
  for (const char* name : {"piped", "plain"}) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), std::string("lambda-") + name, kCount, 1, name); }, 60s))
        << name << "\n" << d.log();
  }
  const auto ahead_of = [&](const std::string& name) {
    std::ifstream in(dir.path() / (name + ".log"));
    std::size_t ahead = 0, lines = 0;
    std::int64_t last = -1;
    int partition = 0, flag = 0;
    std::int64_t offset = 0;
    while (in >> partition >> offset >> flag) {
      EXPECT_EQ(offset, last + 1) << name << ": requests out of order or repeated";
      last = offset;
      ++lines;
      ahead += static_cast<std::size_t>(flag);
    }
    EXPECT_EQ(lines, kCount) << name;
    return ahead;
  };
  EXPECT_GT(ahead_of("piped"), 0U) << "no request was written before the answer to the one before";
  EXPECT_EQ(ahead_of("plain"), 0U) << "a handler without the feature got a request before it had answered";
  expect_clean_stop(d);
}

// A record that takes a pipelining runner down (a crash, a hang) is the one charged: the
// requests written behind it never reached the function, so they come again as first
// attempts, and only the bad records take the failure path. `coalesce`: the runner holds
// answers back and writes several at once (the shipped default), so a death leaves its
// position unknown and sluice calls the unanswered records again one at a time; without
// it (--no-coalesce) the record it died on is the first unanswered one.
void Exec::runner_ending_mid_window(const std::string& handler, bool coalesce) {
  constexpr std::uint64_t kCount = 300;
  DevBroker broker({"events:1", "events-dlq:1"});
  produce(broker.bootstrap(), "events", 1, 0, kCount);
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "x", .topic = "events", .workers = 1,
                           .extra = "max_attempts = 2\nretry_backoff_ms = [10, 50]\non_failure = \"dead_letter\"\n"
                                    "dead_letter_topic = \"events-dlq\"\n",
                           .handler = handler}}),
           "run", python_env());
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", kCount, 1); }, 120s)) << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events-dlq", 4, 30s);
  std::map<std::string, std::string> attempts;
  for (const auto& m : dlq) attempts[m.headers.at("sluice-source-offset")] = m.headers.at("sluice-attempts");
  const std::map<std::string, std::string> want{{"40", "2"}, {"41", "2"}, {"150", "2"}, {"200", "2"}};
  EXPECT_EQ(attempts, want) << d.log();
  std::map<std::uint64_t, std::vector<std::uint32_t>> seen;
  for (const auto& o : read_outcomes(outcomes(), "x")) seen[seq_of(o.value)].push_back(o.attempt);
  for (std::uint64_t s = 0; s < kCount; ++s) {
    std::ranges::sort(seen[s]);  // a crash's attempts are in the logs of two runner processes
    const bool bad = s == 40 || s == 41 || s == 150 || s == 200;
    if (!coalesce) {
      EXPECT_EQ(seen[s], (bad ? std::vector<std::uint32_t>{1, 2} : std::vector<std::uint32_t>{1}))
          << "seq " << s << ": handled again, or charged for a neighbour";
      continue;
    }
    // Calls whose answers died with the runner come again with the same attempt.
    const auto distinct = std::set<std::uint32_t>(seen[s].begin(), seen[s].end());
    EXPECT_EQ(distinct, (bad ? std::set<std::uint32_t>{1, 2} : std::set<std::uint32_t>{1}))
        << "seq " << s << ": never handled, or charged for a neighbour";
  }
  if (coalesce) {
    EXPECT_GE(count_of(d.log(), "calling them again one at a time"), 1U) << d.log();
  }
  expect_clean_stop(d);
}

TEST_F(Exec, ARunnerThatEndsMidWindowIsChargedOnlyTheRecordItEndedOn) {
  runner_ending_mid_window(recorder_handler("CRASH_SEQS = \"40,41,150\"\nHANG_SEQS = \"200\"\n", "--no-coalesce"),
                           false);
}

TEST_F(Exec, ACoalescingRunnerThatEndsMidWindowGetsNoNeighbourCharged) {
  runner_ending_mid_window(recorder_handler("CRASH_SEQS = \"40,41,150\"\nHANG_SEQS = \"200\"\n"), true);
}

// ok / retry (exception) / fail (sluice_handler.Fail) / flaky / crash / hang, one
// partition each, for `handler` (the recorder with those seqs): outcomes and dead
// letters as the rules say, and every killed process replaced.
void Exec::python_outcomes_follow_the_rules(const std::string& handler, const EndingRules& rules) {
  constexpr std::uint64_t kCount = 1000;
  // Seqs 17, 34, 51, 68, 85, 86 lie on partitions 1, 2, 3, 4, 5, 6.
  DevBroker broker({"events:8", "events-dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  auto env = python_env();
  env.merge(segv_kills_env());
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "x", .topic = "events", .workers = 2,
                           .extra = "max_attempts = 3\nretry_backoff_ms = [10, 50]\non_failure = \"dead_letter\"\n"
                                    "dead_letter_topic = \"events-dlq\"\n",
                           .handler = handler}}),
           "run", env);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", kCount, kPartitions); },
                         120s))
      << d.log();
  const auto dlq = dead_letters(broker.bootstrap(), 4);
  ASSERT_EQ(dlq.size(), 4U) << d.log();
  const auto error = [&](std::uint64_t seq) { return dlq.at(where(seq)).at("sluice-error"); };
  const auto attempts = [&](std::uint64_t seq) { return dlq.at(where(seq)).at("sluice-attempts"); };
  EXPECT_EQ(error(17), rules.crash_error);
  EXPECT_EQ(attempts(17), "3");
  EXPECT_EQ(error(34), rules.hang_error);
  EXPECT_EQ(attempts(34), "3");
  EXPECT_NE(error(51).find("RuntimeError: transient trouble with 51 (exec_recorder.py:"), std::string::npos) << error(51);
  EXPECT_EQ(attempts(51), "3");
  EXPECT_NE(error(68).find("Fail: record 68 is invalid"), std::string::npos) << error(68);
  EXPECT_EQ(attempts(68), "1") << "Fail must not be retried";

  const auto out = read_outcomes(outcomes(), "x");
  std::set<std::pair<int, std::int64_t>> dead{where(17), where(34), where(51), where(68)};
  std::set<std::uint64_t> ok;
  std::map<std::uint64_t, std::vector<std::uint32_t>> flaky_attempts;
  std::set<std::string> processes;
  for (const auto& o : out) {
    processes.insert(o.file);
    if (o.outcome == "ok") ok.insert(seq_of(o.value));
    if (seq_of(o.value) == 85 || seq_of(o.value) == 86) flaky_attempts[seq_of(o.value)].push_back(o.attempt);
  }
  for (std::uint64_t s = 0; s < kCount; ++s) {
    if (!dead.contains(where(s))) {
      EXPECT_TRUE(ok.contains(s)) << "seq " << s << " was never handled";
    }
  }
  // A call whose answer died with a coalescing runner (a neighbour crashed) comes again
  // with the same attempt: the attempts seen, not how often.
  EXPECT_EQ(std::set<std::uint32_t>(flaky_attempts[85].begin(), flaky_attempts[85].end()), (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(std::set<std::uint32_t>(flaky_attempts[86].begin(), flaky_attempts[86].end()), (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-x", "events"), dead), "");
  EXPECT_GE(processes.size(), rules.min_processes) << "processes that recorded something";
  EXPECT_LE(processes.size(), rules.max_processes) << "processes that recorded something";
  EXPECT_EQ(count_of(d.log(), "restarting worker"), rules.worker_restarts) << d.log();

  expect_clean_stop(d);
  std::size_t ended = 0;
  for (const auto& e : fs::directory_iterator(outcomes())) ended += e.path().filename().string().starts_with("lifespan-end.");
  EXPECT_EQ(ended, rules.lifespan_ends);
}

// As a child: every killed child is replaced by its worker, which survives; SIGTERM at
// shutdown reaches the children still running (lifespan end). Two children at start;
// each of the 3 crashes and 3 timeouts killed one, and the next record on that worker
// started a replacement. A death with several answers owed is met again when its
// records are called one at a time: up to twice as many.
TEST_F(Exec, PythonOutcomesCrashesAndHangsFollowTheRules) {
  python_outcomes_follow_the_rules(
      recorder_handler("CRASH_SEQS = \"17\"\nHANG_SEQS = \"34\"\nRETRY_SEQS = \"51\"\nFAIL_SEQS = \"68\"\nFLAKY_SEQS = \"85,86\"\n"),
      {.crash_error = "exec: handler killed by SIGSEGV",
       .hang_error = "exec: handler timed out after 1000 ms (killed)",
       .min_processes = 8,
       .max_processes = 14,
       .worker_restarts = 0,
       .lifespan_ends = 2});
}

// Inside the worker (handler type python): a crash or a hang ends the worker, which the
// supervisor replaces: two workers at start and one for each of the 6. The recorder's
// SIGTERM handler, set as it loads, never runs: the worker's signals stay its own.
TEST_F(Exec, InTheWorkerPythonOutcomesCrashesAndHangsFollowTheRules) {
  python_outcomes_follow_the_rules(
      "type = \"python\"\npath = \"" + kHandlers + "exec_recorder.py\"\ntimeout_ms = 1000\n[lambda.handler.env]\n"
      "OUTCOMES_DIR = \"" + outcomes().string() + "\"\nCRASH_SEQS = \"17\"\nHANG_SEQS = \"34\"\nRETRY_SEQS = \"51\"\n"
      "FAIL_SEQS = \"68\"\nFLAKY_SEQS = \"85,86\"\n",
      {.crash_error = "worker killed by SIGSEGV",
       .hang_error = "handler timed out after 1000 ms (worker killed)",
       .min_processes = 8,
       .max_processes = 8,
       .worker_restarts = 6,
       .lifespan_ends = 0});
}

// A pipelined runner takes requests in turn, and those written ahead of an answer that
// asks for a retry are handled before that retry; nothing more is written after it
// (ordering = "partition"), so at most a window's worth of later records of its
// partition (max_concurrency 4: three) come before the retry, not the rest of the round.
TEST_F(Exec, ARecordToRetryIsOvertakenOnlyByTheRequestsWrittenAheadOfItsAnswer) {
  constexpr std::uint64_t kCount = 80;  // 40 per partition; seq 20 is partition 0's offset 10
  DevBroker broker({"events:2"});
  produce(broker.bootstrap(), "events", 2, 0, kCount);
  const std::string handler = recorder_handler("FLAKY_SEQS = \"20\"\n");
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "o", .topic = "events", .workers = 1,
                           .extra = "batch_window_ms = 2000\nretry_backoff_ms = [10, 50]\n",
                           .handler = with(handler, "timeout_ms = 1000\n", "timeout_ms = 1000\nmax_concurrency = 4\n")}}),
           "run", python_env());
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-o", kCount, 2); }, 120s)) << d.log();
  const auto out = read_outcomes(outcomes(), "o");
  std::vector<std::size_t> at;  // where partition 0's offset 10 was called
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].partition == 0 && out[i].offset == 10) at.push_back(i);
  }
  ASSERT_EQ(at.size(), 2U) << "offset 10: its failure and its retry";
  std::size_t overtaking = 0;
  for (std::size_t i = at[0] + 1; i < at[1]; ++i) overtaking += out[i].partition == 0 && out[i].offset > 10;
  EXPECT_LE(overtaking, 3U) << "later records of its partition handled before its retry";
  std::map<int, std::int64_t> next;  // after the retry, each partition's records in order
  for (std::size_t i = at[1]; i < out.size(); ++i) {
    if (out[i].partition != 0) continue;
    EXPECT_GT(out[i].offset, next[0] - 1) << "partition 0 out of order after the retry";
    next[0] = out[i].offset;
  }
  expect_clean_stop(d);
}

// An AMGI app (--amgi, format raw) gets each record as a message scope; ack, nack and
// silence take sluice's paths (a nack and silence are retried, then dead-lettered with
// the reason), a message.send is produced only for an acked record, a runner that dies
// mid-record has it delivered again, and each runner's lifespan starts once and, unless
// it died, stops once.
TEST_F(Exec, AnAmgiAppsAcksNacksAndSendsTakeSluicesPaths) {
  constexpr std::uint64_t kCount = 400;
  constexpr std::uint64_t kCrash = 55;
  DevBroker broker({"events:4", "out:1", "events-dlq:1"});
  produce(broker.bootstrap(), "events", 4, 0, kCount);
  const std::string handler = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", \"--amgi\", \"" +
                              kHandlers + "amgi_recorder.py\"]\ntimeout_ms = 5000\n[lambda.handler.env]\nOUTCOMES_DIR = \"" +
                              outcomes().string() + "\"\nCRASH_SEQ = \"" + std::to_string(kCrash) + "\"\n";
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "x", .topic = "events", .workers = 2,
                           .extra = "format = \"raw\"\nmax_attempts = 2\nretry_backoff_ms = [10, 50]\n"
                                    "on_failure = \"dead_letter\"\ndead_letter_topic = \"events-dlq\"\n",
                           .handler = handler}}),
           "run", python_env());
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", kCount, 4); }, 120s)) << d.log();
  std::size_t failing = 0;
  for (std::uint64_t s = 0; s < kCount; ++s) failing += s % 10 == 3 || s % 10 == 7;
  std::map<std::uint64_t, std::pair<std::string, std::string>> dead;  // seq -> (error, attempts)
  // Everything was produced before the commits: a short wait shows one too many.
  for (const auto& m : read_topic(broker.bootstrap(), "events-dlq", failing + 1, 5s)) {
    ASSERT_TRUE(m.value.has_value());
    dead[seq_of(*m.value)] = {m.headers.at("sluice-error"), m.headers.at("sluice-attempts")};
  }
  EXPECT_EQ(dead.size(), failing) << d.log();
  for (const auto& [s, why] : dead) {
    const std::string want = s % 10 == 3 ? "amgi: nack: order " + std::to_string(s) + " is invalid"
                                         : "amgi: the app neither acked nor nacked the message";
    EXPECT_EQ(why, std::make_pair(want, std::string("2"))) << "seq " << s;
  }
  // Sends: exactly one per acked record (an answer lost with a dead runner never reached
  // sluice, so its records were never produced), none for a nacked one.
  std::map<std::uint64_t, int> sent;
  for (const auto& m : read_topic(broker.bootstrap(), "out", kCount - failing + 1, 5s)) {
    ASSERT_TRUE(m.value.has_value());
    const std::uint64_t s = seq_of(*m.value);
    ++sent[s];
    using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;
    EXPECT_EQ(m.header_list, (Headers{{"source-seq", std::to_string(s)},
                                      {"bytes", std::string("\x00\xff\n", 3)},
                                      {"tag", "a"},
                                      {"tag", "b"}}))
        << "the app's headers: order, repeats and bytes as sent";
    EXPECT_EQ(m.key, "k" + std::to_string(s % 50)) << "the record's key, passed back through bindings.kafka.key";
  }
  for (std::uint64_t s = 0; s < kCount; ++s) {
    EXPECT_EQ(sent[s], s % 10 == 3 || s % 10 == 7 ? 0 : 1) << "seq " << s;
  }
  EXPECT_TRUE(fs::exists(outcomes() / "crashed-once")) << "seq " << kCrash << " never reached the app";
  expect_clean_stop(d);
  // Two runners, and the one that replaced the runner that died: each started once; the
  // two still running at the stop each stopped once.
  std::map<std::string, std::string> started, stopped;  // pid -> file content
  for (const auto& e : fs::directory_iterator(outcomes())) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("lifespan-start.")) started[name.substr(15)] = read_file(e.path());
    if (name.starts_with("lifespan-stop.")) stopped[name.substr(14)] = read_file(e.path());
  }
  EXPECT_EQ(started.size(), 3U);
  EXPECT_EQ(stopped.size(), 2U);
  for (const auto& [pid, marks] : started) EXPECT_EQ(marks, "x\n") << "runner " << pid << " started more than once";
  for (const auto& [pid, marks] : stopped) {
    EXPECT_EQ(marks, "x\n") << "runner " << pid << " stopped more than once";
    EXPECT_TRUE(started.contains(pid)) << "runner " << pid << " stopped without starting";
  }
}

// A handler in another language (bash): garbage answers and exits mid-call are retried
// with a fresh child, then dead-lettered with the reason; everything else completes.
TEST_F(Exec, BashHandlerMalformedAnswersAndExitsAreRetriedThenDeadLettered) {
  constexpr std::uint64_t kCount = 600;
  DevBroker broker({"events:8", "events-dlq:1"});
  const auto kind = [](std::uint64_t s) { return s % 100 == 7 ? "garbage" : s % 100 == 9 ? "silent" : "fine"; };
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount, 100, 50, ~0ULL, 0,
          [&](std::uint64_t s) { return seq_value_prefix(s) + kind(s); });
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "sh", .topic = "events", .workers = 2,
                           .extra = "max_attempts = 2\nretry_backoff_ms = [10, 50]\non_failure = \"dead_letter\"\n"
                                    "dead_letter_topic = \"events-dlq\"\n",
                           .handler = "type = \"exec\"\ncommand = [\"" + kHandlers + "frames.sh\"]\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-sh", kCount, kPartitions); },
                         120s))
      << d.log();
  const auto dlq = dead_letters(broker.bootstrap(), 12);
  ASSERT_EQ(dlq.size(), 12U) << d.log();
  for (std::uint64_t s = 0; s < kCount; ++s) {
    const std::string k = kind(s);
    if (k == "fine") {
      EXPECT_FALSE(dlq.contains(where(s))) << "seq " << s;
      continue;
    }
    ASSERT_TRUE(dlq.contains(where(s))) << "seq " << s << " (" << k << ") was not dead-lettered";
    const auto& h = dlq.at(where(s));
    EXPECT_EQ(h.at("sluice-attempts"), "2");
    if (k == "garbage") {
      EXPECT_EQ(h.at("sluice-error"), "exec: malformed response (handler killed): bad frame length line \"this is not a frame\"");
    } else {
      EXPECT_EQ(h.at("sluice-error"), "exec: handler exited with status 3");
    }
  }
  expect_clean_stop(d);
}

// The exec protocol had no word for "my dependency is down": a Python function whose
// database was down, or a WSGI app answering 503, spent the record's attempts and (with
// max_attempts = 1 and the default on_failure = "stop") stopped its partitions. Now
// `raise sluice_handler.Unavailable(...)` and a WSGI 429/502-504 answer "Status:
// unavailable", which is retried without counting attempts, the lambda degraded meanwhile,
// and everything is handled once the dependency is back.
TEST_F(Exec, UnavailableHandlersAreRetriedWithoutSpendingAttempts) {
  constexpr std::uint64_t kCount = 100;
  DevBroker broker({"events:8"});
  const fs::path down = dir.path() / "down";
  std::ofstream(down) << "down\n";
  const std::string env = "[lambda.handler.env]\nOUTCOMES_DIR = \"" + outcomes().string() + "\"\nDOWN_FILE = \"" +
                          down.string() + "\"\n";
  const std::string python = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", ";
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "fn", .topic = "events", .workers = 2, .extra = "max_attempts = 1\n",
                           .handler = python + "\"" + kHandlers + "exec_recorder.py\"]\n" + env},
                          {.name = "app", .topic = "events", .workers = 2, .extra = "max_attempts = 1\n",
                           .handler = python + "\"--wsgi\", \"" + kHandlers + "wsgi_recorder.py\"]\n" + env}}),
           "run", python_env());
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  auto health = [&] { return nlohmann::json::parse(admin(dir.path(), instance, "GET", "/healthz").body, nullptr, false); };
  auto unavailable = [](const nlohmann::json& h, const char* name) {
    return h.is_object() && h["lambdas"].is_object() && h["lambdas"][name]["status"] == "degraded" &&
           h["lambdas"][name]["reasons"].dump().find("handler unavailable") != std::string::npos;
  };
  ASSERT_TRUE(wait_until([&] { const auto h = health(); return unavailable(h, "fn") && unavailable(h, "app"); }, 60s))
      << health().dump() << d.log();
  // Both handlers have now answered "unavailable" at least once (the runner's frames
  // reached the workers): the dependency comes back.
  const std::string during = admin(dir.path(), instance, "GET", "/metrics").body;
  for (const char* name : {"fn", "app"}) {
    EXPECT_GT(sample(during, std::string("sluice_handler_unavailable_total{lambda=\"") + name + "\"}"), 0) << during;
  }
  fs::remove(down);
  for (const char* name : {"fn", "app"}) {
    ASSERT_TRUE(wait_until(
        [&] { return committed_to_end(broker.bootstrap(), std::string("lambda-") + name, kCount, kPartitions); },
        120s))
        << name << "\n" << d.log();
    std::set<std::uint64_t> ok;
    std::size_t refused = 0;
    for (const auto& o : read_outcomes(outcomes(), name)) {
      EXPECT_EQ(o.attempt, 1U) << name << ": an unavailable answer must not cost an attempt (" << o.value << ")";
      if (o.outcome == "ok") ok.insert(seq_of(o.value));
      refused += o.outcome == "unavailable";
    }
    EXPECT_GT(refused, 0U) << name;
    EXPECT_EQ(ok.size(), kCount) << name << ": every record is handled once the dependency is back";
  }
  const std::string after = admin(dir.path(), instance, "GET", "/metrics").body;
  for (const char* name : {"fn", "app"}) {
    const std::string l = std::string("{lambda=\"") + name + "\"}";
    EXPECT_EQ(sample(after, "sluice_records_failed_total" + l), 0) << after;
    EXPECT_EQ(sample(after, "sluice_partitions_stopped" + l), 0) << after;
  }
  ASSERT_TRUE(wait_until([&] { return health()["status"] == "ok"; }, 30s)) << health().dump();
  expect_clean_stop(d);
}

// The bytes a server that trims header values would lose (leading and trailing spaces,
// NUL, 0xFF), a repeated header name, a non-ASCII one and a null value (not an empty one) reach a Python f(event, context)
// exactly: its context gives the key's and each header's bytes in the record's order,
// whether the runner is a child or inside the worker.
TEST_F(Exec, KeyAndHeaderBytesReachThePythonContextExactly) {
  const std::string kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  DevBroker broker({"events:1"});
  produce_exact(broker.bootstrap(), "events", 0, "  spaced key  ", "text",
                {{"bytes", std::string("\x00\xff ", 3)}, {"dup", "1"}, {"dup", "2"}, {"cl\xc3\xa9", "cl\xc3\xa9"},
                 {"h", std::nullopt}, {"h", ""}, {"traceparent", kTraceparent}});
  std::ofstream(dir.path() / "bytes.py") << "import json, os\n"
                                            "def f(event, context):\n"
                                            "    with open(os.environ['OUT'], 'w') as o:\n"
                                            "        json.dump({'key': list(context.key), 'headers': [[n, None if v is None else list(v)] for n, v in "
                                            "context.kafka_headers], 'dup': context.headers['x-kafka-header-dup'], "
                                            "'trace': context.headers.get('traceparent')}, o)\n";
  // The runner as a child, and inside the worker (handler type python).
  const auto out = [&](const std::string& name) { return (dir.path() / (name + ".json")).string(); };
  const std::string file = (dir.path() / "bytes.py").string();
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "bytes", .topic = "events", .workers = 1,
                           .handler = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", \"" + file +
                                      "\"]\n[lambda.handler.env]\nOUT = \"" + out("bytes") + "\"\n"},
                          {.name = "inworker", .topic = "events", .workers = 1,
                           .handler = "type = \"python\"\npath = \"" + file + "\"\n[lambda.handler.env]\nOUT = \"" + out("inworker") +
                                      "\"\n"}}),
           "run", python_env());
  const auto bytes = [](const std::string& s) {
    std::vector<int> b;
    for (const char c : s) b.push_back(static_cast<unsigned char>(c));
    return b;
  };
  for (const std::string name : {"bytes", "inworker"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + name, 1, 1); }, 60s)) << d.log();
    std::ifstream in(out(name));
    ASSERT_TRUE(in.good()) << "the function never ran\n" << d.log();
    const auto seen = nlohmann::json::parse(in);
    EXPECT_EQ(seen["key"].get<std::vector<int>>(), bytes("  spaced key  "));
    const nlohmann::json want = nlohmann::json::array({nlohmann::json::array({"bytes", bytes(std::string("\x00\xff ", 3))}),
                                                       nlohmann::json::array({"dup", bytes("1")}),
                                                       nlohmann::json::array({"dup", bytes("2")}),
                                                       nlohmann::json::array({"cl\xc3\xa9", bytes("cl\xc3\xa9")}),
                                                       nlohmann::json::array({"h", nullptr}),
                                                       nlohmann::json::array({"h", bytes("")}),
                                                       nlohmann::json::array({"traceparent", bytes(kTraceparent)})});
    EXPECT_EQ(seen["headers"], want);
    EXPECT_EQ(seen["dup"], "2") << "one value per name: the last, as in the json envelope and CloudEvents";
    EXPECT_EQ(seen["trace"], kTraceparent) << "the frame carries the record's trace context";
  }
  expect_clean_stop(d);
}

// A record with 20,000 Kafka headers made a request frame of ~500 KB, past the 64 KiB
// header block the protocol promises (a handler that relies on it, like frames.sh, then
// dies on every attempt). Now that record fails at once with the reason; the rest flows.
// A handler that listed `body-only` gets no header at all, so the same record is its
// like any other.
TEST_F(Exec, ARecordWithMoreHeadersThanAFrameCarriesFailsAloneWithTheReason) {
  constexpr std::uint64_t kCount = 100;
  DevBroker broker({"events:8", "events-dlq:1", "body-dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  {
    auto rk = kafka::make_client(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", broker.bootstrap()}}));
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(20'000);
    for (int i = 0; i < 20'000; ++i) {
      const std::string name = "h" + std::to_string(i);
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), "v", 1);
    }
    const std::string value = seq_value_prefix(kCount) + "many-headers";
    ASSERT_EQ(rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_flush(rk.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "sh", .topic = "events", .workers = 1,
                           .extra = "max_attempts = 3\nretry_backoff_ms = [10, 50]\non_failure = \"dead_letter\"\n"
                                    "dead_letter_topic = \"events-dlq\"\n",
                           .handler = "type = \"exec\"\ncommand = [\"" + kHandlers + "frames.sh\"]\n"},
                          {.name = "body", .topic = "events", .workers = 1,
                           .extra = "max_attempts = 3\nretry_backoff_ms = [10, 50]\non_failure = \"dead_letter\"\n"
                                    "dead_letter_topic = \"body-dlq\"\n",
                           .handler = "type = \"exec\"\ncommand = [\"" + kHandlers + "frames.sh\", \"--body-only\"]\n"}}));
  auto end = end_offsets(kCount, kPartitions);
  ++end[0];
  ASSERT_TRUE(wait_until([&] { return committed_or_empty(broker.bootstrap(), "lambda-sh") == end; }, 120s)) << d.log();
  ASSERT_TRUE(wait_until([&] { return committed_or_empty(broker.bootstrap(), "lambda-body") == end; }, 120s)) << d.log();
  EXPECT_EQ(count_of(d.log(), "header bytes for body-only"), 0U) << d.log();
  EXPECT_TRUE(read_topic(broker.bootstrap(), "body-dlq", 1, 1s).empty()) << "the body-only handler failed a record";
  const auto dlq = dead_letters(broker.bootstrap(), 1);
  ASSERT_EQ(dlq.size(), 1U) << d.log();
  const auto& h = dlq.begin()->second;
  EXPECT_EQ(dlq.begin()->first, std::make_pair(0, end[0] - 1));
  EXPECT_NE(h.at("sluice-error").find("more than the protocol's 65536 (the record has 20000 Kafka headers"),
            std::string::npos)
      << h.at("sluice-error");
  EXPECT_EQ(h.at("sluice-attempts"), "1");
  EXPECT_EQ(count_of(d.log(), "frames.sh: header block"), 0U) << "a handler saw the oversized frame";
  expect_clean_stop(d);
}

// A handler that ends before it is ready is a handler that cannot start: its worker
// exits, the supervisor backs off and finally marks the lambda failed; nothing commits,
// and the other lambda keeps running (which also keeps the daemon up: with every lambda
// failed it would exit by itself).
TEST_F(Exec, HandlerThatEndsBeforeItIsReadyFailsItsLambda) {
  constexpr std::uint64_t kCount = 100;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  const std::string cfg =
      with(daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "nope", .topic = "events", .workers = 1,
                           .handler = "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", \"" +
                                      (dir.path() / "missing.py").string() + "\"]\n"},
                          {.name = "good", .topic = "events", .workers = 1}}),
           "max_restarts = 100", "max_restarts = 100\nstart_attempts = 3");
  Daemon d(dir.path(), cfg, "run", python_env());
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda nope: cannot start: 3 start(s) in a row ended before the process was up") != std::string::npos; }, 60s))
      << d.log();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-good", kCount, kPartitions); },
                         120s))
      << d.log();
  const std::string log = d.log();
  EXPECT_NE(log.find("exited with status 1 before it was ready"), std::string::npos) << log;
  EXPECT_NE(log.find("missing.py"), std::string::npos) << "the handler's own error must reach the log\n" << log;
  // ... on lines of sluice's format that name the lambda and worker (it used to be the
  // program's raw stderr: no priority, no name).
  bool named = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[worker nope/0] handler: ") != std::string::npos && line.find("missing.py") != std::string::npos) {
      named = line.starts_with("<6>");
    }
  }
  EXPECT_TRUE(named) << log;
  EXPECT_EQ(committed_sum(broker.bootstrap(), "lambda-nope"), 0);
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
