#include "contenders.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kafka/kafka_handles.hpp"

extern char** environ;

namespace sluice::bench {
namespace {
namespace fs = std::filesystem;

volatile sig_atomic_t g_stop = 0;

// SLUICE_BENCH_KAFKA_DEBUG=fetch,topic puts librdkafka's debug contexts into sluice's log.
std::string kafka_debug() {
  const char* d = getenv("SLUICE_BENCH_KAFKA_DEBUG");
  return d == nullptr ? "" : std::string("\"debug\" = \"") + d + "\"\n";
}

std::string sluice_config(const Job& job) {
  const std::string base = job.work_dir + "/" + job.group;
  std::ofstream(base + ".toml") << "instance = \"" << job.group << "\"\nruntime_dir = \"" << job.work_dir
                                << "/run\"\nadmin_listen = \"127.0.0.1:0\"\n[kafka]\nbootstrap_servers = \"" << job.bootstrap
                                << "\"\n[kafka.properties]\n\"fetch.wait.max.ms\" = \"" << job.fetch_wait_ms
                                << "\"\n\"session.timeout.ms\" = \"6000\"\n"
                                   "\"heartbeat.interval.ms\" = \"500\"\n\"socket.nagle.disable\" = \"true\"\n\"fetch.error.backoff.ms\" = \""
                                << job.fetch_backoff_ms << "\"\n\"queued.min.messages\" = \""
                                << kQueuedMin << "\"\n" << kafka_debug() << "[[lambda]]\nname = \"bench\"\ntopics = [\"" << job.topic
                                << "\"]\ngroup_id = \"" << job.group << "\"\nworkers = " << job.workers
                                << "\n[lambda.handler]\ntype = \"plugin\"\npath = \"" << NOOP_PLUGIN
                                << "\"\noptions = { stats_file = \"" << job.counters->path() << "\", spin_ns = \""
                                << job.spin_ns << "\", prefix_at = \"" << job.prefix_at << "\" }\n"
                                << job.lambda_extra;
  return base + ".toml";
}

// kcat prints each value on a line; a thread here reads them into the counters, so
// kcat's own CPU (from wait4) is all that is charged to it. Its stdout is block-buffered
// (unbuffered would cost it a write per record), so the last lines arrive only when it
// exits: -e ends it once every partition is at its end.
Started start_kcat(const Job& job) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  const std::vector<std::string> argv = {"kcat", "-q", "-e", "-b", job.bootstrap, "-G", job.group, "-f", "%s\\n",
                                         "-X", "auto.offset.reset=earliest", "-X", "fetch.wait.max.ms=" + job.fetch_wait_ms,
                                         "-X", "fetch.error.backoff.ms=" + job.fetch_backoff_ms, "-X", "socket.nagle.disable=true",
                                         "-X", std::string("queued.min.messages=") + kQueuedMin,
                                         "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", job.topic};
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  const std::string err = job.work_dir + "/" + job.group + ".err";
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "kcat", &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) throw std::runtime_error("cannot start kcat");
  const int rd = fds[0];
  sluice_bench_counters* c = job.counters->get();
  auto reader = std::make_shared<std::thread>([rd, c] {
    std::vector<char> buf(1 << 20);
    std::string line;
    for (;;) {
      const ssize_t n = read(rd, buf.data(), buf.size());
      if (n <= 0) break;
      const std::uint64_t now = now_ns();
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[static_cast<std::size_t>(i)] != '\n') {
          line.push_back(buf[static_cast<std::size_t>(i)]);
          continue;
        }
        sluice_bench_mark(c, line.data(), line.size(), now);
        line.clear();
      }
      sluice_bench_stamp(c, now);
    }
    close(rd);
  });
  return {pid, false, [reader] { reader->join(); }};
}

// SLUICE_BENCH_WRAP="valgrind --tool=callgrind ..." runs bare and sluice under that
// command (words split at spaces), for instruction counts that do not vary with the
// machine's load.
std::vector<std::string> wrapped(std::vector<std::string> argv) {
  const char* w = getenv("SLUICE_BENCH_WRAP");
  if (w == nullptr) return argv;
  std::vector<std::string> out;
  std::istringstream words(w);
  for (std::string word; words >> word;) out.push_back(word);
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace

Started start_contender(const std::string& kind, const Job& job) {
  const std::string out = job.work_dir + "/" + job.group + ".out";
  if (kind == "bare") {
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    return {spawn(wrapped({self, "bare", job.bootstrap, job.topic, job.group, job.counters->path(), job.fetch_wait_ms,
                           job.fetch_backoff_ms}),
                  out),
            true,
            {}};
  }
  if (kind == "sluice") return {spawn(wrapped({SLUICE_BIN, "run", "-c", sluice_config(job)}), out), true, {}};
  if (kind == "kcat") return start_kcat(job);
  if (kind == "confluent" || kind == "kafka-python") {
    return {spawn({"/usr/bin/python3", SLUICE_SOURCE_DIR "/bench/peers.py", kind, job.bootstrap, job.topic, job.group,
                   job.counters->path()},
                  out),
            true,
            {}};
  }
  throw std::runtime_error("unknown contender " + kind);
}

int run_bare(const std::vector<std::string>& args) {
  const std::string& bootstrap = args.at(0);
  const std::string& topic = args.at(1);
  const std::string& group = args.at(2);
  const std::string& counters_file = args.at(3);
  const int fd = open(counters_file.c_str(), O_RDWR);
  struct stat st {};
  fstat(fd, &st);
  auto* c = static_cast<sluice_bench_counters*>(
      mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  close(fd);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  using kafka::make_client;
  using kafka::make_conf;
  auto rk = make_client(RD_KAFKA_CONSUMER, make_conf({{"bootstrap.servers", bootstrap},
                                                      {"group.id", group},
                                                      {"auto.offset.reset", "earliest"},
                                                      {"enable.auto.offset.store", "false"},
                                                      {"enable.auto.commit", "true"},
                                                      {"auto.commit.interval.ms", "1000"},
                                                      {"partition.assignment.strategy", "cooperative-sticky"},
                                                      {"fetch.wait.max.ms", args.at(4)},
                                                      {"queued.min.messages", kQueuedMin},
                                                      {"session.timeout.ms", "6000"},
                                                      {"heartbeat.interval.ms", "500"},
                                                      {"socket.nagle.disable", "true"},
                                                      {"fetch.error.backoff.ms", args.at(5)},
                                                      {"log_level", "3"}}));
  rd_kafka_poll_set_consumer(rk.get());
  kafka::PartitionListPtr t(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(t.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk.get(), t.get());
  while (g_stop == 0) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The no-op lambda's work (a clock read and a report), then sluice's bookkeeping:
      // store the offset once the record is done.
      const std::uint64_t now = now_ns();
      sluice_bench_mark(c, m->payload, m->len, now);
      sluice_bench_stamp(c, now);
      rd_kafka_offset_store(m->rkt, m->partition, m->offset);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_commit(rk.get(), nullptr, 0);
  rd_kafka_consumer_close(rk.get());
  return 0;
}

SluiceRss sluice_rss(pid_t supervisor) {
  SluiceRss r;
  r.supervisor = memory_of(supervisor);
  for (pid_t child : children_of(supervisor)) {
    const std::string cmd = cmdline_of(child);
    const Memory m = memory_of(child);
    if (cmd.find(" consumer ") != std::string::npos || cmd.find("--role consumer") != std::string::npos) {
      if (m.rss_kb > r.consumer.rss_kb) r.consumer = m;
    } else {
      if (m.rss_kb > r.worker.rss_kb) r.worker = m;
    }
  }
  return r;
}

}  // namespace sluice::bench
