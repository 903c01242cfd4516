#include "consumer/failure_path.hpp"

#include <spdlog/spdlog.h>

namespace sluice::consumer {

FailurePath::FailurePath(const config::Lambda& lambda, shm::Stats& stats, Assignment& assignment,
                         std::function<void(Partition&)> stop)
    : lambda_(lambda), stats_(stats), assignment_(assignment), stop_(std::move(stop)) {
  if (lambda_.on_failure != config::OnFailure::kDeadLetter) return;
  dlq_ = std::make_unique<DeadLetterProducer>(
      lambda_,
      [this](const DeadLetter& dl) {
        assignment_.complete(dl.topic_index, dl.partition, dl.epoch, dl.offset, stats_.dead_lettered);
      },
      [this](const DeadLetter& dl, const std::string& why) {
        // Not even its reason fits: hold the partition here, as on_failure = "stop" would.
        Partition* p = assignment_.find(dl.topic_index, dl.partition);
        if (p == nullptr || p->epoch != dl.epoch) return;
        spdlog::error("lambda {}: {}[{}]@{} failed ({}) and no dead letter for it can be produced ({}): partition "
                      "stopped, nothing past it is committed",
                      lambda_.name, p->topic, p->partition, dl.offset, dl.error, why);
        stop_(*p);
      });
}

void FailurePath::fail(Partition& p, DeadLetter dl) {
  shm::bump(stats_.failed);
  switch (lambda_.on_failure) {
    case config::OnFailure::kSkip:
      spdlog::warn("lambda {}: skipping {}[{}]@{} after {} attempt(s): {}", lambda_.name, p.topic, p.partition,
                   dl.offset, dl.attempts, dl.error);
      assignment_.complete(dl.topic_index, dl.partition, dl.epoch, dl.offset, stats_.skipped);
      return;
    case config::OnFailure::kDeadLetter:
      // Completed only when the broker acknowledges the dead letter (see the callback).
      dlq_->send(std::move(dl));
      return;
    case config::OnFailure::kStop:
      break;
  }
  // Hold the partition at this offset: nothing past it is committed; an operator decides.
  spdlog::error("lambda {}: {}[{}]@{} failed after {} attempt(s): {}; partition stopped (on_failure=stop): nothing "
                "past it is handled or committed until it is resumed (`sluice resume {} --topic {} --partition {}`, "
                "or POST /lambdas/{}/resume){}",
                lambda_.name, p.topic, p.partition, dl.offset, dl.attempts, dl.error, lambda_.name, p.topic, p.partition,
                lambda_.name,
                lambda_.resume_stopped_after_s == 0
                    ? ""
                    : "; it resumes by itself in " + std::to_string(lambda_.resume_stopped_after_s) + " s");
  stop_(p);
}

}  // namespace sluice::consumer
