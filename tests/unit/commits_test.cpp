// The commit rule's last step (consumer/commits.hpp) against a real segment and the
// consumer's real assignment: what is stored and committed, and what counts as committed
// when the broker answers.
#include "consumer/commits.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kafka/kafka_handles.hpp"
#include "consumer_fixture.hpp"

namespace sluice::consumer {
namespace {

struct Harness : test::ConsumerParts {
  Harness() : ConsumerParts("commits") {}
  Commits make() {
    return Commits(lambda.name, seg.stats(), assignment,
                   Commits::Client{[this](rd_kafka_topic_partition_list_t& l) {
                                     for (int i = 0; i < l.cnt; ++i) stored[l.elems[i].partition] = l.elems[i].offset;
                                     ++stores;
                                     return RD_KAFKA_RESP_ERR_NO_ERROR;
                                   },
                                   [this](rd_kafka_topic_partition_list_t& l) {
                                     ++commits;
                                     for (int i = 0; i < l.cnt; ++i) l.elems[i].err = element_error;
                                     return commit_error;
                                   }});
  }
  // A partition whose records below `done` all completed.
  Partition* partition_done_to(std::int32_t n, std::int64_t done) {
    Partition* p = assignment.add("orders", n);
    for (std::int64_t o = 0; o < done; ++o) p->tracker.dispatched(o);
    for (std::int64_t o = 0; o < done; ++o) p->tracker.completed(o);
    return p;
  }
  // What librdkafka's commit callback would say about offsets.
  static kafka::PartitionListPtr answer(std::initializer_list<std::pair<std::int32_t, std::int64_t>> offsets,
                                        rd_kafka_resp_err_t element_error = RD_KAFKA_RESP_ERR_NO_ERROR) {
    kafka::PartitionListPtr l(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [p, o] : offsets) {
      auto* e = rd_kafka_topic_partition_list_add(l.get(), "orders", p);
      e->offset = o;
      e->err = element_error;
    }
    return l;
  }

  std::map<std::int32_t, std::int64_t> stored;
  int stores = 0;
  int commits = 0;
  rd_kafka_resp_err_t commit_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t element_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

TEST(Commits, AStoredOffsetCountsOnlyWhenTheBrokerTookIt) {
  Harness h;
  auto c = h.make();
  Partition* p = h.partition_done_to(0, 5);
  c.commit(false);
  EXPECT_EQ(h.stored.at(0), 5);
  EXPECT_EQ(h.commits, 0) << "auto-commit sends what is stored";
  EXPECT_EQ(p->committed, -1);
  EXPECT_EQ(p->commit_pending, 5);
  c.commit(false);
  EXPECT_EQ(h.stores, 1) << "an offset already on its way is not stored again";
  c.on_commit(RD_KAFKA_RESP_ERR_NO_ERROR, Harness::answer({{0, 5}}).get());
  EXPECT_EQ(p->committed, 5);
  EXPECT_EQ(p->commit_pending, -1);
  EXPECT_EQ(p->stats->committed.load(), 5) << "what the supervisor reports";
  EXPECT_EQ(h.seg.stats().commits.load(), 1U);
  std::uint64_t observed = 0;
  for (const auto& b : h.seg.stats().commit_latency.buckets) observed += b.load();
  EXPECT_EQ(observed, 1U) << "the store-to-acknowledgement time is observed once";
  c.commit(false);
  EXPECT_EQ(h.stores, 1) << "nothing new to commit";
}

TEST(Commits, ARefusedCommitIsCountedAsFailedAndSentAgain) {
  for (const bool whole_request : {true, false}) {
    Harness h;
    auto c = h.make();
    Partition* p = h.partition_done_to(1, 3);
    c.commit(false);
    if (whole_request) {
      c.on_commit(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, Harness::answer({{1, 3}}).get());
    } else {
      c.on_commit(RD_KAFKA_RESP_ERR_NO_ERROR, Harness::answer({{1, 3}}, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION).get());
    }
    EXPECT_EQ(p->committed, -1) << whole_request;
    EXPECT_EQ(h.seg.stats().commits_failed.load(), 1U);
    EXPECT_EQ(h.seg.stats().commits.load(), 0U);
    c.commit(false);
    EXPECT_EQ(h.stores, 2) << "stored again after the refusal";
  }
}

TEST(Commits, AnOlderAnswerNeverMovesTheCommittedOffsetBack) {
  Harness h;
  auto c = h.make();
  Partition* p = h.partition_done_to(0, 9);
  c.on_commit(RD_KAFKA_RESP_ERR_NO_ERROR, Harness::answer({{0, 9}}).get());
  c.on_commit(RD_KAFKA_RESP_ERR_NO_ERROR, Harness::answer({{0, 4}}).get());
  EXPECT_EQ(p->committed, 9);
  EXPECT_EQ(h.seg.stats().commits.load(), 1U);
}

TEST(Commits, ASynchronousCommitSendsPendingOffsetsAndTakesItsOwnAnswer) {
  Harness h;
  auto c = h.make();
  Partition* p = h.partition_done_to(0, 7);
  c.commit(false);
  c.commit(true);  // a revoke: the pending offset is committed now, not left to auto-commit
  EXPECT_EQ(h.commits, 1);
  EXPECT_EQ(p->committed, 7);
  h.element_error = RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID;
  Partition* q = h.partition_done_to(1, 2);
  c.commit(true);
  EXPECT_EQ(q->committed, -1) << "refused: the next owner starts from the last committed offset";
  EXPECT_EQ(h.seg.stats().commits_failed.load(), 1U);
}

TEST(Commits, NothingPastAnUncompletedRecordIsCommittedAndAnswersForOthersPartitionsAreIgnored) {
  Harness h;
  auto c = h.make();
  Partition* p = h.assignment.add("orders", 0);
  for (std::int64_t o = 0; o < 3; ++o) p->tracker.dispatched(o);
  p->tracker.completed(1);
  p->tracker.completed(2);  // offset 0 is still in flight
  c.commit(true);
  EXPECT_EQ(h.stored.at(0), 0);
  EXPECT_EQ(p->committed, 0);
  const auto commits = h.seg.stats().commits.load();
  c.on_commit(RD_KAFKA_RESP_ERR_NO_ERROR, Harness::answer({{5, 10}}).get());  // not assigned here
  EXPECT_EQ(h.seg.stats().commits.load(), commits);
}

}  // namespace
}  // namespace sluice::consumer
