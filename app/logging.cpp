#include "app/logging.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::app {
namespace {

// sd-daemon(3) priorities: what journald reads from a "<N>" line prefix.
int syslog_priority(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 7;
    case spdlog::level::info: return 6;
    case spdlog::level::warn: return 4;
    case spdlog::level::err: return 3;
    case spdlog::level::critical: return 2;
    default: return 6;
  }
}

class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const char text[] = {'<', static_cast<char>('0' + syslog_priority(msg.level)), '>'};
    dest.append(text, text + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

// The message, with every control byte escaped: a line of text is one journal entry,
// and a message often carries text from outside (an endpoint's answer, a record's key,
// a handler's error). A newline in it followed by "<0>" used to forge a separate
// emergency-priority entry.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static const char kHex[] = "0123456789abcdef";
    for (const char ch : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c != 0x7f && c != '\\') {
        dest.push_back(ch);
        continue;
      }
      const char* named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\\' ? "\\\\" : nullptr;
      if (named != nullptr) {
        dest.append(named, named + 2);
      } else {
        const char hex[] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
        dest.append(hex, hex + 4);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<EscapedMessage>(); }
};

// One JSON object per line; the message is escaped by nlohmann, so any text is safe.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string role) : role_(std::move(role)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[40];
    const std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof ts - n, ".%03lldZ", static_cast<long long>(ms % 1000));
    nlohmann::ordered_json j = {{"time", ts},
                                {"level", spdlog::level::to_string_view(msg.level).data()},
                                {"priority", syslog_priority(msg.level)},
                                {"role", role_},
                                {"pid", ::getpid()},
                                {"message", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<formatter> clone() const override { return std::make_unique<JsonFormatter>(role_); }

 private:
  std::string role_;
};

}  // namespace

bool set_log_format(const std::string& format) {
  if (format != "text" && format != "json") return false;
  // Children read it from the environment they inherit.
  ::setenv("SLUICE_LOG_FORMAT", format.c_str(), 1);
  return true;
}

void init_logging(const std::string& role, FILE* to) {
  // _mt: the supervisor has admin API threads, and nothing here is hot enough to care.
  auto logger = to == nullptr ? spdlog::stderr_logger_mt("sluice")
                              : std::make_shared<spdlog::logger>(
                                    "sluice", std::make_shared<spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>>(to));
  const char* format = std::getenv("SLUICE_LOG_FORMAT");
  if (format != nullptr && std::string(format) == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>(role));
  } else {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<PriorityFlag>('*').add_flag<EscapedMessage>('&').set_pattern("%*%Y-%m-%dT%H:%M:%S.%e %l [" + role + "] %&");
    logger->set_formatter(std::move(f));
  }
  std::string bad_level;
  if (const char* lvl = std::getenv("SLUICE_LOG_LEVEL"); lvl != nullptr && *lvl != '\0') {
    // spdlog maps a name it does not know to "off": a typo would silence every line.
    const auto level = spdlog::level::from_str(lvl);
    if (level == spdlog::level::off && std::string(lvl) != "off") {
      bad_level = lvl;
    } else {
      logger->set_level(level);
    }
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  if (!bad_level.empty()) {
    spdlog::warn("SLUICE_LOG_LEVEL=\"{}\" is not a level (trace, debug, info, warning, error, critical, off): logging at info",
                 bad_level);
  }
}

}  // namespace sluice::app
