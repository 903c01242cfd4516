#include "kafka/kafka_handles.hpp"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

namespace sluice::kafka {
namespace {

// librdkafka's own lines go through sluice's logger, so they carry its format (JSON or
// text with journald's <N> level prefix) and its level filter; written to stderr by
// librdkafka they were all "info" to journald and broke a JSON log stream.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const auto to = level <= 2 ? spdlog::level::critical
                  : level == 3 ? spdlog::level::err
                  : level == 4 ? spdlog::level::warn
                  : level <= 6 ? spdlog::level::info
                               : spdlog::level::debug;
  spdlog::log(to, "kafka {} {}: {}", rk != nullptr ? rd_kafka_name(rk) : "client", facility, text);
}

}  // namespace

ConfPtr make_conf(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &log_line);
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error("kafka property " + k + ": " + err);
    }
  }
  return conf;
}

std::map<std::string, std::string> consumer_properties(const config::Lambda& l) {
  std::map<std::string, std::string> props{
      {"bootstrap.servers", l.bootstrap_servers},
      {"group.id", l.group_id},
      {"client.id", "sluice-" + l.instance + "-" + l.name},
      {"partition.assignment.strategy", "cooperative-sticky"},
      // librdkafka's own reset would also jump silently over a log truncated past the
      // committed offset; with "error" every reset comes to on_offset_reset, which
      // applies the lambda's auto_offset_reset and reports what was skipped.
      {"auto.offset.reset", "error"},
      {"enable.partition.eof", "false"},
  };
  // Static membership: a consumer restarted by the supervisor rejoins under the same
  // identity and gets its partitions back at once, instead of after session.timeout.ms.
  // Host + instance + lambda is unique: one daemon per instance per host (the lock).
  if (l.static_membership) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    props["group.instance.id"] = "sluice-" + std::string(host) + "-" + l.instance + "-" + l.name;
  }
  for (const auto& [k, v] : l.kafka_properties) props[k] = v;
  // The commit rule depends on these; a property cannot change them. Only the watermark
  // is ever stored (rd_kafka_offsets_store), and librdkafka's auto-commit sends what is
  // stored: it knows the group's state and does not commit into a rebalance.
  for (const auto& [k, want] : {std::pair<const char*, const char*>{"enable.auto.commit", "true"},
                                {"enable.auto.offset.store", "false"}}) {
    if (auto it = props.find(k); it != props.end() && it->second != want) {
      spdlog::warn("ignoring kafka property {}={}: sluice commits only completed offsets", k, it->second);
    }
    props[k] = want;
  }
  props["auto.commit.interval.ms"] = std::to_string(l.commit_interval_ms);
  // Broker connection state (health, metrics) comes from the statistics reports.
  if (auto it = props.find("statistics.interval.ms"); it == props.end() || it->second == "0") {
    if (it != props.end()) spdlog::warn("ignoring kafka property statistics.interval.ms=0: sluice reads broker state from them");
    props["statistics.interval.ms"] = "1000";
  }
  if (auto it = l.kafka_properties.find("auto.offset.reset"); it != l.kafka_properties.end()) {
    spdlog::warn("ignoring kafka property auto.offset.reset={}: set the lambda's auto_offset_reset instead", it->second);
    props["auto.offset.reset"] = "error";
  }
  return props;
}

namespace {

// Each value of `l`'s properties librdkafka refuses, where it was written.
std::vector<config::Diagnostic> refused_values(const config::Lambda& l) {
  std::vector<config::Diagnostic> out;
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : l.kafka_properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK) continue;
    config::Diagnostic d;
    if (auto it = l.kafka_property_sources.find(k); it != l.kafka_property_sources.end()) {
      d = it->second;
    } else {
      d = config::Diagnostic{l.source, l.line, l.column, "kafka.properties." + k, ""};
    }
    // librdkafka's text quotes the value; a secret's must not reach a log.
    d.message = config::is_secret_property(k) ? std::string("librdkafka refuses this value") : std::string(err);
    out.push_back(std::move(d));
  }
  return out;
}

// Each value may pass and the combination still be refused: librdkafka checks some
// properties against each other only when a client is made (fetch.max.bytes must be at
// least message.max.bytes, say), so `run` would crash-loop on what `validate` passed.
// Makes a consumer client of `properties` (each one valid), without brokers (nothing
// connects), and destroys it. Returns librdkafka's complaint, or "".
std::string refused_together(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : properties) rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err);
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_conf_set(conf.get(), "group.id", "sluice-validate", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (rk == nullptr) return err;
  (void)conf.release();  // rd_kafka_new owns it now
  rd_kafka_destroy(rk);
  return "";
}

config::Diagnostic together_diagnostic(const config::Lambda& l, const std::string& complaint) {
  config::Diagnostic d{l.source, l.line, l.column, "kafka.properties", ""};
  if (!l.kafka_property_sources.empty()) {
    // Point at the first property written: the combination is somewhere among them.
    auto first = std::min_element(l.kafka_property_sources.begin(), l.kafka_property_sources.end(),
                                  [](const auto& a, const auto& b) {
                                    return std::tie(a.second.file, a.second.line, a.second.column) <
                                           std::tie(b.second.file, b.second.line, b.second.column);
                                  });
    d = first->second;
    d.key = d.key.substr(0, d.key.find("kafka.properties")) + "kafka.properties";
  }
  d.message = "librdkafka refuses these properties together: " + complaint;
  return d;
}

}  // namespace

std::vector<config::Diagnostic> check_properties(const config::Config& c) {
  std::vector<config::Diagnostic> out;
  // Lambdas mostly share the main file's properties, and a client costs threads and a
  // few ms: one per distinct property set, on every start and reload.
  std::map<std::map<std::string, std::string>, std::string> tried;
  for (const auto& l : c.lambdas) {
    auto diags = refused_values(l);
    if (diags.empty()) {
      auto [it, fresh] = tried.try_emplace(l.kafka_properties);
      if (fresh) it->second = refused_together(l.kafka_properties);
      if (!it->second.empty()) diags.push_back(together_diagnostic(l, it->second));
    }
    for (auto& d : diags) {
      // A main-file property reaches every lambda: report it once.
      const bool seen = std::any_of(out.begin(), out.end(), [&](const config::Diagnostic& o) { return o.str() == d.str(); });
      if (!seen) out.push_back(std::move(d));
    }
  }
  return out;
}

KafkaPtr make_client(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("cannot create Kafka client: ") + err);
  (void)conf.release();  // rd_kafka_new owns it now
  return KafkaPtr(rk);
}

}  // namespace sluice::kafka
