#include "consumer/dead_letters.hpp"

#include <spdlog/spdlog.h>

namespace sluice::consumer {

DeadLetterProducer::DeadLetterProducer(const config::Lambda& lambda, Delivered on_delivered)
    : topic_(lambda.dead_letter_topic),
      lambda_(lambda.name),
      on_delivered_(std::move(on_delivered)),
      producer_(lambda, "dlq", [this](std::uint64_t token) {
        auto it = sent_.find(token);
        if (it == sent_.end()) return;
        const DeadLetter& dl = it->second;
        spdlog::warn("lambda {}: dead-lettered {}[{}]@{} to {} after {} attempt(s): {}", lambda_, dl.source_topic,
                     dl.partition, dl.offset, topic_, dl.attempts, dl.error);
        on_delivered_(dl);
        sent_.erase(it);
      }) {}

void DeadLetterProducer::send(DeadLetter dl) {
  OutMessage m{topic_, RD_KAFKA_PARTITION_UA, dl.key, dl.value, dl.headers};
  for (const auto& [n, v] : {std::pair<const char*, std::string>{"sluice-error", dl.error},
                             {"sluice-attempts", std::to_string(dl.attempts)},
                             {"sluice-source-topic", dl.source_topic},
                             {"sluice-source-partition", std::to_string(dl.partition)},
                             {"sluice-source-offset", std::to_string(dl.offset)}}) {
    m.headers.emplace_back(n, v);
  }
  const std::uint64_t token = next_token_++;
  std::string what = "dead letter for " + dl.source_topic + "[" + std::to_string(dl.partition) + "]@" +
                     std::to_string(dl.offset);
  sent_.emplace(token, std::move(dl));
  producer_.send(std::move(m), token, std::move(what));
}

}  // namespace sluice::consumer
