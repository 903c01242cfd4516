#include "harness/processes.hpp"

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
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/targets.hpp"

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
  static std::atomic<int> made{0};
  log_ = fs::temp_directory_path() /
         ("sluice-it-broker-" + std::to_string(getpid()) + "-" + std::to_string(made.fetch_add(1)) + ".log");
  std::vector<std::string> args{"dev-broker", "--brokers", std::to_string(brokers)};
  // Not by default: the mock cluster's debug log made a 26 s test take 35.
  if (const char* debug = std::getenv("SLUICE_IT_BROKER_DEBUG")) args.insert(args.end(), {"--debug", debug});
  for (const auto& t : topics) {
    args.push_back("--topic");
    args.push_back(t);
  }
  child_ = bp::child(bp::exe = targets().sluice, bp::args = args, bp::std_in < in_, bp::std_out > out_,
                     bp::std_err > log_.string());
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
  if (::testing::Test::HasFailure()) {
    // The end is what a stuck group shows; a whole test's worth would bury the failure.
    constexpr std::size_t kLines = 400;
    std::ifstream in(log_);
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(std::move(line));
      if (tail.size() > kLines) tail.pop_front();
    }
    std::cout << "--- the dev broker's log (last " << tail.size() << " lines, " << log_.string() << ") ---\n";
    for (const auto& line : tail) std::cout << line << "\n";
    std::cout << "--- end of the dev broker's log ---" << std::endl;
  } else {
    fs::remove(log_, ec);
  }
}

std::string DevBroker::control(const std::string& line) {
  in_ << line << std::endl;
  std::string reply;
  if (!std::getline(out_, reply)) throw std::runtime_error("dev broker closed its control channel");
  return reply;
}

std::string asan_options_with(const std::string& option) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return (asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : "") + option;
}

std::map<std::string, std::string> segv_kills_env() { return {{"ASAN_OPTIONS", asan_options_with("handle_segv=0")}}; }

bool soak() {
  const char* v = std::getenv("SLUICE_SOAK");
  return v != nullptr && std::string(v) == "1";
}

CliResult run_sluice(const fs::path& dir, const std::vector<std::string>& args) {
  const auto out = dir / "cli.out";
  const auto err = dir / "cli.err";
  // boost.process opens these without O_TRUNC: a shorter output would end with the
  // rest of the previous one.
  fs::remove(out);
  fs::remove(err);
  bp::child c(bp::exe = targets().sluice, bp::args = args, bp::std_out > out.string(), bp::std_err > err.string());
  c.wait();
  return {c.exit_code(), read_proc_file(out), read_proc_file(err)};
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
  child_ = bp::child(bp::exe = targets().sluice, bp::args = {"run", "-c", cfg.string()},
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
