#include "config/config.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <optional>

#include "config/filter_reader.hpp"
#include "config/table_reader.hpp"

namespace sluice::config {
namespace fs = std::filesystem;

const char* to_string(Ordering o) {
  switch (o) {
    case Ordering::kPartition: return "partition";
    case Ordering::kKey: return "key";
    case Ordering::kNone: return "none";
  }
  return "?";
}
const char* to_string(OnFailure o) {
  switch (o) {
    case OnFailure::kDeadLetter: return "dead_letter";
    case OnFailure::kSkip: return "skip";
    case OnFailure::kStop: return "stop";
  }
  return "?";
}

const char* to_string(SchemaFormat f) {
  switch (f) {
    case SchemaFormat::kNone: return "none";
    case SchemaFormat::kAuto: return "auto";
    case SchemaFormat::kAvro: return "avro";
    case SchemaFormat::kProtobuf: return "protobuf";
    case SchemaFormat::kJsonSchema: return "json_schema";
  }
  return "?";
}

const char* to_string(Format f) {
  switch (f) {
    case Format::kRaw: return "raw";
    case Format::kJson: return "json";
    case Format::kAws: return "aws";
    case Format::kCloudEvents: return "cloudevents";
  }
  return "?";
}
const char* to_string(HandlerType t) {
  switch (t) {
    case HandlerType::kPlugin: return "plugin";
    case HandlerType::kHttp: return "http";
    case HandlerType::kExec: return "exec";
    case HandlerType::kPython: return "python";
  }
  return "?";
}
const char* to_string(OffsetReset r) {
  switch (r) {
    case OffsetReset::kEarliest: return "earliest";
    case OffsetReset::kLatest: return "latest";
    case OffsetReset::kError: return "error";
  }
  return "?";
}

std::string Diagnostic::str() const {
  std::string s = file;
  if (line != 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

namespace {

std::string join_messages(const std::vector<Diagnostic>& d) {
  std::string s;
  for (const auto& x : d) {
    if (!s.empty()) s += '\n';
    s += x.str();
  }
  return s;
}

// Kafka's own rule for topic names.
bool valid_topic(const std::string& s) {
  return !s.empty() && s.size() <= 249 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

constexpr std::int64_t kMaxMs = 24LL * 3600 * 1000;

// Why a file the handler needs cannot be read, if it cannot.
std::optional<std::string> unreadable_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "no such file";
  if (!fs::is_regular_file(path, ec)) return "not a regular file";
  if (access(path.c_str(), R_OK) != 0) return std::string("not readable: ") + std::strerror(errno);
  return std::nullopt;
}

// Why a command cannot be executed, if it cannot: a name with a slash is checked as a
// path, a bare name is looked up in PATH as execvp would.
std::optional<std::string> not_executable(const std::string& cmd) {
  auto check = [](const fs::path& p) -> std::optional<std::string> {
    std::error_code ec;
    if (!fs::exists(p, ec)) return "no such file";
    if (fs::is_directory(p, ec)) return "is a directory";
    if (access(p.c_str(), X_OK) != 0) return std::string("not executable: ") + std::strerror(errno);
    return std::nullopt;
  };
  if (cmd.find('/') != std::string::npos) return check(cmd);
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    if (!check(fs::path(dir.empty() ? "." : dir) / cmd)) return std::nullopt;
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
  }
  return "not found in PATH";
}

void read_schema_registry(const FileContext& ctx, const toml::table& t, const std::string& path, SchemaRegistry& s) {
  TableReader r(ctx, t, path);
  if (!r.str("url", s.url, true)) {
    // required: reported by str()
  } else if (!s.url.starts_with("http://") && !s.url.starts_with("https://")) {
    r.error(t.get("url"), "url", "\"" + redact_url(s.url) + "\" must start with http:// or https://");
  }
  r.str("username", s.username);
  r.str("password", s.password);
  r.str("token", s.token);
  if (!s.token.empty() && !s.username.empty()) r.error(t.get("token"), "token", "give either token or username, not both");
  if (s.username.empty() != s.password.empty()) {
    r.error(t.get(s.username.empty() ? "password" : "username"), s.username.empty() ? "password" : "username",
            "username and password go together (basic auth)");
  }
  for (const auto& [key, file] : {std::pair<const char*, std::string*>{"ca_file", &s.ca_file},
                                  {"client_cert", &s.client_cert},
                                  {"client_key", &s.client_key}}) {
    if (r.str(key, *file)) {
      if (auto why = unreadable_file(*file)) r.error(t.get(key), key, "\"" + *file + "\": " + *why);
    }
  }
  r.uint("timeout_ms", s.timeout_ms, 1, kMaxMs);
  for (const auto& [key, format] : {std::pair<const char*, SchemaFormat*>{"value_format", &s.value_format},
                                    {"key_format", &s.key_format}}) {
    r.choice(key, *format,
             {{"none", SchemaFormat::kNone}, {"auto", SchemaFormat::kAuto}, {"avro", SchemaFormat::kAvro},
              {"protobuf", SchemaFormat::kProtobuf}, {"json_schema", SchemaFormat::kJsonSchema}});
  }
  r.finish();
}

// Reads the keys of one lambda table; `path` is its key path ("lambda" or "lambda[2]").
Lambda read_lambda(const FileContext& ctx, const toml::table& t, const std::string& path, const Config& main,
                   const std::string& default_name) {
  TableReader r(ctx, t, path);
  Lambda l;
  l.source = ctx.file;
  const toml::source_region& at = t.get("name") != nullptr ? t.get("name")->source() : t.source();
  l.line = at.begin.line;
  l.column = at.begin.column;
  l.instance = main.instance;
  l.bootstrap_servers = main.bootstrap_servers;
  l.kafka_properties = main.kafka_properties;
  l.kafka_property_sources = main.kafka_property_sources;

  const bool named = r.str("name", l.name, default_name.empty());
  if (!named) l.name = default_name;
  if (!l.name.empty() && !valid_name(l.name)) {
    r.error(t.get("name"), "name", "\"" + l.name + "\" must be 1-64 letters, digits, '_' or '-'");
  } else if (named && !default_name.empty() && l.name != default_name) {
    r.error(t.get("name"), "name",
            "\"" + l.name + "\" differs from the file name \"" + default_name + ".toml\"; name the file after the lambda");
  }
  if (r.str_list("topics", l.topics, true)) {
    if (l.topics.empty()) r.error(t.get("topics"), "topics", "must name at least one topic");
    for (const auto& topic : l.topics) {
      if (!valid_topic(topic)) r.error(t.get("topics"), "topics", "\"" + topic + "\" is not a valid topic name");
    }
  }
  if (!r.str("group_id", l.group_id) || l.group_id.empty()) l.group_id = "lambda-" + l.name;
  r.choice("auto_offset_reset", l.auto_offset_reset,
           {{"earliest", OffsetReset::kEarliest}, {"latest", OffsetReset::kLatest}, {"error", OffsetReset::kError}});
  r.choice("ordering", l.ordering, {{"partition", Ordering::kPartition}, {"key", Ordering::kKey}, {"none", Ordering::kNone}});
  r.choice("format", l.format,
           {{"raw", Format::kRaw}, {"json", Format::kJson}, {"aws", Format::kAws}, {"cloudevents", Format::kCloudEvents}});
  r.uint("workers", l.workers, 1, 256);
  r.uint("max_in_flight", l.max_in_flight, 1, 1'000'000);
  r.uint("ring_bytes", l.ring_bytes, 64 << 10, 1LL << 30);
  r.uint("max_record_bytes", l.max_record_bytes, 1 << 10, 512LL << 20);
  r.uint("batch_size", l.batch_size, 1, 10'000);
  r.uint("batch_window_ms", l.batch_window_ms, 0, 60'000);
  r.boolean("bisect_batch_on_error", l.bisect_batch_on_error);
  r.boolean("trace", l.trace);
  l.filters = read_filters(r, path);
  r.uint("commit_interval_ms", l.commit_interval_ms, 10, 600'000);
  if (r.uint("drain_timeout_ms", l.drain_timeout_ms, 0, kMaxMs) && l.drain_timeout_ms >= main.shutdown_timeout_ms) {
    // The consumer must drain, commit and leave the group before the supervisor kills it.
    r.error(t.get("drain_timeout_ms"), "drain_timeout_ms",
            "must be less than shutdown_timeout_ms (" + std::to_string(main.shutdown_timeout_ms) + ")");
  }
  r.uint("max_attempts", l.max_attempts, 1, 1000);
  r.uint_pair("retry_backoff_ms", l.retry_backoff_ms, 0, kMaxMs);
  r.str("dead_letter_topic", l.dead_letter_topic);
  // Without an explicit policy, a lambda that has a dead-letter topic uses it; otherwise
  // a failed record stops its partition: nothing is ever dropped by default.
  if (!l.dead_letter_topic.empty()) l.on_failure = OnFailure::kDeadLetter;
  const bool has_policy =
      r.choice("on_failure", l.on_failure, {{"dead_letter", OnFailure::kDeadLetter}, {"skip", OnFailure::kSkip}, {"stop", OnFailure::kStop}});
  if (has_policy && l.on_failure == OnFailure::kDeadLetter && l.dead_letter_topic.empty()) {
    r.error(t.get("on_failure"), "on_failure", "\"dead_letter\" needs dead_letter_topic");
  }
  if (!l.dead_letter_topic.empty() && !valid_topic(l.dead_letter_topic)) {
    r.error(t.get("dead_letter_topic"), "dead_letter_topic", "\"" + l.dead_letter_topic + "\" is not a valid topic name");
  }
  r.uint("max_record_age_s", l.max_record_age_s, 0, 365LL * 24 * 3600);
  r.uint("resume_stopped_after_s", l.resume_stopped_after_s, 0, 365LL * 24 * 3600);
  r.boolean("static_membership", l.static_membership);
  // The ring must hold two of the largest records (a wrap may waste up to one).
  const std::uint64_t ring_pow2 = std::bit_ceil(l.ring_bytes);
  if (l.max_record_bytes + 128 > ring_pow2 / 2) {
    r.error(t.get("max_record_bytes"), "max_record_bytes",
            "must be at most half of ring_bytes (" + std::to_string(ring_pow2) + ") minus 128");
  }

  if (const toml::table* kt = r.table("kafka")) {
    TableReader k(ctx, *kt, path + ".kafka");
    k.str("bootstrap_servers", l.bootstrap_servers);
    k.scalar_map("properties", l.kafka_properties, &l.kafka_property_sources);
    k.finish();
  }
  if (l.bootstrap_servers.empty()) {
    r.error(nullptr, "kafka.bootstrap_servers",
            "no brokers: set [kafka] bootstrap_servers in the main file or the lambda, or KAFKA_BROKERS");
  }

  if (const toml::table* st = r.table("schema_registry")) read_schema_registry(ctx, *st, path + ".schema_registry", l.schema_registry);

  if (const toml::table* ht = r.table("handler", true)) {
    TableReader h(ctx, *ht, path + ".handler");
    const bool typed = h.choice("type", l.handler.type,
                                {{"plugin", HandlerType::kPlugin},
                                 {"http", HandlerType::kHttp},
                                 {"exec", HandlerType::kExec},
                                 {"python", HandlerType::kPython}});
    if (!typed && !h.has("type")) h.error(nullptr, "type", "is required (\"plugin\", \"http\", \"exec\" or \"python\")");
    h.uint("timeout_ms", l.handler.timeout_ms, 1, kMaxMs);
    h.uint("memory_limit_mb", l.handler.memory_limit_mb, 0, 1 << 20);
    h.uint("max_concurrency", l.handler.max_concurrency, 1, 1024);
    h.choice("http_version", l.handler.http_version,
             {{"auto", HttpVersion::kAuto}, {"1.1", HttpVersion::kHttp1}, {"2", HttpVersion::kHttp2}});
    h.str("path", l.handler.path);
    h.str("function", l.handler.function);
    h.str("url", l.handler.url);
    h.scalar_map("headers", l.handler.headers);
    for (const auto& [key, file] : {std::pair<const char*, std::string*>{"ca_file", &l.handler.ca_file},
                                    {"client_cert", &l.handler.client_cert},
                                    {"client_key", &l.handler.client_key}}) {
      if (h.str(key, *file)) {
        if (auto why = unreadable_file(*file)) h.error(ht->get(key), key, "\"" + *file + "\": " + *why);
      }
    }
    h.str_list("command", l.handler.command);
    h.scalar_map("env", l.handler.env);
    h.scalar_map("options", l.handler.options);
    if (typed && (l.handler.type == HandlerType::kPlugin || l.handler.type == HandlerType::kPython) &&
        h.has("max_concurrency")) {
      h.error(ht->get("max_concurrency"), "max_concurrency",
              std::string("is for http and exec handlers: a worker calls its ") +
                  (l.handler.type == HandlerType::kPlugin ? "plugin" : "Python function") + " one call at a time (use more workers)");
    }
    if (typed && l.handler.type != HandlerType::kPython && h.has("function")) {
      h.error(ht->get("function"), "function", "is for python handlers");
    }
    if (typed && l.handler.type != HandlerType::kHttp && h.has("http_version")) {
      h.error(ht->get("http_version"), "http_version", "is for http handlers");
    }
    if (typed) {
      switch (l.handler.type) {
        case HandlerType::kPlugin:
          if (l.handler.path.empty()) {
            h.error(nullptr, "path", "is required for a plugin handler (the shared library)");
          } else if (auto why = l.handler.path.find('/') == std::string::npos
                                    ? std::nullopt  // a bare name is left to the loader's search path
                                    : unreadable_file(l.handler.path)) {
            h.error(ht->get("path"), "path", "\"" + l.handler.path + "\": " + *why);
          }
          break;
        case HandlerType::kHttp:
          if (l.handler.url.empty()) {
            h.error(nullptr, "url", "is required for an http handler");
          } else if (!l.handler.url.starts_with("http://") && !l.handler.url.starts_with("https://")) {
            h.error(ht->get("url"), "url", "\"" + redact_url(l.handler.url) + "\" must start with http:// or https://");
          }
          break;
        case HandlerType::kPython:
          if (l.handler.path.empty()) {
            h.error(nullptr, "path", "is required for a python handler (the file that defines the function)");
          } else if (auto why = unreadable_file(l.handler.path)) {
            h.error(ht->get("path"), "path", "\"" + l.handler.path + "\": " + *why);
          }
          if (l.handler.function.empty()) h.error(ht->get("function"), "function", "must name the function to call");
          break;
        case HandlerType::kExec:
          if (l.handler.command.empty()) {
            h.error(nullptr, "command", "is required for an exec handler (argv array)");
          } else if (auto why = not_executable(l.handler.command.front())) {
            h.error(ht->get("command"), "command", "\"" + l.handler.command.front() + "\": " + *why);
          }
          break;
      }
    }
    h.finish();
  }
  r.finish();
  return l;
}

void read_main(const FileContext& ctx, const toml::table& t, Config& c) {
  TableReader r(ctx, t, "");
  r.str("instance", c.instance);
  if (!valid_name(c.instance)) {
    r.error(t.get("instance"), "instance", "\"" + c.instance + "\" must be 1-64 letters, digits, '_' or '-'");
  }
  r.str("runtime_dir", c.runtime_dir);
  r.str("lambdas_dir", c.lambdas_dir);
  r.str("admin_listen", c.admin_listen);
  if (!c.admin_listen.empty() && !split_listen(c.admin_listen)) {
    r.error(t.get("admin_listen"), "admin_listen",
            "\"" + c.admin_listen + "\" must be HOST:PORT (e.g. \"127.0.0.1:9464\", \"[::1]:9464\"), or \"\" for no admin API");
  }
  r.str("admin_token_file", c.admin_token_file);
  if (const auto parts = split_listen(c.admin_listen); parts && !is_loopback(parts->first) && c.admin_token_file.empty()) {
    // Without a token file the daemon makes its own token, but reads (/lambdas, /metrics)
    // stay open: fine on loopback, not for every host that can reach this address.
    r.error(t.get("admin_listen"), "admin_listen",
            "\"" + c.admin_listen + "\" is not a loopback address: set admin_token_file too, so that nobody on the "
            "network can read or steer the daemon");
  }
  r.uint("shutdown_timeout_ms", c.shutdown_timeout_ms, 100, kMaxMs);
  if (const toml::table* st = r.table("supervisor")) {
    TableReader s(ctx, *st, "supervisor");
    s.uint("restart_backoff_min_ms", c.restart.backoff_min_ms, 1, 3'600'000);
    s.uint("restart_backoff_max_ms", c.restart.backoff_max_ms, 1, 3'600'000);
    s.uint("max_restarts", c.restart.max_restarts, 0, 1'000'000);
    s.uint("restart_window_s", c.restart.window_s, 1, 86'400);
    s.uint("start_attempts", c.restart.start_attempts, 1, 1'000'000);
    s.uint("consumer_stall_s", c.restart.consumer_stall_s, 5, 86'400);
    if (c.restart.backoff_min_ms > c.restart.backoff_max_ms) {
      s.error(st->get("restart_backoff_min_ms"), "restart_backoff_min_ms", "must not exceed restart_backoff_max_ms");
    }
    s.finish();
  }
  if (const toml::table* kt = r.table("kafka")) {
    TableReader k(ctx, *kt, "kafka");
    k.str("bootstrap_servers", c.bootstrap_servers);
    k.scalar_map("properties", c.kafka_properties, &c.kafka_property_sources);
    k.finish();
  }
  if (c.bootstrap_servers.empty()) {
    if (const char* env = std::getenv("KAFKA_BROKERS")) c.bootstrap_servers = env;
  }
  // Lambdas in the main file need the [kafka] values above, so read them last.
  if (const toml::array* la = r.array("lambda")) {
    for (std::size_t i = 0; i < la->size(); ++i) {
      const std::string path = "lambda[" + std::to_string(i) + "]";
      if (const auto* lt = la->get(i)->as_table()) {
        c.lambdas.push_back(read_lambda(ctx, *lt, path, c, ""));
      } else {
        ctx.error(la->get(i)->source(), path, "must be a table ([[lambda]])");
      }
    }
  }
  r.finish();
}

std::optional<toml::table> parse(const fs::path& file, std::vector<Diagnostic>& diags) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    diags.push_back(Diagnostic{file.string(), e.source().begin.line, e.source().begin.column, "",
                               std::string(e.description())});
  }
  return std::nullopt;
}

}  // namespace

// Lambda and instance names end up in shm names, group ids and file names.
bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

std::optional<std::pair<std::string, int>> split_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return std::nullopt;
  std::string host = listen.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // a bare IPv6 address needs brackets
  }
  int port = 0;
  const std::string p = listen.substr(colon + 1);
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), [](unsigned char ch) { return std::isdigit(ch); })) return std::nullopt;
  port = std::stoi(p);
  if (port > 65535) return std::nullopt;
  return std::make_pair(host, port);
}

bool is_loopback(const std::string& host) {
  std::string h = host;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (h == "localhost") return true;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

namespace {
// By file, then where in it: the order an operator fixes them in.
std::vector<Diagnostic> sorted(std::vector<Diagnostic> d) {
  std::stable_sort(d.begin(), d.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  return d;
}
}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> d)
    : std::runtime_error(join_messages(sorted(d))), diagnostics_(sorted(std::move(d))) {}

fs::path default_path() {
  if (const char* p = std::getenv("SLUICE_CONFIG"); p != nullptr && *p != '\0') return p;
  return "/etc/sluice/sluice.toml";
}

bool is_secret_property(const std::string& key) {
  static const char* const kMarkers[] = {"password", "secret", "token", "key", "credential", "jaas"};
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (k.ends_with(".location")) return false;  // a path, not the secret itself
  return std::any_of(std::begin(kMarkers), std::end(kMarkers), [&](const char* m) { return k.find(m) != std::string::npos; });
}

std::string redact_url(std::string_view url) {
  std::string out;
  const auto scheme = url.find("://");
  std::size_t at = 0;
  if (scheme != std::string_view::npos) {
    out.append(url.substr(0, scheme + 3));
    at = scheme + 3;
    const auto authority_end = url.find_first_of("/?#", at);
    const std::string_view authority = url.substr(at, authority_end == std::string_view::npos ? url.npos : authority_end - at);
    if (const auto cred = authority.rfind('@'); cred != std::string_view::npos) {
      out += "***@";
      at += cred + 1;
    }
  }
  const auto query = url.find('?', at);
  if (query == std::string_view::npos) return out.append(url.substr(at));
  out.append(url.substr(at, query + 1 - at));
  const auto fragment = url.find('#', query);
  const std::string_view q = url.substr(query + 1, fragment == std::string_view::npos ? url.npos : fragment - query - 1);
  std::size_t pos = 0;
  while (pos <= q.size()) {
    const auto amp = q.find('&', pos);
    const std::string_view pair = q.substr(pos, amp == std::string_view::npos ? q.npos : amp - pos);
    const auto eq = pair.find('=');
    out.append(pair.substr(0, eq));
    if (eq != std::string_view::npos) out += "=***";
    if (amp == std::string_view::npos) break;
    out += '&';
    pos = amp + 1;
  }
  if (fragment != std::string_view::npos) out.append(url.substr(fragment));
  return out;
}

namespace {

// Whoever can write the config decides what the daemon runs (handlers are programs) and
// where its secrets go: a file or directory anyone may write is refused; one its group
// may write is reported.
void check_writers(const fs::path& path, std::vector<Diagnostic>& diags, std::vector<std::string>& warnings) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if ((st.st_mode & S_IWOTH) != 0 && !((st.st_mode & S_ISVTX) != 0 && S_ISDIR(st.st_mode))) {
    diags.push_back(Diagnostic{path.string(), 0, 0, "", std::string("any local user may write it (mode ") + mode +
                                                           "): whoever writes the config chooses what sluice runs; run "
                                                           "`chmod o-w " + path.string() + "`"});
  } else if ((st.st_mode & S_IWGRP) != 0) {
    warnings.push_back(path.string() + ": its group may write it (mode " + mode +
                       "), and so choose what sluice runs; `chmod g-w` unless that is meant");
  }
}

Config load_filtered(const fs::path& main_file, const std::string* only_lambda) {
  std::vector<Diagnostic> diags;
  Config c;
  c.source = main_file.string();
  {
    std::error_code ec;
    if (!fs::is_regular_file(main_file, ec)) {
      throw ConfigError({Diagnostic{main_file.string(), 0, 0, "", "cannot read config file: " +
                                                                      (ec ? ec.message() : std::string("not a regular file"))}});
    }
    if (access(main_file.c_str(), R_OK) != 0) {
      throw ConfigError({Diagnostic{main_file.string(), 0, 0, "", "cannot read config file: permission denied"}});
    }
  }
  check_writers(main_file, diags, c.warnings);
  auto main_table = parse(main_file, diags);
  if (!main_table) throw ConfigError(std::move(diags));
  read_main(FileContext{main_file.string(), &diags}, *main_table, c);

  const fs::path base = main_file.parent_path();
  if (c.lambdas_dir.empty()) {
    c.lambdas_dir = (base / "lambdas.d").string();
  } else if (fs::path(c.lambdas_dir).is_relative()) {
    c.lambdas_dir = (base / c.lambdas_dir).string();
  }
  if (c.runtime_dir.empty()) {
    if (const char* rd = std::getenv("RUNTIME_DIRECTORY"); rd != nullptr && *rd != '\0') {
      c.runtime_dir = rd;  // systemd RuntimeDirectory=
    } else if (geteuid() == 0) {
      c.runtime_dir = "/run/sluice";
    } else if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
      c.runtime_dir = std::string(xdg) + "/sluice";
    } else {
      c.runtime_dir = "/tmp/sluice-" + std::to_string(geteuid());
    }
  }

  std::error_code ec;
  if (fs::is_directory(c.lambdas_dir, ec)) {
    check_writers(c.lambdas_dir, diags, c.warnings);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(c.lambdas_dir, ec)) {
      if (e.path().extension() != ".toml") continue;
      if (only_lambda != nullptr && e.path().stem() != *only_lambda) continue;
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      check_writers(f, diags, c.warnings);
      auto t = parse(f, diags);
      if (!t) continue;
      FileContext ctx{f.string(), &diags};
      TableReader top(ctx, *t, "");
      if (const toml::table* lt = top.table("lambda", true)) {
        c.lambdas.push_back(read_lambda(ctx, *lt, "lambda", c, f.stem().string()));
      }
      top.finish();
    }
  }

  for (std::size_t i = 0; i < c.lambdas.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (!c.lambdas[i].name.empty() && c.lambdas[i].name == c.lambdas[j].name) {
        diags.push_back(Diagnostic{c.lambdas[i].source, c.lambdas[i].line, c.lambdas[i].column, "lambda.name",
                                   "duplicate lambda \"" + c.lambdas[i].name + "\" (also defined in " +
                                       c.lambdas[j].source + ")"});
      }
    }
  }
  if (!diags.empty()) throw ConfigError(std::move(diags));
  return c;
}

}  // namespace

Config load(const fs::path& main_file) { return load_filtered(main_file, nullptr); }

Config load_one(const fs::path& main_file, const std::string& only_lambda) { return load_filtered(main_file, &only_lambda); }

}  // namespace sluice::config
