#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "shm/clock.hpp"
#include "shm/control_channel.hpp"
#include "supervisor/admin_auth.hpp"
#include "supervisor/admin_server.hpp"
#include "supervisor/instance_lock.hpp"
#include "supervisor/json_response.hpp"
#include "supervisor/reload_plan.hpp"
#include "supervisor/report.hpp"
#include "supervisor/resource_limits.hpp"
#include "supervisor/runtime_dir.hpp"

namespace sluice::supervisor {
namespace {

constexpr int kTickMs = 100;  // cadence of hung-handler checks while running

AdminResponse config_error(const config::ConfigError& e) {
  nlohmann::json diags = nlohmann::json::array();
  for (const auto& d : e.diagnostics()) diags.push_back(d.str());
  return json_response(422, {{"error", "invalid configuration; the running one is kept"}, {"diagnostics", diags}});
}

}  // namespace

Supervisor::Supervisor(config::Config cfg, Executables exes, ConfigCheck check)
    : cfg_(std::move(cfg)), exes_(std::move(exes)), check_(std::move(check)) {}

Supervisor::~Supervisor() {
  admin_.reset();  // no request may arrive while the state goes
  for (auto& w : waiters_) w.reply->set_value(json_response(503, {{"error", "sluice is stopping"}}));
  lambdas_.clear();  // answers what waits on a consumer; kills and reaps what still runs
  std::error_code ec;
  if (!admin_file_.empty()) std::filesystem::remove(admin_file_, ec);
  if (!token_file_.empty()) std::filesystem::remove(token_file_, ec);
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

int Supervisor::run() {
  // First of all: a SIGTERM that arrives while we are still reclaiming segments or
  // creating new ones must wait in the signalfd for an orderly stop, not kill us
  // half-started with the default action.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));

  ensure_open_files_limit();
  InstanceLock lock(cfg_.runtime_dir, cfg_.instance);

  if (!cfg_.admin_listen.empty()) {
    AdminAccess access;
    access.instance = cfg_.instance;
    access.reads_need_token = !cfg_.admin_token_file.empty();
    access.token = access.reads_need_token ? read_token_file(cfg_.admin_token_file) : random_token();
    // Long enough for a reload that drains lambdas before it restarts them.
    const auto limit = std::chrono::milliseconds(cfg_.shutdown_timeout_ms) + std::chrono::seconds(60);
    admin_ = std::make_unique<AdminServer>(cfg_.admin_listen, access, mailbox_, limit);
    // `sluice status` and `sluice reload` find the API here, also when the port was 0,
    // and the token made for this run beside it (the daemon's user and group may read it).
    if (!access.reads_need_token) {
      write_runtime_file(cfg_.runtime_dir, token_file_name(cfg_.instance), access.token + "\n", 0640);
      token_file_ = cfg_.runtime_dir + "/" + token_file_name(cfg_.instance);
    }
    write_runtime_file(cfg_.runtime_dir, cfg_.instance + ".admin", admin_->address() + "\n", 0644);
    admin_file_ = cfg_.runtime_dir + "/" + cfg_.instance + ".admin";
    spdlog::info("admin API listening on http://{} ({})", admin_->address(),
                 access.reads_need_token ? "bearer token from admin_token_file required"
                                         : "changes need the bearer token in " + token_file_);
  }

  for (const auto& lc : cfg_.lambdas) add_lambda(lc);
  spdlog::info("sluice supervisor running: instance {}, {} lambda(s)", cfg_.instance, lambdas_.size());

  std::vector<pollfd> pfd;
  std::vector<std::optional<ChildOutput>*> outputs;  // the worker pipe of each pfd entry from `first_output`
  for (;;) {
    pfd.assign({{signal_fd_, POLLIN, 0}, {mailbox_.fd(), POLLIN, 0}});
    for (const auto& l : lambdas_) {
      if (l->control_fd() >= 0) pfd.push_back({l->control_fd(), POLLIN, 0});
    }
    const std::size_t first_output = pfd.size();
    outputs.clear();
    for (auto& l : lambdas_) l->output_pipes(outputs);
    for (const auto* output : outputs) pfd.push_back({(*output)->fd(), POLLIN, 0});
    int timeout = poll_timeout_ms();
    if (const auto tick = notifier_.until_tick()) timeout = std::min<int>(timeout, static_cast<int>(tick->count()));
    const int rc = ::poll(pfd.data(), pfd.size(), timeout);
    if (rc < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    // First, before anything can end a worker or drop a lambda: the pointers are current.
    for (std::size_t i = 0; rc > 0 && i < outputs.size(); ++i) {
      if (pfd[first_output + i].revents == 0) continue;
      auto& output = *outputs[i];
      if (!output->drain()) output.reset();
    }
    signalfd_siginfo si{};
    while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGTERM || sig == SIGINT) {
        if (!shutting_down_) {
          spdlog::info("received SIG{}: stopping fetch, draining, committing", sigabbrev_np(sig));
          begin_shutdown("stopping");
        } else {
          spdlog::info("received SIG{} again: already draining", sigabbrev_np(sig));
        }
      } else if (sig == SIGHUP && !shutting_down_) {
        spdlog::info("received SIGHUP: reloading {}", cfg_.source);
        reload(nullptr);
      }
    }
    if ((pfd[1].revents & POLLIN) != 0) {
      for (auto& request : mailbox_.take()) serve(std::move(request));
    }
    const Now now = Now::read();
    for (auto& l : lambdas_) l->reap(now);
    for (auto& l : lambdas_) l->serve_control(now);
    for (auto& l : lambdas_) l->check_timers(now);
    sweep(now);
    for (auto& l : lambdas_) l->observe(now);
    answer_waiters();
    notify_progress();
    notifier_.tick();
    if (shutting_down_ && !any_running()) break;
    const bool all_failed = std::none_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) {
      return !l->deregistered() && l->state() != LambdaState::kFailed;
    });
    if (!shutting_down_ && all_failed &&
        std::any_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return !l->deregistered(); })) {
      spdlog::error("every lambda has failed; exiting");
      notifier_.status("every lambda has failed");
      return 1;
    }
  }
  lambdas_.clear();  // every process is gone: their segments go now
  spdlog::info("sluice supervisor stopped");
  return 0;
}

void Supervisor::begin_shutdown(const char* why) {
  shutting_down_ = true;
  notifier_.stopping();
  notifier_.status(why);
  const Now now = Now::read();
  for (auto& l : lambdas_) l->shutdown(now);
}

LambdaLifecycle& Supervisor::add_lambda(const config::Lambda& cfg) {
  lambdas_.push_back(std::make_unique<LambdaLifecycle>(cfg_, exes_, spawner_, cfg));
  lambdas_.back()->start(Now::read());
  return *lambdas_.back();
}

void Supervisor::sweep(Now now) {
  for (auto it = lambdas_.begin(); it != lambdas_.end();) {
    if ((*it)->settle(shutting_down_, now)) {
      ++it;
      continue;
    }
    spdlog::info("lambda {}: removed", (*it)->cfg().name);
    it = lambdas_.erase(it);
  }
}

void Supervisor::resume(AdminRequest request) {
  auto respond = [&](int status, nlohmann::json body) { request.reply->set_value(json_response(status, std::move(body))); };
  LambdaLifecycle* l = find(request.name);
  if (l == nullptr) return respond(404, {{"error", "no lambda named \"" + request.name + "\" is running"}});
  if (!l->can_resume()) {
    return respond(409, {{"error", "lambda " + request.name + " is " + std::string(name_of(l->state())) +
                                       ": nothing to resume"}});
  }
  shm::ControlMessage m{shm::ControlKind::kResume, 0};
  if (!request.topic.empty()) {
    const auto it = std::find(l->cfg().topics.begin(), l->cfg().topics.end(), request.topic);
    if (it == l->cfg().topics.end()) {
      return respond(404, {{"error", "lambda " + request.name + " does not consume topic \"" + request.topic + "\""}});
    }
    m.topic_index = static_cast<std::uint32_t>(it - l->cfg().topics.begin());
    m.partition = request.partition;
  }
  // Answered when the consumer says how many it resumed.
  if (!l->resume(m, request.reply)) return respond(503, {{"error", "the consumer cannot be reached; try again"}});
  spdlog::info("lambda {}: resume of stopped partitions requested through the admin API{}", l->cfg().name,
               request.topic.empty() ? "" : " (" + request.topic + (request.partition < 0 ? "" : "[" + std::to_string(request.partition) + "]") + ")");
}

int Supervisor::poll_timeout_ms() const {
  const auto now = Clock::now();
  auto next = now + std::chrono::milliseconds(kTickMs);
  for (const auto& l : lambdas_) {
    if (const auto at = l->next_deadline()) next = std::min(next, *at);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, kTickMs));
}

bool Supervisor::any_running() const {
  return std::any_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return l->any_child(); });
}

// ---- reload and the admin API ------------------------------------------------------

std::optional<std::set<std::string>> Supervisor::reload(AdminResponse* failure) {
  notifier_.reloading();
  config::Config next;
  try {
    next = load_checked(nullptr);
  } catch (const config::ConfigError& e) {
    spdlog::error("reload: {} has errors; keeping the running configuration:", cfg_.source);
    for (const auto& d : e.diagnostics()) spdlog::error("  {}", d.str());
    if (failure != nullptr) *failure = config_error(e);
    notifier_.ready();
    return std::nullopt;
  } catch (const std::exception& e) {
    spdlog::error("reload: {}; keeping the running configuration", e.what());
    if (failure != nullptr) *failure = json_response(500, {{"error", e.what()}});
    notifier_.ready();
    return std::nullopt;
  }
  auto touched = apply(next);
  if (!reloading_) reloading_.emplace();
  reloading_->insert(touched.begin(), touched.end());
  return touched;
}

std::set<std::string> Supervisor::apply(const config::Config& next) {
  auto keep = [&](const char* key, const std::string& now, const std::string& then) {
    if (now != then) spdlog::warn("reload: {} changed from \"{}\" to \"{}\"; this takes a restart of sluice", key, now, then);
  };
  keep("instance", cfg_.instance, next.instance);
  keep("runtime_dir", cfg_.runtime_dir, next.runtime_dir);
  keep("admin_listen", cfg_.admin_listen, next.admin_listen);
  keep("admin_token_file", cfg_.admin_token_file, next.admin_token_file);
  cfg_.lambdas_dir = next.lambdas_dir;
  cfg_.shutdown_timeout_ms = next.shutdown_timeout_ms;
  cfg_.restart = next.restart;
  for (auto& l : lambdas_) l->reconfigure(cfg_.restart);
  cfg_.bootstrap_servers = next.bootstrap_servers;
  cfg_.kafka_properties = next.kafka_properties;

  std::vector<std::pair<std::string, Running>> running;
  for (const auto& l : lambdas_) {
    const config::Lambda* cfg = l->next_config();
    running.push_back({l->cfg().name, Running{cfg != nullptr ? cfg : &l->cfg(), l->deregistered(), l->removing(),
                                              l->state() == LambdaState::kFailed && cfg == nullptr}});
  }
  std::set<std::string> touched;
  const Now now = Now::read();
  for (const ReloadStep& step : plan_reload(running, next.lambdas)) {
    LambdaLifecycle* l = find(step.name);
    switch (step.action) {
      case ReloadAction::kAdd:
        spdlog::info("reload: new lambda {}", step.name);
        add_lambda(*step.cfg);
        break;
      case ReloadAction::kKeepConfig:
        l->keep_config(*step.cfg);  // stays stopped until registered again
        continue;
      case ReloadAction::kRestart:
        spdlog::info("reload: lambda {} changed; restarting it", step.name);
        l->replace(*step.cfg, now);
        break;
      case ReloadAction::kRetry:
        spdlog::info("reload: lambda {} had failed; starting it again", step.name);
        l->replace(*step.cfg, now);
        break;
      case ReloadAction::kRemove:
        spdlog::info("reload: lambda {} is gone from the configuration; stopping it", step.name);
        l->remove(now);
        break;
    }
    touched.insert(step.name);
  }
  cfg_.lambdas = next.lambdas;
  return touched;
}

config::Config Supervisor::load_checked(const std::string* only_lambda) const {
  config::Config c = only_lambda == nullptr ? config::load(cfg_.source) : config::load_one(cfg_.source, *only_lambda);
  if (check_) {
    if (auto diags = check_(c); !diags.empty()) throw config::ConfigError(std::move(diags));
  }
  return c;
}

LambdaLifecycle* Supervisor::find(const std::string& name) {
  for (auto& l : lambdas_) {
    if (l->cfg().name == name) return l.get();
  }
  return nullptr;
}

bool Supervisor::settled(const std::string& name) {
  const LambdaLifecycle* l = find(name);
  return l == nullptr || l->settled();  // nullptr: removed
}

void Supervisor::serve(AdminRequest request) {
  auto respond = [&](AdminResponse r) { request.reply->set_value(std::move(r)); };
  switch (request.action) {
    case AdminAction::kLambdas: return respond(lambdas_json());
    case AdminAction::kMetrics: return respond(metrics_text());
    case AdminAction::kHealth: return respond(health());
    default: break;
  }
  if (shutting_down_) return respond(json_response(503, {{"error", "sluice is stopping"}}));
  if (request.action == AdminAction::kResume) return resume(std::move(request));
  std::set<std::string> touched;
  if (request.action == AdminAction::kReload || request.action == AdminAction::kReloadNoWait) {
    spdlog::info("reload requested through the admin API");
    AdminResponse failure;
    const auto names = reload(&failure);
    if (!names) return respond(std::move(failure));
    touched = *names;
    nlohmann::json list = std::vector<std::string>(touched.begin(), touched.end());
    if (request.action == AdminAction::kReloadNoWait) return respond(json_response(202, {{"changed", list}}));
    waiters_.push_back(Waiter{touched, request.reply, [this, list] {
                                nlohmann::json states = nlohmann::json::object();
                                for (const auto& n : list) {
                                  const LambdaLifecycle* l = find(n.get<std::string>());
                                  states[n.get<std::string>()] = l == nullptr ? "removed" : name_of(l->state());
                                }
                                return json_response(200, {{"changed", list}, {"lambdas", states}});
                              }});
    return;
  }
  const std::string name = request.name;
  if (request.action == AdminAction::kRegister) {
    AdminResponse early = register_lambda(name, touched);
    if (touched.empty()) return respond(std::move(early));
  } else {
    LambdaLifecycle* l = find(name);
    if (l == nullptr) return respond(json_response(404, {{"error", "no lambda named \"" + name + "\" is running"}}));
    spdlog::info("lambda {}: deregistered through the admin API; stopping it", name);
    l->deregister(Now::read());
    touched.insert(name);
  }
  waiters_.push_back(Waiter{touched, request.reply, [this, name] {
                              const LambdaLifecycle* l = find(name);
                              const bool failed = l != nullptr && l->state() == LambdaState::kFailed;
                              const std::string_view state = l == nullptr ? "removed" : name_of(l->state());
                              const int status = failed ? 500 : 200;
                              nlohmann::json body = {{"lambda", name}, {"state", state}};
                              if (status != 200) body["error"] = "lambda " + name + " failed to start; see the log";
                              return json_response(status, body);
                            }});
}

AdminResponse Supervisor::register_lambda(const std::string& name, std::set<std::string>& touched) {
  config::Config c;
  try {
    c = load_checked(&name);
  } catch (const config::ConfigError& e) {
    return config_error(e);
  } catch (const std::exception& e) {
    return json_response(500, {{"error", e.what()}});
  }
  const auto it = std::find_if(c.lambdas.begin(), c.lambdas.end(), [&](const auto& l) { return l.name == name; });
  if (it == c.lambdas.end()) {
    return json_response(404, {{"error", "no lambda named \"" + name + "\": no file " + c.lambdas_dir + "/" + name +
                                             ".toml defines it, nor does " + cfg_.source}});
  }
  if (LambdaLifecycle* l = find(name)) {
    // OpenLambda's register cleans up a running lambda first: always a fresh start.
    spdlog::info("lambda {}: registered through the admin API; restarting it", name);
    l->replace(*it, Now::read());
  } else {
    spdlog::info("lambda {}: registered through the admin API; starting it", name);
    add_lambda(*it);
  }
  touched.insert(name);
  return {};
}

void Supervisor::answer_waiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (std::all_of(it->names.begin(), it->names.end(), [&](const auto& n) { return settled(n); })) {
      it->reply->set_value(it->answer());
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

void Supervisor::notify_progress() {
  if (shutting_down_) return;
  auto all_settled = [&](const auto& names) {
    return std::all_of(names.begin(), names.end(), [&](const auto& n) { return settled(n); });
  };
  if (!ready_sent_) {
    std::vector<std::string> names;
    for (const auto& l : lambdas_) names.push_back(l->cfg().name);
    if (!all_settled(names)) return;
    ready_sent_ = true;
    notifier_.ready();
    const auto failed = std::count_if(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return l->state() == LambdaState::kFailed; });
    if (failed == 0) {
      spdlog::info("ready: every lambda has started");
    } else {
      spdlog::warn("ready: every lambda has started or failed ({} failed)", failed);
    }
  }
  if (reloading_ && all_settled(*reloading_)) {
    reloading_.reset();
    notifier_.ready();
    spdlog::info("reload complete");
  }
  std::size_t running = 0, stopped = 0, other = 0;
  std::vector<std::string> failed;
  for (const auto& l : lambdas_) {
    const LambdaState st = l->state();
    if (st == LambdaState::kFailed) {
      failed.push_back(l->cfg().name);
      continue;
    }
    (st == LambdaState::kRunning ? running : st == LambdaState::kStopped ? stopped : other)++;
  }
  std::string line = std::to_string(running) + " lambda(s) running";
  if (!failed.empty()) line += ", " + std::to_string(failed.size()) + " failed: " + fmt::format("{}", fmt::join(failed, " "));
  if (stopped > 0) line += ", " + std::to_string(stopped) + " stopped";
  if (other > 0) line += ", " + std::to_string(other) + " starting or stopping";
  notifier_.status(line);
}

AdminResponse Supervisor::lambdas_json() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& l : lambdas_) list.push_back(to_json(l->report(shm::monotonic_ns())));
  return json_response(200, {{"instance", cfg_.instance}, {"lambdas", list}});
}

AdminResponse Supervisor::metrics_text() {
  std::vector<LambdaReport> reports;
  for (const auto& l : lambdas_) {
    LambdaReport& r = reports.emplace_back(l->report(shm::monotonic_ns()));
    // Only here: /proc is read per process, which /healthz and /lambdas need not pay.
    l->for_each_process([&](const char* role, std::uint32_t slot, pid_t pid) {
      if (auto st = read_process_stats(pid)) r.processes.push_back({role, slot, *st});
    });
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", to_prometheus(reports, read_process_stats(::getpid()))};
}

AdminResponse Supervisor::health() {
  if (shutting_down_) return json_response(503, {{"status", "stopping"}});
  // 200 only when everything that should run does; each lambda says what is wrong.
  std::vector<Health> all;
  nlohmann::json lambdas = nlohmann::json::object();
  for (const auto& l : lambdas_) {
    all.push_back(health_of(l->report(shm::monotonic_ns())));
    lambdas[l->cfg().name] = {{"status", all.back().status}, {"reasons", all.back().reasons}};
  }
  const std::string status = overall_health(all);
  return json_response(status == "ok" ? 200 : 503, {{"status", status}, {"lambdas", lambdas}});
}

}  // namespace sluice::supervisor