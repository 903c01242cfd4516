#include "bench_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "consumer/kafka_handles.hpp"

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

}  // namespace

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

Counters* fresh_counters(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, 4096) != 0) throw std::runtime_error("cannot make counters file " + path);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map counters file " + path);
  return static_cast<Counters*>(p);
}

void release_counters(Counters* c) { munmap(c, 4096); }

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (out_file + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("spawn " + argv[0]);
  return pid;
}

Result finish(pid_t pid, Counters* c, std::uint64_t expect, bool signal_stop, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (c->count.load() < expect) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      throw std::runtime_error(what + ": only " + std::to_string(c->count.load()) + " of " + std::to_string(expect) +
                               " messages handled in 5 minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (signal_stop) kill(pid, SIGTERM);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(what + " did not exit 0");
  const double secs = static_cast<double>(c->last_ns.load() - c->first_ns.load()) / 1e9;
  const double cpu_us = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  if (c->count.load() != expect) {
    throw std::runtime_error(what + " handled " + std::to_string(c->count.load()) + " messages, expected " +
                             std::to_string(expect) + " (duplicates or loss)");
  }
  return {static_cast<double>(expect) / secs, cpu_us / static_cast<double>(expect)};
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

void produce_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                     std::size_t value_bytes) {
  using consumer::make_client;
  using consumer::make_conf;
  auto rk = make_client(RD_KAFKA_PRODUCER, make_conf({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}, {"log_level", "3"}}));
  std::string value(value_bytes, 'v');
  for (std::uint64_t s = 0; s < count; ++s) {
    while (rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_PARTITION(static_cast<int32_t>(s % static_cast<std::uint64_t>(partitions))),
                             RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk.get(), 10);
    }
  }
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("backlog: flush timed out");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string machine_line() {
  utsname u{};
  uname(&u);
  return "machine: " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, " + cpu_model() + ", kernel " +
         u.release + ", librdkafka " + rd_kafka_version_str();
}

}  // namespace sluice::bench
