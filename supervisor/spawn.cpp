#include "supervisor/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <cstring>

#include "supervisor/notify.hpp"

extern char** environ;

namespace sluice::supervisor {

ChildEnvironment::ChildEnvironment(std::initializer_list<const char*> drop) {
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool dropped = false;
    for (const char* d : drop) dropped = dropped || name == d;
    if (!dropped) entries_.push_back(entry);
  }
  for (auto& entry : entries_) ptrs_.push_back(entry.data());
  ptrs_.push_back(nullptr);
}

ChildEnvironment::ChildEnvironment(bool (*keep)(std::string_view name)) {
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (keep(std::string_view(entry).substr(0, entry.find('=')))) entries_.push_back(entry);
  }
  for (auto& entry : entries_) ptrs_.push_back(entry.data());
  ptrs_.push_back(nullptr);
}

bool passes_to_workers(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "PYTHONPATH",
      "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
      "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "JOURNAL_STREAM", "INVOCATION_ID",
      "SLUICE_LOG_FORMAT", "SLUICE_LOG_LEVEL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"};
  for (std::string_view n : kNames) {
    if (name == n) return true;
  }
  return name.starts_with("LC_");
}

boost::process::child spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                  const ChildEnvironment& env, std::vector<int> inherit) {
  namespace bp = boost::process;
  const pid_t parent = getpid();
  char** envp = env.envp();
  return bp::child(bp::exe = exe, bp::args = args,
                   // In the parent, before fork: the executor passes this block to execve.
                   bp::extend::on_setup([envp](auto& exec) { exec.env = envp; }),
                   bp::extend::on_exec_setup([parent, fds = std::move(inherit)](auto&) {
                     // Only async-signal-safe calls here: we are between fork and exec.
                     for (int fd : fds) fcntl(fd, F_SETFD, 0);
                     sigset_t none;
                     sigemptyset(&none);
                     sigprocmask(SIG_SETMASK, &none, nullptr);
                     prctl(PR_SET_PDEATHSIG, SIGKILL);
                     if (getppid() != parent) _exit(70);
                   }));
}

namespace {

class Process final : public Child {
 public:
  explicit Process(boost::process::child c) : child_(std::move(c)) {}
  // boost::process::child kills and reaps a child still running when it goes.
  pid_t pid() const override { return child_.id(); }
  std::optional<int> poll_exit() override {
    std::error_code ec;
    if (!reaped_ && child_.running(ec)) return std::nullopt;
    reaped_ = true;
    return child_.native_exit_code();
  }
  // Only a child not yet reaped is signalled, so this pid is still ours.
  void signal(int sig) override {
    if (!reaped_) ::kill(child_.id(), sig);
  }
  void kill_and_reap() override {
    signal(SIGKILL);
    std::error_code ec;
    child_.wait(ec);
    reaped_ = true;
  }

 private:
  boost::process::child child_;
  bool reaped_ = false;
};

}  // namespace

ProcessSpawner::ProcessSpawner() : consumer_env_(kSystemdOnlyEnv), worker_env_(&passes_to_workers) {}

std::unique_ptr<Child> ProcessSpawner::spawn(ChildRole role, const std::string& exe, const std::vector<std::string>& args,
                                             std::vector<int> inherit) {
  const ChildEnvironment& env = role == ChildRole::kConsumer ? consumer_env_ : worker_env_;
  return std::make_unique<Process>(spawn_child(exe, args, env, std::move(inherit)));
}

}  // namespace sluice::supervisor
