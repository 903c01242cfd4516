// End-to-end throughput: sluice (no-op plugin handler) against a bare librdkafka
// consumer doing the same bookkeeping (store each message's offset, auto-commit), on
// one dev broker, interleaved runs, each contender in its own consumer group reading
// the same backlog. Throughput is timed from first to last message handled (group join
// takes seconds on the mock cluster and is not what is measured); CPU is everything the
// contender's process tree used, from wait4().
//
//   e2e_bench [--runs 3] [--messages 1000000] [--partitions 64] [--value-bytes 100] [--workers 1]
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "consumer/kafka_handles.hpp"

namespace {
namespace fs = std::filesystem;
using namespace sluice::bench;
using sluice::consumer::make_client;
using sluice::consumer::make_conf;

// librdkafka 2.0.2 stops fetching when its prefetch queue holds more than
// queued.min.messages and looks again only on a ~1 s broker-thread timer: one 64-partition
// fetch response (~140k small messages) trips the default 100000 and both contenders
// stall for a second at a time. Both get a limit one response cannot reach.
constexpr const char* kQueuedMin = "1000000";

// Bare consumer: the baseline. Exits when `expect` messages were consumed.
int run_bare(const std::string& bootstrap, const std::string& topic, const std::string& group, std::uint64_t expect,
             const std::string& stats_file) {
  int fd = open(stats_file.c_str(), O_RDWR);
  auto* c = static_cast<Counters*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  close(fd);
  auto rk = make_client(RD_KAFKA_CONSUMER, make_conf({{"bootstrap.servers", bootstrap},
                                                      {"group.id", group},
                                                      {"auto.offset.reset", "earliest"},
                                                      {"enable.auto.offset.store", "false"},
                                                      {"enable.auto.commit", "true"},
                                                      {"auto.commit.interval.ms", "1000"},
                                                      {"partition.assignment.strategy", "cooperative-sticky"},
                                                      {"fetch.wait.max.ms", "10"},
                                                      {"queued.min.messages", kQueuedMin},
                                                      {"session.timeout.ms", "6000"},
                                                      {"heartbeat.interval.ms", "500"},
                                                      {"log_level", "3"}}));
  rd_kafka_poll_set_consumer(rk.get());
  sluice::consumer::PartitionListPtr t(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(t.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk.get(), t.get());
  std::uint64_t n = 0;
  while (n < expect) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The same per-message work the no-op plugin does: a clock read and a count.
      const std::uint64_t t_ns = now_ns();
      if (n == 0) c->first_ns.store(t_ns);
      c->last_ns.store(t_ns);
      rd_kafka_offset_store(m->rkt, m->partition, m->offset);
      c->count.store(++n, std::memory_order_relaxed);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_commit(rk.get(), nullptr, 0);
  rd_kafka_consumer_close(rk.get());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (!a.empty() && a[0] == "bare") return run_bare(a.at(1), a.at(2), a.at(3), std::stoull(a.at(4)), a.at(5));

  int runs = 3;
  std::uint64_t messages = 1'000'000;
  int partitions = 64;
  std::size_t value_bytes = 100;
  int workers = 1;
  for (std::size_t i = 0; i + 1 < a.size(); i += 2) {
    if (a[i] == "--runs") runs = std::stoi(a[i + 1]);
    if (a[i] == "--messages") messages = std::stoull(a[i + 1]);
    if (a[i] == "--partitions") partitions = std::stoi(a[i + 1]);
    if (a[i] == "--value-bytes") value_bytes = std::stoull(a[i + 1]);
    if (a[i] == "--workers") workers = std::stoi(a[i + 1]);
  }
  const fs::path dir = fs::temp_directory_path() / ("sluice-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string self = fs::read_symlink("/proc/self/exe").string();

  pid_t broker = -1;
  const std::string bootstrap = start_broker(SLUICE_BIN, {"bench:" + std::to_string(partitions)}, dir.string(), broker);

  produce_backlog(bootstrap, "bench", partitions, messages, value_bytes);  // what every contender reads

  std::vector<double> bare_tp, bare_cpu, sl_tp, sl_cpu;
  for (int r = 0; r < runs; ++r) {
    {
      const std::string stats = (dir / ("bare" + std::to_string(r))).string();
      Counters* c = fresh_counters(stats);
      const pid_t pid = spawn({self, "bare", bootstrap, "bench", "bare-" + std::to_string(r), std::to_string(messages), stats},
                              stats + ".out");
      const Result res = finish(pid, c, messages, false, "bare consumer");
      bare_tp.push_back(res.msgs_per_s);
      bare_cpu.push_back(res.cpu_us_per_msg);
      std::printf("run %d bare   %10.0f msg/s  %6.2f CPU us/msg\n", r, res.msgs_per_s, res.cpu_us_per_msg);
      release_counters(c);
    }
    {
      const std::string stats = (dir / ("sluice" + std::to_string(r))).string();
      Counters* c = fresh_counters(stats);
      const std::string cfg = stats + ".toml";
      std::ofstream(cfg) << "instance = \"bench" << getpid() << "r" << r << "\"\nruntime_dir = \"" << dir.string()
                         << "/run\"\n[kafka]\nbootstrap_servers = \"" << bootstrap
                         << "\"\n[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\"session.timeout.ms\" = \"6000\"\n"
                            "\"heartbeat.interval.ms\" = \"500\"\n\"queued.min.messages\" = \"" << kQueuedMin << "\"\n[[lambda]]\nname = \"noop\"\ntopics = [\"bench\"]\n"
                            "group_id = \"sluice-"
                         << r << "\"\nworkers = " << workers << "\n[lambda.handler]\ntype = \"plugin\"\npath = \""
                         << NOOP_PLUGIN << "\"\noptions = { stats_file = \"" << stats << "\" }\n";
      const pid_t pid = spawn({SLUICE_BIN, "run", "-c", cfg}, stats + ".out");
      const Result res = finish(pid, c, messages, true, "sluice");
      sl_tp.push_back(res.msgs_per_s);
      sl_cpu.push_back(res.cpu_us_per_msg);
      std::printf("run %d sluice %10.0f msg/s  %6.2f CPU us/msg\n", r, res.msgs_per_s, res.cpu_us_per_msg);
      release_counters(c);
    }
    std::fflush(stdout);
  }
  stop_process(broker);
  if (getenv("SLUICE_BENCH_KEEP") == nullptr) fs::remove_all(dir);

  std::printf("\n%s\n", machine_line().c_str());
  std::printf("setup: %llu messages of %zu bytes, %d partitions, fetch.wait.max.ms=10, queued.min.messages=%s, %d run(s) each, interleaved, "
              "sluice with %d no-op plugin worker(s)\n",
              static_cast<unsigned long long>(messages), value_bytes, partitions, kQueuedMin, runs, workers);
  std::printf("| contender | median msg/s | median CPU us/msg |\n|---|---|---|\n");
  std::printf("| bare librdkafka consumer | %.0f | %.2f |\n", median(bare_tp), median(bare_cpu));
  std::printf("| sluice | %.0f | %.2f |\n", median(sl_tp), median(sl_cpu));
  std::printf("ratio sluice/bare throughput: %.3f; CPU added per message: %.2f us\n", median(sl_tp) / median(bare_tp),
              median(sl_cpu) - median(bare_cpu));
  return 0;
}
