#include "harness.hpp"

#include <httplib.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/env.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/pipe.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "kafka/group_offsets.hpp"
#include "kafka/kafka_handles.hpp"

extern char** environ;

namespace sluice::test {
namespace bp = boost::process;

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TempDir::TempDir() {
  static int counter = 0;
  path_ = fs::temp_directory_path() / ("sluice-it-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  if (std::getenv("SLUICE_TEST_KEEP") != nullptr) return;  // keep logs for debugging
  std::error_code ec;
  fs::remove_all(path_, ec);
}

DevBroker::DevBroker(const std::vector<std::string>& topics, int brokers) {
  std::vector<std::string> args{"dev-broker", "--brokers", std::to_string(brokers)};
  for (const auto& t : topics) {
    args.push_back("--topic");
    args.push_back(t);
  }
  child_ = bp::child(bp::exe = SLUICE_BIN, bp::args = args, bp::std_in < in_, bp::std_out > out_, bp::std_err > bp::null);
  if (!std::getline(out_, bootstrap_) || bootstrap_.empty()) {
    throw std::runtime_error("sluice dev-broker printed no bootstrap list");
  }
}

DevBroker::~DevBroker() {
  std::error_code ec;
  if (child_.running(ec)) {
    ::kill(child_.id(), SIGTERM);
    child_.wait(ec);
  }
}

std::string DevBroker::control(const std::string& line) {
  in_ << line << std::endl;
  std::string reply;
  if (!std::getline(out_, reply)) throw std::runtime_error("dev broker closed its control channel");
  return reply;
}

std::string seq_value_prefix(std::uint64_t seq) { return "s" + std::to_string(seq) + "-"; }

void produce(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
             std::uint64_t count, std::size_t value_bytes, int keys, std::uint64_t big_seq, std::size_t big_bytes,
             const std::function<std::string(std::uint64_t)>& value_of,
             const std::function<std::int64_t(std::uint64_t)>& timestamp_ms_of) {
  auto rk = kafka::make_client(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", bootstrap},
                                                                        {"linger.ms", "5"},
                                                                        {"acks", "all"},
                                                                        {"log_level", "3"}}));
  for (std::uint64_t s = first; s < first + count; ++s) {
    std::string value = value_of ? value_of(s) : seq_value_prefix(s);
    const std::size_t want = s == big_seq ? big_bytes : value_bytes;
    if (!value_of && value.size() < want) value.append(want - value.size(), 'x');
    const std::string key = "k" + std::to_string(s % static_cast<std::uint64_t>(keys));
    const std::string seq = std::to_string(s);
    const std::int64_t timestamp_ms = timestamp_ms_of ? timestamp_ms_of(s) : 0;  // 0: librdkafka's clock
    for (;;) {
      const auto err = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(static_cast<int32_t>(s % partitions)),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_HEADER("seq", seq.data(), static_cast<ssize_t>(seq.size())), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
      rd_kafka_poll(rk.get(), 10);
    }
    rd_kafka_poll(rk.get(), 0);
  }
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("produce: flush timed out");
}

std::string asan_options_with(const std::string& option) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return (asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : "") + option;
}

std::map<std::string, std::string> segv_kills_env() { return {{"ASAN_OPTIONS", asan_options_with("handle_segv=0")}}; }

kafka::KafkaPtr group_member(const std::string& bootstrap, const std::string& group, const std::string& topic,
                             std::atomic<int>* sync_refusals) {
  std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                           {"group.id", group},
                                           {"enable.auto.commit", "false"},
                                           {"partition.assignment.strategy", "cooperative-sticky"},
                                           {"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "500"},
                                           {"fetch.wait.max.ms", "10"},
                                           {"log_level", "3"}};
  if (sync_refusals != nullptr) {
    // The SyncGroup answer is only in librdkafka's group debug lines.
    props["debug"] = "cgrp";
    props["log_level"] = "7";
  }
  kafka::ConfPtr conf = kafka::make_conf(props);
  if (sync_refusals != nullptr) {
    rd_kafka_conf_set_opaque(conf.get(), sync_refusals);
    rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t* rk, int, const char*, const char* text) {
      constexpr std::string_view kAnswer = "SyncGroup response: ";
      const std::string_view line(text);
      if (const auto at = line.find(kAnswer); at != std::string_view::npos && !line.substr(at + kAnswer.size()).starts_with("Success")) {
        static_cast<std::atomic<int>*>(rd_kafka_opaque(rk))->fetch_add(1);
      }
    });
  }
  auto rk = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk.get());
  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk.get(), topics.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("subscribe failed");
  return rk;
}

std::uint64_t seq_of(const std::string& value) { return std::stoull(value.substr(1, value.find('-') - 1)); }

std::pair<int, std::int64_t> where(std::uint64_t seq, int partitions) {
  const auto p = static_cast<std::uint64_t>(partitions);
  return {static_cast<int>(seq % p), static_cast<std::int64_t>(seq / p)};
}

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::invalid_argument("no \"" + from + "\" to replace");
  return text.replace(at, from.size(), to);
}

LoadProducer::LoadProducer(std::string bootstrap, Shape shape)
    : bootstrap_(std::move(bootstrap)), shape_(std::move(shape)), produced_(shape_.first_seq), thread_([this] {
        try {
          while (!stop_.load()) {
            produce(bootstrap_, shape_.topic, shape_.partitions, produced_.load(), shape_.per_batch, shape_.value_bytes);
            produced_.fetch_add(shape_.per_batch);
            std::this_thread::sleep_for(shape_.every);
          }
        } catch (const std::exception& e) {
          error_ = e.what();  // read after join
        }
      }) {}

LoadProducer::~LoadProducer() { finish(); }

std::uint64_t LoadProducer::finish() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  return produced_.load();
}

bool soak() {
  const char* v = std::getenv("SLUICE_SOAK");
  return v != nullptr && std::string(v) == "1";
}

std::string daemon_config(const std::string& instance, const fs::path& dir, const std::string& bootstrap,
                          const std::vector<LambdaSpec>& lambdas) {
  std::ostringstream o;
  o << "instance = \"" << instance << "\"\n"
    << "runtime_dir = \"" << (dir / "run").string() << "\"\n"
    << "lambdas_dir = \"" << (dir / "lambdas.d").string() << "\"\n"
    << "admin_listen = \"127.0.0.1:0\"\n"
    << "shutdown_timeout_ms = 30000\n"
    << "[supervisor]\nrestart_backoff_min_ms = 50\nrestart_backoff_max_ms = 1000\nmax_restarts = 100\nrestart_window_s = 60\n"
    << "[kafka]\nbootstrap_servers = \"" << bootstrap << "\"\n"
    << "[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\"session.timeout.ms\" = \"6000\"\n"
    << "\"heartbeat.interval.ms\" = \"500\"\n\"topic.metadata.refresh.interval.ms\" = \"1000\"\n";
  fs::create_directories(dir / "outcomes");
  for (const auto& l : lambdas) {
    o << "[[lambda]]\nname = \"" << l.name << "\"\ntopics = [\"" << l.topic << "\"]\nworkers = " << l.workers
      << "\nordering = \"" << l.ordering << "\"\ncommit_interval_ms = 200\ndrain_timeout_ms = 20000\n"
      << l.extra << "\n[lambda.handler]\n";
    if (!l.handler.empty()) {
      o << l.handler << "\n";
      continue;
    }
    o << "type = \"plugin\"\npath = \"" << RECORDER_PLUGIN << "\"\n"
      << l.handler_extra << "\n[lambda.handler.options]\nlog_dir = \"" << (dir / "outcomes").string()
      << "\"\nsleep_us = \"" << l.sleep_us << "\"\n" << l.options << "\n";
  }
  return o.str();
}

std::string lambda_file(const fs::path& dir, const std::string& bootstrap, const LambdaSpec& lambda) {
  const std::string all = daemon_config("x", dir, bootstrap, {lambda});
  return "[lambda]" + all.substr(all.find("[[lambda]]") + std::string("[[lambda]]").size());
}

CliResult run_sluice(const fs::path& dir, const std::vector<std::string>& args) {
  const auto out = dir / "cli.out";
  const auto err = dir / "cli.err";
  // boost.process opens these without O_TRUNC: a shorter output would end with the
  // rest of the previous one.
  fs::remove(out);
  fs::remove(err);
  bp::child c(bp::exe = SLUICE_BIN, bp::args = args, bp::std_out > out.string(), bp::std_err > err.string());
  c.wait();
  return {c.exit_code(), read_proc_file(out), read_proc_file(err)};
}

std::string admin_address(const fs::path& dir, const std::string& instance) {
  const fs::path file = dir / "run" / (instance + ".admin");
  std::string address;
  wait_until(
      [&] {
        std::ifstream in(file);
        return static_cast<bool>(std::getline(in, address)) && !address.empty();
      },
      std::chrono::seconds(30));
  return address;
}

AdminReply admin_with(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                      const std::map<std::string, std::string>& headers_in) {
  const std::string address = admin_address(dir, instance);
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {};
  httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  client.set_read_timeout(120, 0);
  httplib::Headers headers(headers_in.begin(), headers_in.end());
  httplib::Result res = method == "GET"      ? client.Get(path, headers)
                        : method == "DELETE" ? client.Delete(path, headers)
                                             : client.Post(path, headers, "", "application/json");
  if (!res) return {};
  return {res->status, res->body, res->get_header_value("Content-Type")};
}

std::string run_token(const fs::path& dir, const std::string& instance) {
  std::ifstream in(dir / "run" / (instance + ".token"));
  std::string token;
  std::getline(in, token);
  return token;
}

AdminReply admin(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                 const std::string& token) {
  admin_address(dir, instance);  // the token file is written before the address file
  const std::string t = token.empty() ? run_token(dir, instance) : token;
  std::map<std::string, std::string> headers;
  if (!t.empty()) headers.emplace("Authorization", "Bearer " + t);
  return admin_with(dir, instance, method, path, headers);
}

Daemon::Daemon(const fs::path& dir, const std::string& config_text, const std::string& tag,
               const std::map<std::string, std::string>& env, const DaemonOptions& options) {
  const fs::path cfg = dir / (tag + ".toml");
  std::ofstream(cfg) << config_text;
  log_path_ = dir / (tag + ".log");
  // Built by hand: Boost.Process 1.74's environment lookup reads past the end of
  // entries shorter than the key (ASan finds it).
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (env.count(entry.substr(0, entry.find('='))) == 0) entries.push_back(entry);
  }
  for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  child_ = bp::child(bp::exe = SLUICE_BIN, bp::args = {"run", "-c", cfg.string()},
                     bp::extend::on_setup([&envp](auto& exec) { exec.env = envp.data(); }),
                     bp::std_out > log_path_.string() + ".out", bp::std_err > log_path_.string(),
                     bp::extend::on_exec_setup([options](auto&) {
                       // Between fork and exec: async-signal-safe calls only.
                       if (options.own_process_group) setpgid(0, 0);
                       if (options.nofile) {
                         const rlimit lim{options.nofile->first, options.nofile->second};
                         setrlimit(RLIMIT_NOFILE, &lim);
                       }
                       if (options.uid) {
                         const gid_t gid = static_cast<gid_t>(*options.uid);
                         if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
                             setresuid(*options.uid, *options.uid, *options.uid) != 0) {
                           _exit(71);
                         }
                       }
                     }));
  pid_ = child_.id();
}

Daemon::~Daemon() {
  std::error_code ec;
  if (!exited_ && child_.running(ec)) {
    ::kill(pid_, SIGKILL);
    child_.wait(ec);
  }
}

void Daemon::signal(int sig) const { ::kill(pid_, sig); }

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds limit) {
  std::error_code ec;
  if (!wait_until([&] { return !child_.running(ec); }, limit)) return std::nullopt;
  exited_ = true;
  return child_.native_exit_code();
}

std::vector<pid_t> Daemon::children(const std::string& role) const {
  std::vector<pid_t> out;
  std::istringstream kids(read_proc_file("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children"));
  pid_t p = 0;
  while (kids >> p) {
    std::string line = read_proc_file("/proc/" + std::to_string(p) + "/cmdline");
    for (char& c : line) {
      if (c == '\0') c = ' ';
    }
    if (line.find(" " + role + " ") != std::string::npos || line.find(role) != std::string::npos) out.push_back(p);
  }
  return out;
}

std::size_t Daemon::open_fds() const {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

std::size_t Daemon::zombie_children() const {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string line = read_proc_file(e.path() / "stat");
    if (line.empty()) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == pid_ && state == 'Z') ++n;
  }
  return n;
}

std::string Daemon::log() const {
  std::ifstream f(log_path_);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<Outcome> read_outcomes(const fs::path& log_dir, const std::string& name) {
  std::vector<Outcome> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(log_dir, ec)) {
    const std::string file = e.path().filename().string();
    if (!file.starts_with(name + ".")) continue;
    std::ifstream f(e.path());
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream ls(line);
      Outcome o;
      o.file = file;
      if (ls >> o.topic >> o.partition >> o.offset >> o.attempt >> o.outcome >> o.key >> o.value) out.push_back(o);
    }
  }
  return out;
}

std::vector<TopicMessage> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                     std::chrono::milliseconds limit) {
  auto rk = kafka::make_client(RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", bootstrap},
                                                                        {"group.id", "sluice-test-reader"},
                                                                        {"enable.auto.commit", "false"},
                                                                        {"fetch.wait.max.ms", "10"},
                                                                        {"log_level", "3"}}));
  int partitions = 0;
  {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1) partitions = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
  }
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());
  std::vector<TopicMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(rk.get(), 50));
    if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    TopicMessage t;
    t.partition = m->partition;
    t.offset = m->offset;
    if (m->key != nullptr) t.key.emplace(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) t.value.emplace(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        t.headers[name] = value == nullptr ? "" : std::string(static_cast<const char*>(value), size);
      }
    }
    out.push_back(std::move(t));
  }
  rd_kafka_assign(rk.get(), nullptr);
  return out;
}

std::map<int, std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                              const std::string& topic, int timeout_ms) {
  std::map<int, std::int64_t> out;
  for (const auto& p : kafka::group_offsets({{"bootstrap.servers", bootstrap}, {"log_level", "3"}}, group, {topic}, timeout_ms)) {
    out[p.partition] = p.committed;
  }
  return out;
}

std::string check_no_loss(const std::vector<Outcome>& outcomes, std::uint64_t count) {
  std::vector<bool> seen(count, false);
  for (const auto& o : outcomes) {
    if (o.outcome != "ok" || o.value.empty() || o.value[0] != 's') continue;
    const std::uint64_t s = std::stoull(o.value.substr(1, o.value.find('-') - 1));
    if (s < count) seen[s] = true;
  }
  std::size_t missing = 0;
  std::uint64_t first_missing = 0;
  for (std::uint64_t s = 0; s < count; ++s) {
    if (!seen[s] && missing++ == 0) first_missing = s;
  }
  if (missing == 0) return "";
  return "I1 violated: " + std::to_string(missing) + " sequence number(s) never handled, first " +
         std::to_string(first_missing);
}

std::string check_commit_safety(const std::vector<Outcome>& outcomes, const std::map<int, std::int64_t>& committed,
                                const std::set<std::pair<int, std::int64_t>>& dead_lettered) {
  std::map<int, std::set<std::int64_t>> ok;
  for (const auto& o : outcomes) {
    if (o.outcome == "ok") ok[o.partition].insert(o.offset);
  }
  for (const auto& [p, off] : dead_lettered) ok[p].insert(off);
  for (const auto& [p, c] : committed) {
    for (std::int64_t off = 0; off < c; ++off) {
      if (!ok[p].contains(off)) {
        return "I2 violated: partition " + std::to_string(p) + " committed " + std::to_string(c) + " but offset " +
               std::to_string(off) + " has no successful outcome";
      }
    }
  }
  return "";
}

std::size_t count_duplicates(const std::vector<Outcome>& outcomes) {
  std::set<std::pair<int, std::int64_t>> seen;
  std::size_t dups = 0;
  for (const auto& o : outcomes) {
    if (o.outcome == "ok" && !seen.emplace(o.partition, o.offset).second) ++dups;
  }
  return dups;
}

std::string sanitizer_report(const std::string& log) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer"}) {
    if (auto at = log.find(marker); at != std::string::npos) return log.substr(at, 2000);
  }
  return "";
}

std::string read_proc_file(const fs::path& path) {
  // Not an ifstream: a process that exits between open() and read() makes read() fail with
  // ESRCH, which libstdc++'s filebuf turns into an exception.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

bool process_alive(pid_t pid) {
  const std::string line = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (line.empty()) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

long backpressure_pauses(const std::string& log, const std::string& lambda) {
  const std::string marker = "lambda " + lambda + ": consumer stopped: ";
  const auto at = log.rfind(marker);
  if (at == std::string::npos) return -1;
  const auto end = log.find(" backpressure pauses", at);
  if (end == std::string::npos) return -1;
  const auto start = log.rfind(", ", end);
  return std::stol(log.substr(start + 2, end - start - 2));
}

std::string unique_instance() {
  static int n = 0;
  // pids come round again (pid_max is 32768 here), and a daemon killed by a test (or a
  // test run killed by hand) leaves its segments: an instance name whose segments exist
  // would fail the next test's hygiene check for someone else's leftovers.
  for (;;) {
    const std::string name = "it" + std::to_string(getpid()) + "n" + std::to_string(n++);
    std::error_code ec;
    bool taken = false;
    for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
      taken = taken || e.path().filename().string().starts_with("sluice." + name + ".");
    }
    if (!taken) return name;
  }
}

bool committed_to_end(const std::string& bootstrap, const std::string& group, std::uint64_t produced, int partitions,
                      const std::string& topic) {
  return committed_or_empty(bootstrap, group, topic) == end_offsets(produced, partitions);
}

std::map<int, std::int64_t> end_offsets(std::uint64_t produced, int partitions) {
  std::map<int, std::int64_t> end;
  const auto parts = static_cast<std::uint64_t>(partitions);
  for (std::uint64_t p = 0; p < parts; ++p) {
    end[static_cast<int>(p)] = static_cast<std::int64_t>(produced / parts + (p < produced % parts ? 1 : 0));
  }
  return end;
}

std::map<int, std::int64_t> committed_or_empty(const std::string& bootstrap, const std::string& group,
                                               const std::string& topic) {
  try {
    return committed_offsets(bootstrap, group, topic);
  } catch (const std::exception&) {
    return {};
  }
}

std::int64_t committed_sum(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  std::int64_t sum = 0;
  for (const auto& [p, c] : committed_or_empty(bootstrap, group, topic)) sum += std::max<std::int64_t>(c, 0);
  return sum;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::string check_hygiene(const std::string& instance) {
  const std::string prefix = "sluice." + instance + ".";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
    if (e.path().filename().string().starts_with(prefix)) return "I5 violated: segment left: " + e.path().string();
  }
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string line = read_proc_file(e.path() / "cmdline");
    std::replace(line.begin(), line.end(), '\0', ' ');
    if (line.find("--instance " + instance + " ") != std::string::npos) {
      return "I5 violated: process " + pid + " still runs for " + instance;
    }
  }
  return "";
}

}  // namespace sluice::test
