// A plugin runs inside its worker and can write anywhere in its lambda's shared memory.
// Each test has the recorder plugin damage the segment as a buggy or hostile plugin
// would (tests/plugins/corrupt.cpp) on one record, and checks what must hold: the
// consumer and supervisor live on, nothing is lost or committed unhandled, the broken
// worker is replaced, and another lambda never notices.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 4;
constexpr std::uint64_t kMessages = 400;
constexpr std::uint64_t kVictim = 57;  // the record whose handler does the damage

class UntrustedMemory : public DaemonTest {
 protected:
  // Lambda "a" (the plugin that does the damage) on topic "events", lambda "b" (a
  // well-behaved one) on "other"; both topics hold kMessages before the daemon starts,
  // so the rings are full when the damage is done.
  void start(const std::string& mode, const std::string& extra = "", const std::string& options = "",
             const std::string& main_extra = "") {
    produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
    produce(broker.bootstrap(), "other", kPartitions, 0, kMessages);
    std::string cfg = daemon_config(
        instance, dir.path(), broker.bootstrap(),
        {{.name = "a", .topic = "events", .workers = 2, .sleep_us = 200,
          .extra = "max_attempts = 3\nretry_backoff_ms = [1, 5]\n" + extra,
          .options = (mode.empty() ? ""
                                   : "corrupt_seqs = \"" + std::to_string(kVictim) + "\"\ncorrupt_mode = \"" + mode + "\"\n") +
                     options},
         {.name = "b", .topic = "other", .workers = 1}});
    if (!main_extra.empty()) cfg = with(cfg, "[supervisor]\n", "[supervisor]\n" + main_extra);
    daemon = std::make_unique<Daemon>(dir.path(), cfg);
    ASSERT_TRUE(wait_until([&] { return daemon->children("consumer").size() == 2; }, 30s)) << daemon->log();
    consumer_a = daemon->children("--lambda a ").empty() ? -1 : consumer_of("a");
  }
  pid_t consumer_of(const std::string& lambda) {
    for (pid_t p : daemon->children("--lambda " + lambda + " ")) {
      if (read_proc_file("/proc/" + std::to_string(p) + "/cmdline").find("consumer") != std::string::npos) return p;
    }
    return -1;
  }
  bool done(const std::string& group, const std::string& topic) {
    return committed_to_end(broker.bootstrap(), group, kMessages, kPartitions, topic);
  }
  // Both lambdas handled everything; the damaged lambda's consumer is the one it started
  // with; the admin API answered throughout.
  void expect_recovered() {
    ASSERT_TRUE(wait_until([&] { return done("lambda-a", "events"); }, 120s)) << daemon->log();
    ASSERT_TRUE(wait_until([&] { return done("lambda-b", "other"); }, 60s)) << daemon->log();
    const auto out = read_outcomes(outcomes(), "a");
    EXPECT_EQ(check_no_loss(out, kMessages), "");
    EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-a", "events")), "");
    EXPECT_EQ(check_no_loss(read_outcomes(outcomes(), "b"), kMessages), "");
    EXPECT_EQ(consumer_of("a"), consumer_a) << "the consumer was restarted\n" << daemon->log();
    EXPECT_EQ(admin(dir.path(), instance, "GET", "/metrics").status, 200);
    EXPECT_EQ(admin(dir.path(), instance, "GET", "/lambdas").status, 200);
    expect_clean_stop(*daemon);
  }

  DevBroker broker{{"events:4", "other:4", "events.dlq:1"}};
  std::unique_ptr<Daemon> daemon;
  pid_t consumer_a = -1;
};

// Record size 0: the consumer walked its ring by the sizes in it and spun forever at
// 100 % CPU while its status said running. It now walks its own list of what it wrote.
TEST_F(UntrustedMemory, ARecordSizeOfZeroChangesNothing) {
  start("zero_size");
  expect_recovered();
}

// A huge key_len on a record that then fails: the consumer read the dead letter's key
// by it and died of SIGSEGV. The dead letter now holds the key and value as produced.
TEST_F(UntrustedMemory, AHugeKeyLengthDeadLettersTheRecordAsProduced) {
  start("huge_key_len", "dead_letter_topic = \"events.dlq\"\n", "fail_seqs = \"" + std::to_string(kVictim) + "\"\n");
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", 1, 60s);
  ASSERT_EQ(dlq.size(), 1U) << daemon->log();
  EXPECT_EQ(seq_of(dlq[0].value.value_or("")), kVictim);
  EXPECT_EQ(dlq[0].key.value_or(""), "k" + std::to_string(kVictim % 50));
  ASSERT_TRUE(wait_until([&] { return done("lambda-a", "events"); }, 120s)) << daemon->log();
  EXPECT_EQ(consumer_of("a"), consumer_a) << daemon->log();
  expect_clean_stop(*daemon);
}

// A read position past anything written, a reply of no known kind, and a broken next
// record (which the worker itself finds): the ring is quarantined, its worker killed,
// the ring reset, its records fetched again.
TEST_F(UntrustedMemory, AReadPositionOutOfBoundsReplacesTheWorkerAndRedeliversItsRecords) {
  start("read_pos");
  ASSERT_TRUE(wait_until([&] { return count_of(daemon->log(), "broke the ring protocol") > 0; }, 60s)) << daemon->log();
  expect_recovered();
}

TEST_F(UntrustedMemory, AReplyOfNoKnownKindReplacesTheWorkerAndRedeliversItsRecords) {
  start("reply_garbage");
  ASSERT_TRUE(wait_until([&] { return count_of(daemon->log(), "broke the ring protocol") > 0; }, 60s)) << daemon->log();
  expect_recovered();
}

TEST_F(UntrustedMemory, AWorkerThatFindsItsRingCorruptIsReplacedAndItsRecordsRedelivered) {
  start("next_size");
  ASSERT_TRUE(wait_until([&] { return count_of(daemon->log(), "ring is corrupt") > 0; }, 60s)) << daemon->log();
  expect_recovered();
}

// Stats, the epoch table and the partition table overwritten with 0xFF. A corrupt
// layout field used to crash the supervisor on the next GET /metrics, taking every
// lambda down; the layout is now sealed where no worker can reach it, and the epochs the
// workers then misread are the consumer's to restore.
TEST_F(UntrustedMemory, ScribblingOverTheSharedTablesHarmsNeitherSupervisorNorOtherLambdas) {
  start("scribble");
  ASSERT_TRUE(wait_until([&] { return admin(dir.path(), instance, "GET", "/metrics").status == 200; }, 10s));
  expect_recovered();
}

// A record whose handler breaks the ring on every attempt, by hanging with a bad read
// position or by returning after a bad reply: its attempts count across the
// redeliveries (suspects go into their ring alone, so the blame is certain), and after
// max_attempts it is dead-lettered, not redelivered forever; its neighbours are not.
class PoisonRing : public UntrustedMemory, public ::testing::WithParamInterface<const char*> {};

TEST_P(PoisonRing, IsDeadLetteredAfterMaxAttemptsAndNothingElseIs) {
  start(GetParam(), "dead_letter_topic = \"events.dlq\"\n", "corrupt_always = \"1\"\n");
  ASSERT_TRUE(wait_until([&] { return done("lambda-a", "events"); }, 120s)) << daemon->log();
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", 2, 5s);
  ASSERT_EQ(dlq.size(), 1U) << daemon->log();
  EXPECT_EQ(seq_of(dlq[0].value.value_or("")), kVictim);
  EXPECT_EQ(dlq[0].headers.at("sluice-attempts"), "3");
  EXPECT_NE(dlq[0].headers.at("sluice-error").find("broke the ring protocol"), std::string::npos)
      << dlq[0].headers.at("sluice-error");
  const auto out = read_outcomes(outcomes(), "a");
  std::set<std::uint64_t> seen;
  for (const auto& o : out) seen.insert(seq_of(o.value));
  for (std::uint64_t s = 0; s < kMessages; ++s) EXPECT_TRUE(seen.contains(s)) << s;
  EXPECT_EQ(consumer_of("a"), consumer_a) << daemon->log();
  expect_clean_stop(*daemon);
}

INSTANTIATE_TEST_SUITE_P(Modes, PoisonRing, ::testing::Values("read_pos", "reply_garbage"));

// A consumer whose loop stops (here: SIGSTOP) holds its partitions, unhandled, while
// every signal says running. The supervisor reads its heartbeat and replaces it.
TEST_F(UntrustedMemory, AConsumerThatStopsMakingProgressIsReplaced) {
  start("", "", "", "consumer_stall_s = 5\n");
  ASSERT_TRUE(wait_until([&] { return done("lambda-b", "other"); }, 60s)) << daemon->log();
  const pid_t stuck = consumer_of("b");
  ASSERT_GT(stuck, 0);
  ::kill(stuck, SIGSTOP);
  ASSERT_TRUE(wait_until([&] { return consumer_of("b") != stuck && consumer_of("b") > 0; }, 60s)) << daemon->log();
  EXPECT_NE(daemon->log().find("lambda b: its consumer made no progress for"), std::string::npos) << daemon->log();
  produce(broker.bootstrap(), "other", kPartitions, kMessages, kMessages);
  EXPECT_TRUE(wait_until([&] {
    return committed_to_end(broker.bootstrap(), "lambda-b", 2 * kMessages, kPartitions, "other");
  }, 120s)) << daemon->log();
  expect_clean_stop(*daemon);
}

}  // namespace
}  // namespace sluice::test
