#include "worker/http_protocol.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace sluice::worker {
namespace {

using config::HttpVersion;
constexpr unsigned kBookworm = 0x075801;  // 7.88.1
constexpr unsigned kFirstGood = 0x080100;

TEST(HttpProtocol, AutoOverTlsIsHttp2ByAlpnOnlyWithALibcurlThatKeepsItsConnections) {
  const HttpProtocol old = http_protocol(HttpVersion::kAuto, "https://h/", kBookworm);
  EXPECT_EQ(old.curl_version, CURL_HTTP_VERSION_1_1);
  EXPECT_FALSE(old.may_multiplex);
  const HttpProtocol good = http_protocol(HttpVersion::kAuto, "https://h/", kFirstGood);
  EXPECT_EQ(good.curl_version, CURL_HTTP_VERSION_2TLS);
  EXPECT_TRUE(good.may_multiplex);
}

TEST(HttpProtocol, AutoOnPlainHttpNeverWaitsForAMultiplexedConnection) {
  EXPECT_FALSE(http_protocol(HttpVersion::kAuto, "http://h/", kFirstGood).may_multiplex);
  EXPECT_FALSE(http_protocol(HttpVersion::kAuto, "http://h/", kBookworm).may_multiplex);
}

TEST(HttpProtocol, AnExplicitVersionIsTakenWhateverTheLibcurl) {
  for (const unsigned v : {kBookworm, kFirstGood}) {
    EXPECT_EQ(http_protocol(HttpVersion::kHttp2, "https://h/", v).curl_version, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    EXPECT_TRUE(http_protocol(HttpVersion::kHttp2, "https://h/", v).may_multiplex);
    EXPECT_EQ(http_protocol(HttpVersion::kHttp1, "https://h/", v).curl_version, CURL_HTTP_VERSION_1_1);
    EXPECT_FALSE(http_protocol(HttpVersion::kHttp1, "https://h/", v).may_multiplex);
  }
}

TEST(HttpProtocol, HttpVersion2WithAResettingLibcurlIsCalledOutAtStart) {
  const std::string caveat = http2_caveat(HttpVersion::kHttp2, kBookworm, "7.88.1");
  EXPECT_NE(caveat.find("libcurl 7.88.1"), std::string::npos) << caveat;
  EXPECT_NE(caveat.find("8.1"), std::string::npos) << caveat;
  EXPECT_EQ(http2_caveat(HttpVersion::kHttp2, kFirstGood, "8.1.0"), "");
  EXPECT_EQ(http2_caveat(HttpVersion::kAuto, kBookworm, "7.88.1"), "");
  EXPECT_EQ(http2_caveat(HttpVersion::kHttp1, kBookworm, "7.88.1"), "");
}

}  // namespace
}  // namespace sluice::worker
