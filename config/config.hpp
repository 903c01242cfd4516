// sluice's configuration: one main TOML file plus lambdas.d/*.toml, parsed strictly
// into these structs. See docs/configuration.md for every key.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/filter.hpp"

namespace sluice::config {

enum class Ordering { kPartition, kKey, kNone };
enum class OnFailure { kDeadLetter, kSkip, kStop };
enum class Format { kRaw, kJson, kAws, kCloudEvents };
enum class HandlerType { kPlugin, kHttp, kExec, kPython };
// kAuto: HTTP/2 where TLS's ALPN offers it, else HTTP/1.1; kHttp2: HTTP/2 only, on
// plain http:// with prior knowledge (h2c).
enum class HttpVersion { kAuto, kHttp1, kHttp2 };
enum class OffsetReset { kEarliest, kLatest, kError };
// How a record's key or value is decoded against a schema registry: kAuto decodes when
// the bytes start with the Confluent wire format's magic byte, whatever the schema type.
enum class SchemaFormat { kNone, kAuto, kAvro, kProtobuf, kJsonSchema };

const char* to_string(Ordering);
const char* to_string(OnFailure);
const char* to_string(Format);
const char* to_string(HandlerType);
const char* to_string(OffsetReset);
const char* to_string(SchemaFormat);

struct Handler {
  HandlerType type = HandlerType::kPlugin;
  std::string path;                  // plugin: shared library; python: the lambda's file
  std::string function = "f";        // python: what to call in it
  std::string url;                   // http: endpoint
  std::map<std::string, std::string> headers;  // http: sent with every request (e.g. Authorization)
  std::string ca_file;      // http: CA bundle to verify the endpoint's certificate
  std::string client_cert;  // http: client certificate (PEM) for mutual TLS
  std::string client_key;   // http: its private key (PEM)
  std::vector<std::string> command;  // exec: argv
  std::map<std::string, std::string> env;  // exec: added to the child's environment; python: the worker's
  std::map<std::string, std::string> options;  // plugin: passed to init
  std::uint32_t timeout_ms = 30000;
  std::uint32_t memory_limit_mb = 0;  // RLIMIT_AS of the worker (and its handler); 0 = none
  // http: requests in flight per worker; exec: requests written ahead of their answers
  // (to a runner that listed `pipeline`). Records that must keep their order
  // (`ordering`) are never in flight together.
  std::uint32_t max_concurrency = 16;
  // http: which HTTP the requests speak.
  HttpVersion http_version = HttpVersion::kAuto;
};

// [lambda.schema_registry]: where Confluent-framed records' schemas come from.
struct SchemaRegistry {
  std::string url;  // "" = no registry: records reach handlers as they are
  std::string username;  // basic auth (with password)
  std::string password;
  std::string token;     // bearer token (instead of basic auth)
  std::string ca_file;
  std::string client_cert;
  std::string client_key;
  std::uint32_t timeout_ms = 10000;
  SchemaFormat value_format = SchemaFormat::kAuto;
  SchemaFormat key_format = SchemaFormat::kNone;
};

// One problem found in a config file.
struct Diagnostic {
  std::string file;
  std::uint32_t line = 0;  // 0 when unknown
  std::uint32_t column = 0;
  std::string key;  // dotted key path, e.g. "lambda.handler.type"
  std::string message;
  std::string str() const;  // "file:line:col: key: message"
};

struct Lambda {
  std::string name;
  std::string source;    // file it came from
  std::uint32_t line = 0;  // where it is defined in that file
  std::uint32_t column = 0;
  std::string instance;  // copied from the main config: children need it
  std::vector<std::string> topics;
  std::string group_id;  // "lambda-<name>" unless set
  std::string bootstrap_servers;
  std::map<std::string, std::string> kafka_properties;  // main [kafka.properties] + the lambda's
  // Where each of them was written, for errors only librdkafka can find (not in to_json).
  std::map<std::string, Diagnostic> kafka_property_sources;
  OffsetReset auto_offset_reset = OffsetReset::kEarliest;
  Ordering ordering = Ordering::kPartition;
  Format format = Format::kRaw;
  std::uint32_t workers = 1;
  std::uint32_t max_in_flight = 10000;  // per partition
  std::uint64_t ring_bytes = 4 << 20;
  std::uint64_t max_record_bytes = 1 << 20;
  std::uint32_t batch_size = 1;
  std::uint32_t batch_window_ms = 0;
  // A call of several records that fails as a whole (no record's own outcome known) is
  // split in two and each half called again, down to single records: only a record that
  // fails alone takes the failure path. False: the whole batch shares the failure.
  bool bisect_batch_on_error = true;
  // A record without a valid W3C traceparent header gets one (a new trace) before it
  // reaches a worker, so the handler, outbound records and dead letters share a context.
  bool trace = false;
  // Records that match none of these (when there are any) skip the handler: counted,
  // committed in order with the rest (docs/filters.md).
  std::vector<Filter> filters;
  std::uint32_t commit_interval_ms = 1000;
  std::uint32_t drain_timeout_ms = 10000;
  std::uint32_t max_attempts = 3;
  std::array<std::uint32_t, 2> retry_backoff_ms{100, 10000};
  OnFailure on_failure = OnFailure::kStop;
  std::string dead_letter_topic;
  std::uint32_t max_record_age_s = 0;  // 0 = no limit
  // A partition stopped by on_failure = "stop" is retried from its failed record after
  // this long (0: only by `sluice resume`).
  std::uint32_t resume_stopped_after_s = 0;
  bool static_membership = true;       // group.instance.id from host + instance + lambda
  SchemaRegistry schema_registry;
  Handler handler;
};

struct Restart {
  std::uint32_t backoff_min_ms = 100;
  std::uint32_t backoff_max_ms = 30000;
  std::uint32_t max_restarts = 10;
  std::uint32_t window_s = 60;
  // A lambda fails after this many processes in a row ended before they were up (a worker
  // before its handler started, a consumer before it subscribed): a plugin that cannot
  // load or a module that cannot import will not fix itself, and waiting out max_restarts
  // with growing backoff would hold READY for minutes.
  std::uint32_t start_attempts = 3;
  std::uint32_t consumer_stall_s = 120;  // a consumer whose loop made no pass for this long is killed
};

struct Config {
  std::string source;
  std::string instance = "default";
  std::string runtime_dir;  // lock file lives here
  std::string lambdas_dir;
  std::string admin_listen = "127.0.0.1:9464";  // "" = no admin API
  std::string admin_token_file;  // if set, requests need "Authorization: Bearer <its content>"
  std::uint32_t shutdown_timeout_ms = 30000;
  Restart restart;
  std::string bootstrap_servers;
  std::map<std::string, std::string> kafka_properties;
  std::map<std::string, Diagnostic> kafka_property_sources;
  std::vector<Lambda> lambdas;
  // Things worth saying that do not stop the load (e.g. a config file others may write).
  std::vector<std::string> warnings;
};


// Thrown by load(): every problem found, not just the first.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> d);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Exit status for configuration errors (sysexits.h EX_CONFIG).
inline constexpr int kExitConfig = 78;

// Loads the main file and every lambdas.d/*.toml, expands ${VAR} and ${VAR:-default},
// applies defaults, validates. Throws ConfigError.
Config load(const std::filesystem::path& main_file);

// As load(), but of lambdas.d only the file `<only_lambda>.toml` (if it exists) is
// read: registering one lambda must not depend on the state of the other files.
Config load_one(const std::filesystem::path& main_file, const std::string& only_lambda);

// True if `name` can name a lambda or an instance: 1-64 letters, digits, '_' or '-'.
bool valid_name(const std::string& name);

// "host:port" (host may be "[v6]") split into its parts; nullopt if malformed.
std::optional<std::pair<std::string, int>> split_listen(const std::string& listen);

// True for "localhost" and loopback IP addresses (127.0.0.0/8, ::1), bracketed or not.
bool is_loopback(const std::string& host);

// The default main config path: $SLUICE_CONFIG, else /etc/sluice/sluice.toml.
std::filesystem::path default_path();

// True for librdkafka properties whose values must never be printed or logged.
bool is_secret_property(const std::string& key);

// A URL as it may be printed: credentials in it (user:password@) and query values
// (?token=...) replaced by "***". Everything that prints or produces a handler's URL
// (`sluice list`, logs, dead letters' sluice-error) uses this.
std::string redact_url(std::string_view url);

}  // namespace sluice::config
