#include "consumer/dead_letters.hpp"

#include <spdlog/spdlog.h>

namespace sluice::consumer {

DeadLetterProducer::DeadLetterProducer(const config::Lambda& lambda, Delivered on_delivered,
                                       Undeliverable on_undeliverable)
    : topic_(lambda.dead_letter_topic),
      lambda_(lambda.name),
      on_delivered_(std::move(on_delivered)),
      on_undeliverable_(std::move(on_undeliverable)),
      producer_(
          lambda, "dlq",
          [this](std::uint64_t token) {
            auto it = sent_.find(token);
            if (it == sent_.end()) return;
            const DeadLetter& dl = it->second.letter;
            spdlog::warn("lambda {}: dead-lettered {}[{}]@{} to {} after {} attempt(s){}: {}", lambda_, dl.source_topic,
                         dl.partition, dl.offset, topic_, dl.attempts,
                         it->second.dropped == 0   ? ""
                         : it->second.dropped == 1 ? " without its value (too large)"
                                                   : " without its key, value and headers (too large)",
                         dl.error);
            on_delivered_(dl);
            sent_.erase(it);
          },
          [this](std::uint64_t token, kafka::OutMessage, rd_kafka_resp_err_t err) {
            auto it = sent_.find(token);
            if (it == sent_.end()) return;
            if (it->second.dropped < 2) {
              ++it->second.dropped;
              it->second.why = rd_kafka_err2str(err);
              return produce(token);
            }
            const DeadLetter dl = std::move(it->second.letter);
            sent_.erase(it);
            on_undeliverable_(dl, rd_kafka_err2str(err));
          }) {}

void DeadLetterProducer::send(DeadLetter dl) {
  const std::uint64_t token = next_token_++;
  sent_.emplace(token, Sent{std::move(dl), 0, ""});
  produce(token);
}

void DeadLetterProducer::produce(std::uint64_t token) {
  const Sent& s = sent_.at(token);
  const DeadLetter& dl = s.letter;
  kafka::OutMessage m{topic_, RD_KAFKA_PARTITION_UA, dl.key, dl.value, {}};
  if (s.dropped >= 1) m.value.reset();
  if (s.dropped >= 2) m.key.reset();
  if (s.dropped < 2) m.headers = dl.headers;
  std::vector<std::pair<std::string, std::string>> ours{{"sluice-error", dl.error},
                                                        {"sluice-attempts", std::to_string(dl.attempts)},
                                                        {"sluice-source-topic", dl.source_topic},
                                                        {"sluice-source-partition", std::to_string(dl.partition)},
                                                        {"sluice-source-offset", std::to_string(dl.offset)}};
  if (s.dropped >= 1) ours.emplace_back("sluice-dead-letter-refused", s.why);
  if (s.dropped >= 1 && dl.value) ours.emplace_back("sluice-value-dropped", std::to_string(dl.value->size()));
  if (s.dropped >= 2) {
    if (dl.key) ours.emplace_back("sluice-key-dropped", std::to_string(dl.key->size()));
    ours.emplace_back("sluice-headers-dropped", std::to_string(dl.headers.size()));
  }
  for (auto& [n, v] : ours) m.headers.emplace_back(n, std::move(v));
  std::string what = "dead letter for " + dl.source_topic + "[" + std::to_string(dl.partition) + "]@" +
                     std::to_string(dl.offset);
  producer_.send(std::move(m), token, std::move(what));
}

}  // namespace sluice::consumer
