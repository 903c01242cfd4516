// Parsing of `sluice offsets reset --to-datetime` values.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "kafka/group_offsets.hpp"

namespace sluice::kafka {
namespace {

TEST(Datetime, IsoFormsAndEpochMillisecondsParse) {
  EXPECT_EQ(parse_datetime_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime_ms("2026-11-23T10:00:00Z"), 1795428000000LL);
  EXPECT_EQ(parse_datetime_ms("2026-11-23 10:00:00"), 1795428000000LL);
  EXPECT_EQ(parse_datetime_ms("2026-11-23T12:00:00.250+02:00"), 1795428000250LL);
  EXPECT_EQ(parse_datetime_ms("2026-11-23T05:30:00-04:30"), 1795428000000LL);
  EXPECT_EQ(parse_datetime_ms("1795428000000"), 1795428000000LL);
}

TEST(Datetime, MalformedValuesAreRefused) {
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23", "2026-11-23T10:00:00+2",
                          "2026-11-23T10:00:00.Z", "2026-11-23X10:00:00Z", "12345678901234567890"}) {
    EXPECT_FALSE(parse_datetime_ms(bad).has_value()) << bad;
  }
}

TEST(Listen, HostPortAndBracketedV6Split) {
  EXPECT_EQ(config::split_listen("127.0.0.1:9464"), std::make_pair(std::string("127.0.0.1"), 9464));
  EXPECT_EQ(config::split_listen("[::1]:0"), std::make_pair(std::string("::1"), 0));
  for (const char* bad : {"", "9464", ":9464", "host:", "::1:9464", "h:70000", "h:12a", "[::1:80"}) {
    EXPECT_FALSE(config::split_listen(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sluice::kafka
