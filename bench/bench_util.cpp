#include "bench_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kafka/kafka_handles.hpp"

extern char** environ;

namespace sluice::bench {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  }
  return "?";
}

kafka::KafkaPtr bench_producer(const std::string& bootstrap, const std::string& linger_ms) {
  return kafka::make_client(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", bootstrap},
                                                                       {"linger.ms", linger_ms},
                                                                       {"queue.buffering.max.messages", "1000000"},
                                                                       {"socket.nagle.disable", "true"},
                                                                       {"log_level", "3"}}));
}

void produce_one(rd_kafka_t* rk, const std::string& topic, int partition, const std::string& value) {
  while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                           RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_poll(rk, 10);
  }
}

}  // namespace

int listen_on_loopback(int type_flags, int backlog, int& port, const char* who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | type_flags, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::string(who) + ": cannot listen: " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(why);
  }
  port = ntohs(a.sin_port);
  return fd;
}

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

CountersFile::CountersFile(std::string path, std::uint64_t capacity) : path_(std::move(path)) {
  bytes_ = sluice_bench_file_bytes(capacity);
  const int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes_)) != 0) throw std::runtime_error("cannot make counters file " + path_);
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map counters file " + path_);
  c_ = static_cast<sluice_bench_counters*>(p);
  c_->capacity = capacity;
  c_->timeline = getenv("SLUICE_BENCH_KEEP") != nullptr ? 1 : 0;  // kept files are for looking at
}

CountersFile::~CountersFile() {
  munmap(c_, bytes_);
  if (getenv("SLUICE_BENCH_KEEP") == nullptr) unlink(path_.c_str());  // kept: a run's timeline to look at
}

bool CountersFile::seen(std::uint64_t seq) const {
  return (__atomic_load_n(&sluice_bench_seen(c_)[seq >> 6], __ATOMIC_RELAXED) & (1ULL << (seq & 63))) != 0;
}

std::uint64_t CountersFile::missing(std::uint64_t from, std::uint64_t to) const {
  std::uint64_t n = 0;
  for (std::uint64_t s = from; s < to; ++s) n += seen(s) ? 0 : 1;
  return n;
}

std::vector<std::uint64_t> CountersFile::latencies(std::uint64_t from, std::uint64_t to) const {
  const std::uint64_t* lat = sluice_bench_latency(c_);
  return {lat + from, lat + to};
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (out_file + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("spawn " + argv[0]);
  return pid;
}

Result finish(pid_t pid, const CountersFile& c, std::uint64_t expect, bool signal_stop, const std::string& what,
              int limit_s, const std::function<void()>& before_stop) {
  return finish(pid, std::vector<const CountersFile*>{&c}, expect, signal_stop, what, limit_s, before_stop);
}

Result finish(pid_t pid, const std::vector<const CountersFile*>& files, std::uint64_t expect, bool signal_stop,
              const std::string& what, int limit_s, const std::function<void()>& before_stop) {
  const auto count = [&] {
    std::uint64_t n = 0;
    for (const CountersFile* c : files) n += c->count();
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  while (count() < expect && std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) throw std::runtime_error(what + " ended before it handled everything");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const bool complete = count() >= expect;
  if (!complete) std::fprintf(stderr, "%s: only %" PRIu64 " of %" PRIu64 " handled in %d s\n", what.c_str(), count(), expect, limit_s);
  if (complete && before_stop) before_stop();
  if (signal_stop || !complete) kill(pid, SIGTERM);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  if (complete && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) throw std::runtime_error(what + " did not exit 0");
  std::uint64_t first = UINT64_MAX;
  std::uint64_t last = 0;
  std::uint64_t duplicates = 0;
  for (const CountersFile* c : files) {
    const sluice_bench_counters* k = c->get();
    if (k->malformed != 0) throw std::runtime_error(what + ": " + std::to_string(k->malformed) + " values without a benchmark prefix");
    if (k->count == 0) continue;
    first = std::min(first, k->first_ns);
    last = std::max(last, k->last_ns);
    duplicates += k->duplicates;
  }
  // Each file counts its own writer's duplicates; one seen in two files is one more.
  std::uint64_t missing = 0;
  for (std::uint64_t s = 0; s < expect; ++s) {
    std::uint64_t seen = 0;
    for (const CountersFile* c : files) seen += c->seen(s) ? 1 : 0;
    if (seen == 0) ++missing;
    if (seen > 1) duplicates += seen - 1;
  }
  const double secs = static_cast<double>(last - std::min(first, last)) / 1e9;
  const double cpu_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return {static_cast<double>(expect) / secs, cpu_us / static_cast<double>(expect), missing, duplicates};
}

std::string start_broker(const std::string& sluice_bin, const std::vector<std::string>& topics, const std::string& dir,
                         pid_t& pid) {
  const std::string out = dir + "/broker.out";
  std::vector<std::string> argv{sluice_bin, "dev-broker"};
  for (const auto& t : topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  pid = spawn(argv, out);
  std::string bootstrap;
  for (int i = 0; i < 200 && bootstrap.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    bootstrap = read_first_line(out);
  }
  if (bootstrap.empty()) throw std::runtime_error("dev broker did not start");
  return bootstrap;
}

void stop_process(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

std::string bench_value(std::uint64_t seq, std::uint64_t sent_ns, std::size_t bytes) {
  char prefix[SLUICE_BENCH_PREFIX_BYTES + 1];
  std::snprintf(prefix, sizeof prefix, "%016" PRIx64 "%016" PRIx64, seq, sent_ns);
  std::string v(prefix, SLUICE_BENCH_PREFIX_BYTES);
  if (bytes > v.size()) v.append(bytes - v.size(), 'v');
  return v;
}

void produce_values(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                    const std::function<std::string(std::uint64_t)>& value_of) {
  auto rk = bench_producer(bootstrap, "5");
  for (std::uint64_t i = 0; i < count; ++i) {
    produce_one(rk.get(), topic, static_cast<int>(i % static_cast<std::uint64_t>(partitions)), value_of(i));
  }
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(topic + ": flush timed out");
}

void produce_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
                     std::uint64_t count, std::size_t value_bytes) {
  // Partitioned by sequence number, not by position as produce_values() does: a backlog
  // produced after another (first > 0) continues its round robin.
  auto rk = bench_producer(bootstrap, "5");
  for (std::uint64_t s = first; s < first + count; ++s) {
    produce_one(rk.get(), topic, static_cast<int>(s % static_cast<std::uint64_t>(partitions)), bench_value(s, 0, value_bytes));
  }
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("backlog: flush timed out");
}

void produce_json_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                          bool numbered_kind0) {
  std::uint64_t kind0 = 0;
  std::uint64_t others = count;
  produce_values(bootstrap, topic, partitions, count, [&](std::uint64_t i) {
    const std::uint64_t kind = i % 10;
    const std::uint64_t id = !numbered_kind0 ? i : kind == 0 ? kind0++ : others++;
    std::string v = "{\"id\":\"" + bench_value(id, 0, SLUICE_BENCH_PREFIX_BYTES) + "\",\"kind\":" + std::to_string(kind) +
                    ",\"pad\":\"";
    v.append(v.size() < 98 ? 98 - v.size() : 0, 'v');
    v += "\"}";
    return v;
  });
}

double produce_paced(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
                     std::uint64_t count, std::size_t value_bytes, double rate) {
  auto rk = bench_producer(bootstrap, "1");  // 1 ms batching: tiny requests alone would overload the mock broker
  const std::uint64_t t0 = now_ns();
  std::uint64_t i = 0;
  while (i < count) {
    const std::uint64_t now = now_ns();
    // Everything due by now goes out in one go; then sleep until the next one is due.
    for (; i < count; ++i) {
      const auto due = t0 + static_cast<std::uint64_t>(static_cast<double>(i) * 1e9 / rate);
      if (due > now) break;
      const std::uint64_t s = first + i;
      produce_one(rk.get(), topic, static_cast<int>(s % static_cast<std::uint64_t>(partitions)), bench_value(s, due, value_bytes));
    }
    rd_kafka_poll(rk.get(), 0);
    if (i < count) {
      const auto due = t0 + static_cast<std::uint64_t>(static_cast<double>(i) * 1e9 / rate);
      timespec ts{static_cast<time_t>(due / 1'000'000'000ULL), static_cast<long>(due % 1'000'000'000ULL)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
  }
  const double achieved = static_cast<double>(count) / (static_cast<double>(now_ns() - t0) / 1e9);
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("paced: flush timed out");
  return achieved;
}

namespace {
std::uint64_t proc_kb(pid_t pid, const char* file, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with(key)) return std::stoull(line.substr(key.size()));
  }
  return 0;
}
}  // namespace

Memory memory_of(pid_t pid) { return {proc_kb(pid, "status", "VmRSS:"), proc_kb(pid, "smaps_rollup", "Pss:")}; }

std::uint64_t context_switches(pid_t pid) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream f(task.path() / "status");
    std::string line;
    while (std::getline(f, line)) {
      for (const std::string key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
        if (line.starts_with(key)) n += std::stoull(line.substr(key.size()));
      }
    }
  }
  for (pid_t child : children_of(pid)) n += context_switches(child);
  return n;
}

std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  pid_t p = 0;
  while (f >> p) out.push_back(p);
  return out;
}

std::string cmdline_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::replace(s.begin(), s.end(), '\0', ' ');
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double quantile(std::vector<std::uint64_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[i]);
}

std::string machine_line() {
  utsname u{};
  uname(&u);
  return "machine: " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, " + cpu_model() + ", kernel " +
         u.release + ", librdkafka " + rd_kafka_version_str();
}

}  // namespace sluice::bench
