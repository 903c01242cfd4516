// What the consumer's parts (commits, offset resets, the failure path) are tested
// against without a broker: a lambda of one topic, "orders", its real segment, and the
// consumer's real assignment of that segment.
#pragma once

#include <string>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "shm_fixture.hpp"

namespace sluice::test {

struct ConsumerParts {
  explicit ConsumerParts(const std::string& name) : seg(make_segment(name, 1, 4096)), assignment(seg, {"orders"}) {
    lambda.name = name;
    lambda.topics = {"orders"};
  }

  shm::Segment seg;
  consumer::Assignment assignment;
  config::Lambda lambda;
};

}  // namespace sluice::test
