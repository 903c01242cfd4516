// Where a record that failed for good goes (its attempts ran out, its handler said it
// can never succeed, it is too large or too old): per on_failure it is skipped, sent to
// the dead-letter topic (its offset completes when the broker acknowledged the dead
// letter), or it holds its partition until an operator resumes it (docs/architecture.md,
// "Failure path").
#pragma once

#include <functional>
#include <memory>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "consumer/dead_letters.hpp"
#include "shm/layout.hpp"

namespace sluice::consumer {

class FailurePath {
 public:
  // stop: holds a partition where it is, reported (the consumer's stop_partition).
  // Throws std::runtime_error if the dead-letter producer cannot be created.
  FailurePath(const config::Lambda& lambda, shm::Stats& stats, Assignment& assignment, std::function<void(Partition&)> stop);

  // A record of p failed for good; dl holds its content and why.
  void fail(Partition& p, DeadLetter dl);
  // Serves the dead-letter producer's delivery reports.
  void poll() {
    if (dlq_) dlq_->poll();
  }

 private:
  const config::Lambda& lambda_;
  shm::Stats& stats_;
  Assignment& assignment_;
  std::function<void(Partition&)> stop_;
  std::unique_ptr<DeadLetterProducer> dlq_;  // with on_failure = "dead_letter"
};

}  // namespace sluice::consumer
