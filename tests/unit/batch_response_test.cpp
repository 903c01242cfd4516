// AWS partial batch responses: which records a batchItemFailures answer fails.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/batch_response.hpp"

namespace sluice::worker {
namespace {

const std::string kTopic = "orders-eu";  // a dash in the topic: identifiers split at the last ones

class BatchResponse : public ::testing::Test {
 protected:
  // Offsets 10, 11 on partition 0 and 10 on partition 1.
  std::vector<sluice_record> records{rec(0, 10), rec(0, 11), rec(1, 10)};
  std::vector<sluice_result> results{3, sluice_result{SLUICE_FAIL, "unset"}};
  std::string why;

  static sluice_record rec(int p, std::int64_t o) {
    sluice_record r{};
    r.topic = kTopic.data();
    r.topic_len = kTopic.size();
    r.partition = p;
    r.offset = o;
    return r;
  }
  BatchVerdict apply(const std::string& body) { return apply_batch_item_failures(body, records, results, "named", why); }
  std::vector<sluice_outcome> outcomes() const {
    std::vector<sluice_outcome> o;
    for (const auto& r : results) o.push_back(r.outcome);
    return o;
  }
};

TEST_F(BatchResponse, NoFailuresMeansEveryRecordCompleted) {
  for (const std::string body : {"", "null", "not json", "{}", R"({"batchItemFailures": null})",
                                 R"({"batchItemFailures": []})", R"({"status": "ok"})"}) {
    SCOPED_TRACE(body);
    results.assign(3, sluice_result{SLUICE_FAIL, "unset"});
    EXPECT_EQ(apply(body), BatchVerdict::kAllOk);
    EXPECT_EQ(outcomes(), (std::vector<sluice_outcome>{SLUICE_OK, SLUICE_OK, SLUICE_OK}));
  }
}

TEST_F(BatchResponse, StringIdentifiersFailExactlyTheNamedRecords) {
  EXPECT_EQ(apply(R"({"batchItemFailures": [{"itemIdentifier": "orders-eu-0-11"}, {"itemIdentifier": "orders-eu-1-10"}]})"),
            BatchVerdict::kPartial);
  EXPECT_EQ(outcomes(), (std::vector<sluice_outcome>{SLUICE_OK, SLUICE_RETRY, SLUICE_RETRY}));
  EXPECT_STREQ(results[1].error, "named");
}

TEST_F(BatchResponse, ObjectIdentifiersWithPartitionKeyOrNumber) {
  EXPECT_EQ(apply(R"({"batchItemFailures": [{"itemIdentifier": {"partition": "orders-eu-0", "offset": 10}}]})"),
            BatchVerdict::kPartial);
  EXPECT_EQ(outcomes(), (std::vector<sluice_outcome>{SLUICE_RETRY, SLUICE_OK, SLUICE_OK}));
  EXPECT_EQ(apply(R"({"batchItemFailures": [{"itemIdentifier": {"topic": "orders-eu", "partition": 1, "offset": "10"}}]})"),
            BatchVerdict::kPartial);
  EXPECT_EQ(outcomes(), (std::vector<sluice_outcome>{SLUICE_OK, SLUICE_OK, SLUICE_RETRY}));
}

TEST_F(BatchResponse, AnIdentifierThatNamesNothingFailsTheWholeBatch) {
  for (const std::string body :
       {R"({"batchItemFailures": [{"itemIdentifier": "orders-eu-0-99"}]})", R"({"batchItemFailures": [{"itemIdentifier": ""}]})",
        R"({"batchItemFailures": [{"itemIdentifier": null}]})", R"({"batchItemFailures": [{"id": "orders-eu-0-10"}]})",
        R"({"batchItemFailures": "orders-eu-0-10"})", R"({"batchItemFailures": [{"itemIdentifier": "other-0-10"}]})"}) {
    SCOPED_TRACE(body);
    results.assign(3, sluice_result{SLUICE_FAIL, "unset"});
    why.clear();
    EXPECT_EQ(apply(body), BatchVerdict::kInvalid);
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(outcomes(), (std::vector<sluice_outcome>{SLUICE_FAIL, SLUICE_FAIL, SLUICE_FAIL})) << "results must be left alone";
  }
}

// An answer that names batchItemFailures but cannot be read meant to fail something:
// taking it as "not JSON, so all ok" committed records the handler had failed. Before,
// the NUL case read only the "[]" ahead of the NUL, and the truncated one was text.
TEST_F(BatchResponse, AnAnswerThatNamesFailuresButIsNotJsonFailsTheWholeBatch) {
  const std::string named = R"({"batchItemFailures": [{"itemIdentifier": "orders-eu-0-11"}]})";
  for (const std::string& body : {named.substr(0, named.size() - 1), std::string(R"({"batchItemFailures": []})") + '\0' + named,
                                  std::string(100, '[') + named + std::string(100, ']')}) {
    SCOPED_TRACE(body);
    results.assign(3, sluice_result{SLUICE_FAIL, "unset"});
    why.clear();
    EXPECT_EQ(apply(body), BatchVerdict::kInvalid);
    EXPECT_EQ(why, "the answer names batchItemFailures but is not JSON");
  }
}

}  // namespace
}  // namespace sluice::worker
