#include "app/offsets_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/admin_client.hpp"
#include "kafka/group_offsets.hpp"

namespace sluice::app {
namespace {

const config::Lambda* find_lambda(const config::Config& c, const std::string& name) {
  for (const auto& l : c.lambdas) {
    if (l.name == name) return &l;
  }
  std::cerr << "no lambda named \"" << name << "\" in the configuration\n";
  return nullptr;
}

std::map<std::string, std::string> client_props(const config::Lambda& l) {
  auto props = l.kafka_properties;
  props["bootstrap.servers"] = l.bootstrap_servers;
  return props;
}

std::string known(std::int64_t v) { return v < 0 ? "-" : std::to_string(v); }

}  // namespace

int cmd_offsets_show(const config::Config& c, const std::string& lambda) {
  const config::Lambda* l = find_lambda(c, lambda);
  if (l == nullptr) return 2;
  const auto rows = kafka::group_offsets(client_props(*l), l->group_id, l->topics);
  std::printf("%-30s %9s %12s %12s %10s\n", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG");
  std::int64_t total = 0;
  for (const auto& r : rows) {
    std::printf("%-30s %9d %12s %12lld %10lld\n", r.topic.c_str(), r.partition, known(r.committed).c_str(),
                static_cast<long long>(r.high), static_cast<long long>(r.lag()));
    total += std::max<std::int64_t>(r.lag(), 0);
  }
  std::printf("group %s: total lag %lld\n", l->group_id.c_str(), static_cast<long long>(total));
  return 0;
}

int cmd_offsets_reset(const config::Config& c, const ResetOptions& o) {
  const config::Lambda* l = find_lambda(c, o.lambda);
  if (l == nullptr) return 2;
  kafka::ResetTarget target;
  const int chosen = int{o.to_earliest} + int{o.to_latest} + int{o.to_offset.has_value()} + int{!o.to_datetime.empty()} +
                     int{o.shift_by.has_value()};
  if (chosen != 1) {
    std::cerr << "choose exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by\n";
    return 2;
  }
  using Kind = kafka::ResetTarget::Kind;
  if (o.to_earliest) target = {Kind::kEarliest, 0};
  if (o.to_latest) target = {Kind::kLatest, 0};
  if (o.to_offset) target = {Kind::kOffset, *o.to_offset};
  if (o.shift_by) target = {Kind::kShift, *o.shift_by};
  if (!o.to_datetime.empty()) {
    const auto ms = kafka::parse_datetime_ms(o.to_datetime);
    if (!ms) {
      std::cerr << "--to-datetime \"" << o.to_datetime
                << "\": expected e.g. 2026-11-23T10:00:00Z, 2026-11-23T10:00:00.250+02:00 or milliseconds since the epoch\n";
      return 2;
    }
    target = {Kind::kDatetime, *ms};
  }
  std::string topic = o.topic;
  std::int32_t partition = -1;
  if (const auto colon = topic.find(':'); colon != std::string::npos) {
    try {
      partition = std::stoi(topic.substr(colon + 1));
    } catch (const std::exception&) {
      std::cerr << "--topic \"" << o.topic << "\": expected TOPIC or TOPIC:PARTITION\n";
      return 2;
    }
    topic = topic.substr(0, colon);
  }
  if (!topic.empty() && std::find(l->topics.begin(), l->topics.end(), topic) == l->topics.end()) {
    std::cerr << "lambda " << l->name << " does not consume topic \"" << topic << "\"\n";
    return 2;
  }

  const auto plan = kafka::plan_reset(client_props(*l), l->group_id, l->topics, target, topic, partition);
  if (plan.empty()) {
    std::cerr << "no partition matches --topic " << o.topic << "\n";
    return 2;
  }
  std::printf("%-30s %9s %12s %12s %12s %12s\n", "TOPIC", "PARTITION", "COMMITTED", "NEW", "LOG START", "END");
  for (const auto& p : plan) {
    std::printf("%-30s %9d %12s %12lld %12lld %12lld\n", p.now.topic.c_str(), p.now.partition, known(p.now.committed).c_str(),
                static_cast<long long>(p.target), static_cast<long long>(p.now.low), static_cast<long long>(p.now.high));
  }
  if (!o.execute) {
    std::printf("dry run: nothing committed; add --execute to commit these offsets for group %s\n", l->group_id.c_str());
    return 0;
  }
  // The running lambda would commit over the new offsets (and holds its partitions).
  if (const auto state = daemon_state_of(c, l->name); state && *state != "stopped" && *state != "failed") {
    std::cerr << "lambda " << l->name << " is " << *state << " in the running daemon; stop it first "
              << "(curl -X DELETE http://<admin_listen>/kafka/register/" << l->name
              << ", or stop sluice), then register it again after the reset\n";
    return 1;
  }
  if (const int members = kafka::group_members(client_props(*l), l->group_id); members > 0) {
    std::cerr << "group " << l->group_id << " has " << members
              << " active member(s) (another sluice daemon?); stop them before resetting its offsets\n";
    return 1;
  }
  // A stopped lambda's static member stays in the group until its session times out;
  // joining waits for that.
  const auto it = l->kafka_properties.find("session.timeout.ms");
  const int session_ms = it != l->kafka_properties.end() ? std::stoi(it->second) : 45000;
  std::printf("joining group %s to commit (up to %d s while a stopped member's session expires)\n", l->group_id.c_str(),
              session_ms / 1000 + 15);
  std::fflush(stdout);
  kafka::commit_reset(client_props(*l), l->group_id, plan, session_ms + 15000);
  std::printf("committed the new offsets for group %s\n", l->group_id.c_str());
  return 0;
}

}  // namespace sluice::app
