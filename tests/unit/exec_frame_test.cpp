#include "worker/exec_frame.hpp"

#include <gtest/gtest.h>

namespace sluice::worker {
namespace {

TEST(ExecFrame, EncodesLengthsThenHeadersThenBody) {
  EXPECT_EQ(encode_frame({{"Status", "ok"}, {"Error", ""}}, "{}"), "19 2\nStatus: ok\nError: \n{}");
  EXPECT_EQ(encode_frame({}, ""), "0 0\n");
}

TEST(ExecFrame, DecodesAFrameFedByteByByte) {
  const std::string wire = encode_frame({{"Status", "ok"}, {"X-Kafka-Key", "a%0Ab"}}, std::string("bo\0dy\n", 6));
  FrameReader r;
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    ASSERT_EQ(r.feed(wire.substr(i, 1)), FrameReader::State::kNeedMore) << "at byte " << i;
  }
  ASSERT_EQ(r.feed(wire.substr(wire.size() - 1)), FrameReader::State::kComplete);
  EXPECT_EQ(r.excess(), 0U);
  const Frame f = r.take();
  EXPECT_EQ(f.header("status"), "ok") << "names compare case-insensitively";
  EXPECT_EQ(f.header("X-Kafka-Key"), "a%0Ab");
  EXPECT_FALSE(f.header("Error").has_value());
  EXPECT_EQ(f.body, std::string("bo\0dy\n", 6));
}

TEST(ExecFrame, ToleratesCrlfAndNoSpaceAfterTheColon) {
  FrameReader r;
  const std::string block = "Status:retry\r\nError:  slow\r\n";
  ASSERT_EQ(r.feed(std::to_string(block.size()) + " 0\n" + block), FrameReader::State::kComplete);
  const Frame f = r.take();
  EXPECT_EQ(f.header("Status"), "retry");
  EXPECT_EQ(f.header("Error"), "slow");
}

TEST(ExecFrame, CountsBytesPastTheFrame) {
  FrameReader r;
  ASSERT_EQ(r.feed("11 0\nStatus: ok\n11 0\n"), FrameReader::State::kComplete);
  EXPECT_EQ(r.excess(), 5U);
}

TEST(ExecFrame, RejectsWhatIsNotAFrame) {
  const std::pair<std::string, std::string> cases[] = {
      {"hello world\n", "bad frame length line \"hello world\""},
      {"12\n", "bad frame length line \"12\""},
      {"-1 0\n", "bad frame length line \"-1 0\""},
      {"1 2 3\n", "bad frame length line \"1 2 3\""},
      {std::string(40, '7'), "the frame does not start with \"<header bytes> <body bytes>\\n\""},
      {"10 0\nStatus ok\n", "header line without a name: \"Status ok\""},
      {"11 0\nStatus: ok:", "the header block does not end with a newline"},
      {"99999999 0\n", "frame too large (99999999 header bytes, 0 body bytes)"},
  };
  for (const auto& [wire, why] : cases) {
    FrameReader r;
    EXPECT_EQ(r.feed(wire), FrameReader::State::kMalformed) << wire;
    EXPECT_EQ(r.error(), why) << wire;
  }
}

}  // namespace
}  // namespace sluice::worker
