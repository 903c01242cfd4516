// Messages per second through ONE worker, per handler kind, in one run: a no-op C
// plugin; an http handler POSTing to a local keep-alive server (cpp-httplib in this
// process) with the default max_concurrency ("http") and with one request at a time
// ("http1"); an endpoint answering each request after --latency-ms (one epoll thread,
// bench/delayed_endpoint.cpp) with ordering "none" and max_concurrency 64 ("http-slow"),
// and with the defaults (ordering "partition", max_concurrency 16: at most one request
// per partition, 8 partitions, "http-slow-partition"); with ordering "none" and
// max_concurrency 64 against the epoll endpoint answering at once ("http-none") and
// against an HTTP/2 endpoint over TLS (bench/h2_endpoint.cpp) with nghttp2's rapid-reset
// limit lifted ("http2") and on, libnghttp2's default ("http2-resets");
// an exec handler running a Python `def f(event)` through sluice_handler ("exec");
// and, on JSON values with format json, the same f under sluice with one worker
// ("python") and one worker per core ("python-cores") next to the loop a Python user
// would write by hand with confluent-kafka-python (bench/peers.py confluent-json,
// "python-loop"), which runs f in-process, and f as handler type "python" (the runner
// inside the worker: "python-inproc", "python-inproc-cores"). Interleaved runs, each in its own consumer
// group, timed from the first to the last message handled; exactly the expected count
// must arrive.
//
//   handler_bench [--runs 3] [--plugin-messages 200000] [--messages 20000] [--python-messages 200000]
//                 [--value-bytes 100]
//                 [--kinds plugin,http,http1,http-slow,http-slow-partition,http-none,http2,http2-resets,exec,python,
//                          python-cores,python-loop,python-inproc,python-inproc-cores]
//                 [--latency-ms 10]
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "delayed_endpoint.hpp"
#include "h2_endpoint.hpp"

namespace {
namespace fs = std::filesystem;
using namespace sluice::bench;

constexpr int kPartitions = 8;
const std::vector<std::string> kKinds = {"plugin",        "http",          "http1",       "http-slow",    "http-slow-partition",
                                         "http-none",     "http2",         "http2-resets", "exec",        "python",
                                         "python-cores",  "python-loop",   "python-inproc", "python-inproc-cores"};

bool is_python(const std::string& kind) { return kind.starts_with("python"); }
const char* topic_of(const std::string& kind) { return kind == "plugin" ? "fast" : is_python(kind) ? "json" : "slow"; }

// The http contenders' endpoint: counts requests into whichever Counters is current.
class CountingServer {
 public:
  CountingServer() {
    server_.set_keep_alive_max_count(1 << 30);  // connections are kept
    server_.set_tcp_nodelay(true);
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      if (sluice_bench_counters* c = current_.load()) {
        const std::uint64_t now = now_ns();
        sluice_bench_mark(c, req.body.data(), req.body.size(), now);
        sluice_bench_stamp(c, now);
      }
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~CountingServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void count_into(sluice_bench_counters* c) { current_.store(c); }

 private:
  httplib::Server server_;
  std::atomic<sluice_bench_counters*> current_{nullptr};
  int port_ = 0;
  std::thread thread_;
};

// The kinds that may overlap any records: ordering "none".
bool unordered(const std::string& kind) { return kind == "http-slow" || kind == "http-none" || kind.starts_with("http2"); }

std::string handler_toml(const std::string& kind, const std::string& stats, int http_port, int slow_port, int instant_port,
                         const H2Endpoint* h2) {
  const std::string per_worker = kind.ends_with("-cores") ? ", STATS_PER_WORKER = \"1\"" : "";
  if (kind == "plugin") {
    return "type = \"plugin\"\npath = \"" NOOP_PLUGIN "\"\noptions = { stats_file = \"" + stats + "\" }\n";
  }
  const std::string url = "url = \"http://127.0.0.1:" + std::to_string(http_port);
  if (kind == "http") return "type = \"http\"\n" + url + "/\"\n";
  if (kind == "http1") return "type = \"http\"\n" + url + "/\"\nmax_concurrency = 1\n";
  if (kind == "http-none") {
    return "type = \"http\"\nurl = \"http://127.0.0.1:" + std::to_string(instant_port) + "/\"\nmax_concurrency = 64\n";
  }
  if (kind.starts_with("http2")) {
    return "type = \"http\"\nurl = \"https://127.0.0.1:" + std::to_string(h2->port()) + "/\"\nca_file = \"" + h2->cert() +
           "\"\nmax_concurrency = 64\nhttp_version = \"2\"\n";
  }
  if (kind == "http-slow") {
    return "type = \"http\"\nurl = \"http://127.0.0.1:" + std::to_string(slow_port) + "/\"\nmax_concurrency = 64\n";
  }
  if (kind == "http-slow-partition") return "type = \"http\"\nurl = \"http://127.0.0.1:" + std::to_string(slow_port) + "/\"\n";
  // The same f and environment whether the runner is a child (exec) or in the worker.
  const std::string env =
      "env = { STATS_FILE = \"" + stats + "\"" + per_worker + ", PYTHONPATH = \"" SLUICE_SOURCE_DIR "/worker/python\" }\n";
  if (kind.starts_with("python-inproc")) return "type = \"python\"\npath = \"" SLUICE_SOURCE_DIR "/bench/count_handler.py\"\n" + env;
  return "type = \"exec\"\ncommand = [\"/usr/bin/python3\", \"-m\", \"sluice_handler\", \"" SLUICE_SOURCE_DIR
         "/bench/count_handler.py\"]\n" + env;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (std::ranges::find(kKinds, item) == kKinds.end()) throw std::runtime_error("--kinds: no handler kind " + item);
    out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  int runs = 3;
  std::uint64_t plugin_messages = 200'000;
  std::uint64_t messages = 20'000;
  // The loop runs at ~300 k msg/s: 20,000 would be 0.07 s. Not much more than 200,000: the
  // dev broker keeps a bounded log per partition (at 400,000 of these it had dropped the
  // first ~4,000 of each of the 8, which sluice then rightly started after).
  std::uint64_t python_messages = 200'000;
  std::size_t value_bytes = 100;
  std::vector<std::string> kinds = kKinds;  // --kinds http,exec: only those
  int latency_ms = 10;
  for (std::size_t i = 0; i + 1 < a.size(); i += 2) {
    if (a[i] == "--runs") runs = std::stoi(a[i + 1]);
    if (a[i] == "--plugin-messages") plugin_messages = std::stoull(a[i + 1]);
    if (a[i] == "--messages") messages = std::stoull(a[i + 1]);
    if (a[i] == "--python-messages") python_messages = std::stoull(a[i + 1]);
    if (a[i] == "--value-bytes") value_bytes = std::stoull(a[i + 1]);
    if (a[i] == "--kinds") kinds = split_list(a[i + 1]);
    if (a[i] == "--latency-ms") latency_ms = std::stoi(a[i + 1]);
  }
  const fs::path dir = fs::temp_directory_path() / ("sluice-handler-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  pid_t broker = -1;
  const std::string p = std::to_string(kPartitions);
  const std::string bootstrap = start_broker(SLUICE_BIN, {"fast:" + p, "slow:" + p, "json:" + p}, dir.string(), broker);
  if (std::ranges::any_of(kinds, is_python)) produce_json_backlog(bootstrap, "json", kPartitions, python_messages, false);
  if (std::ranges::find(kinds, "plugin") != kinds.end()) produce_backlog(bootstrap, "fast", kPartitions, 0, plugin_messages, value_bytes);
  produce_backlog(bootstrap, "slow", kPartitions, 0, messages, value_bytes);
  CountingServer server;
  DelayedEndpoint slow(latency_ms);
  DelayedEndpoint instant(0);
  // Made only when asked for: each makes a certificate with openssl.
  std::unique_ptr<H2Endpoint> h2;
  std::unique_ptr<H2Endpoint> h2_resets;
  if (std::ranges::find(kinds, "http2") != kinds.end()) h2 = std::make_unique<H2Endpoint>(dir / "h2", false);
  if (std::ranges::find(kinds, "http2-resets") != kinds.end()) h2_resets = std::make_unique<H2Endpoint>(dir / "h2-resets", true);

  std::map<std::string, std::vector<double>> tp, cpu;
  bool failed = false;
  for (int r = 0; r < runs; ++r) {
    for (const auto& kind : kinds) {
      const std::string stats = (dir / (kind + std::to_string(r))).string();
      const std::uint64_t expect = kind == "plugin" ? plugin_messages : is_python(kind) ? python_messages : messages;
      CountersFile c(stats + ".counters", expect);
      const bool per_core = kind.ends_with("-cores");
      const unsigned workers = per_core ? std::max(1u, std::thread::hardware_concurrency()) : 1;
      std::vector<std::unique_ptr<CountersFile>> per_worker;  // python-cores: one file per worker's child
      std::vector<const CountersFile*> files{&c};
      if (per_core) {
        files.clear();
        for (unsigned w = 0; w < workers; ++w) {
          files.push_back(per_worker.emplace_back(std::make_unique<CountersFile>(c.path() + "." + std::to_string(w), expect)).get());
        }
      }
      server.count_into(kind == "http" || kind == "http1" ? c.get() : nullptr);
      slow.count_into(kind.starts_with("http-slow") ? c.get() : nullptr);
      instant.count_into(kind == "http-none" ? c.get() : nullptr);
      H2Endpoint* endpoint = kind == "http2" ? h2.get() : kind == "http2-resets" ? h2_resets.get() : nullptr;
      if (endpoint != nullptr) endpoint->count_into(c.get());
      const std::uint64_t connections_before = endpoint != nullptr ? endpoint->connections() : 0;
      const std::uint64_t goaways_before = endpoint != nullptr ? endpoint->goaways() : 0;
      const std::string group = kind + "-" + std::to_string(r);
      std::ofstream(stats + ".toml")
          << "instance = \"hb" << getpid() << kind << r << "\"\nruntime_dir = \"" << dir.string()
          << "/run\"\n[kafka]\nbootstrap_servers = \"" << bootstrap
          << "\"\n[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\"session.timeout.ms\" = \"6000\"\n"
             "\"heartbeat.interval.ms\" = \"500\"\n[[lambda]]\nname = \""
          << kind << "\"\ntopics = [\"" << topic_of(kind) << "\"]\ngroup_id = \"" << group << "\"\nworkers = " << workers
          << "\n" << (unordered(kind) ? "ordering = \"none\"\n" : "") << (is_python(kind) ? "format = \"json\"\n" : "")
          << "[lambda.handler]\n" << handler_toml(kind, c.path(), server.port(), slow.port(), instant.port(), endpoint);
      const pid_t pid =
          kind == "python-loop"
              ? spawn({"/usr/bin/python3", SLUICE_SOURCE_DIR "/bench/peers.py", "confluent-json", bootstrap, "json", group, c.path()},
                      stats + ".out")
              : spawn({SLUICE_BIN, "run", "-c", stats + ".toml"}, stats + ".out");
      const Result res = finish(pid, files, expect, true, kind);
      server.count_into(nullptr);
      slow.count_into(nullptr);
      instant.count_into(nullptr);
      if (endpoint != nullptr) endpoint->count_into(nullptr);
      tp[kind].push_back(res.msgs_per_s);
      cpu[kind].push_back(res.cpu_us_per_msg);
      std::printf("run %d %-6s %10.0f msg/s  %8.2f CPU us/msg  missing %llu duplicates %llu\n", r, kind.c_str(), res.msgs_per_s,
                  res.cpu_us_per_msg, static_cast<unsigned long long>(res.missing), static_cast<unsigned long long>(res.duplicates));
      if (endpoint != nullptr) {
        // Duplicates are expected here when the endpoint ends connections: the requests
        // in flight then go again (at-least-once), so they do not fail the run.
        std::printf("      %s: %llu connections, %llu ended by the endpoint (GOAWAY)\n", kind.c_str(),
                    static_cast<unsigned long long>(endpoint->connections() - connections_before),
                    static_cast<unsigned long long>(endpoint->goaways() - goaways_before));
      }
      std::fflush(stdout);
      if (res.missing != 0 || (res.duplicates != 0 && kind != "http2-resets")) failed = true;
    }
  }
  stop_process(broker);
  if (getenv("SLUICE_BENCH_KEEP") == nullptr) fs::remove_all(dir);

  std::printf("\n%s\n", machine_line().c_str());
  std::printf("setup: one worker per lambda (*-cores: one per core), format raw (python kinds: json, ~100-byte JSON values), %zu-byte values, %d partitions; plugin %llu messages, http and exec "
              "%llu each, python kinds %llu; %d interleaved run(s)\n",
              value_bytes, kPartitions, static_cast<unsigned long long>(plugin_messages),
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(python_messages), runs);
  std::printf("| handler | median msg/s per worker | median CPU us/msg (sluice's processes%s) |\n|---|---|---|\n",
              ", with the Python child for exec; the http server's own CPU is not counted");
  const std::map<std::string, std::string> label = {
      {"plugin", "plugin (no-op C, bench/noop_plugin.c)"},
      {"http", "http (local cpp-httplib keep-alive server, default max_concurrency 16)"},
      {"http1", "http, max_concurrency 1 (one request at a time)"},
      {"http-slow", "http, epoll endpoint answering after " + std::to_string(latency_ms) + " ms, ordering none, max_concurrency 64"},
      {"http-slow-partition", "http, the same endpoint, defaults: ordering partition (8 partitions), max_concurrency 16"},
      {"http-none", "http, the epoll endpoint answering at once, ordering none, max_concurrency 64 (HTTP/1.1, cleartext)"},
      {"http2", "http, HTTP/2 over TLS (bench/h2_endpoint.cpp, rapid-reset limit lifted), ordering none, max_concurrency 64"},
      {"http2-resets", "http, the same endpoint with nghttp2's rapid-reset limit on (the library's default)"},
      {"exec", "exec (Python def f(event), bench/count_handler.py)"},
      {"python", "exec, format json, Python def f(event), 1 worker"},
      {"python-cores", "exec, format json, Python def f(event), one worker per core"},
      {"python-inproc", "python (the runner inside the worker), format json, def f(event), 1 worker"},
      {"python-inproc-cores", "python (the runner inside the worker), format json, def f(event), one worker per core"},
      {"python-loop", "hand-written confluent-kafka-python loop: consume(1000), json.loads, the same f, store_offsets (not sluice)"}};
  for (const auto& kind : kinds) {
    std::printf("| %s | %.0f | %.2f |\n", label.at(kind).c_str(), median(tp[kind]), median(cpu[kind]));
  }
  // Ratios within each run (interleaved, so they share the machine's state), then the median.
  for (const char* ours : {"python", "python-cores", "python-inproc", "python-inproc-cores"}) {
    if (!tp.contains(ours) || !tp.contains("python-loop")) continue;
    std::vector<double> ratios;
    for (std::size_t r = 0; r < tp[ours].size(); ++r) ratios.push_back(tp[ours][r] / tp["python-loop"][r]);
    std::printf("%s / python-loop: median %.2fx of %zu runs\n", ours, median(ratios), ratios.size());
  }
  return failed ? 1 : 0;
}
