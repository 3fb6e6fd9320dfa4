// RTMP URL parsing: the rtmp2/FFmpeg conventions documented in core/url.hpp.
#include <gtest/gtest.h>

#include "core/url.hpp"

using namespace rtmp;

namespace {

struct GoodUrl {
  const char *url;
  const char *scheme, *host;
  std::uint16_t port;
  const char *app, *stream, *user, *password;
  const char *tc_url;
};

const GoodUrl kGood[] = {
    {"rtmp://example.com/live/key", "rtmp", "example.com", 1935, "live", "key", "", "",
     "rtmp://example.com/live"},
    {"rtmp://example.com:1936/live/key", "rtmp", "example.com", 1936, "live", "key", "", "",
     "rtmp://example.com:1936/live"},
    // rtmps defaults to 443, an explicit 1935 is kept in tcUrl.
    {"rtmps://a.rtmps.youtube.com/live2/abcd-efgh", "rtmps", "a.rtmps.youtube.com", 443, "live2",
     "abcd-efgh", "", "", "rtmps://a.rtmps.youtube.com/live2"},
    {"rtmps://h:1935/app/s", "rtmps", "h", 1935, "app", "s", "", "", "rtmps://h:1935/app"},
    // Scheme is case-insensitive and normalised.
    {"RTMP://h/app/s", "rtmp", "h", 1935, "app", "s", "", "", "rtmp://h/app"},
    // Application instance: last segment is the stream (rtmp2's rule).
    {"rtmp://h/app/inst/stream", "rtmp", "h", 1935, "app/inst", "stream", "", "",
     "rtmp://h/app/inst"},
    {"rtmp://h/a/b/c/d", "rtmp", "h", 1935, "a/b/c", "d", "", "", "rtmp://h/a/b/c"},
    // Query stays on the stream.
    {"rtmp://h/app/key?token=abc&x=1", "rtmp", "h", 1935, "app", "key?token=abc&x=1", "", "",
     "rtmp://h/app"},
    // ... even when it contains '/'.
    {"rtmp://h/app/key?t=a/b", "rtmp", "h", 1935, "app", "key?t=a/b", "", "", "rtmp://h/app"},
    // A query after the app, before the only '/', stays on the app (FFmpeg's reading).
    {"rtmp://h/app?auth=x/key", "rtmp", "h", 1935, "app?auth=x", "key", "", "",
     "rtmp://h/app?auth=x"},
    // FMS-style play paths keep their prefix.
    {"rtmp://h/vod/mp4:sample.mp4", "rtmp", "h", 1935, "vod", "mp4:sample.mp4", "", "",
     "rtmp://h/vod"},
    // IPv6 literals.
    {"rtmp://[::1]:1940/app/s", "rtmp", "::1", 1940, "app", "s", "", "", "rtmp://[::1]:1940/app"},
    {"rtmp://[2001:db8::5]/app/s", "rtmp", "2001:db8::5", 1935, "app", "s", "", "",
     "rtmp://[2001:db8::5]/app"},
    {"rtmp://127.0.0.1:65535/app/s", "rtmp", "127.0.0.1", 65535, "app", "s", "", "",
     "rtmp://127.0.0.1:65535/app"},
    // Credentials, percent-decoded; never in tcUrl.
    {"rtmp://user:pass@h/app/s", "rtmp", "h", 1935, "app", "s", "user", "pass", "rtmp://h/app"},
    {"rtmp://us%40er:p%3Ass%2F%25@h:99/app/s", "rtmp", "h", 99, "app", "s", "us@er", "p:ss/%",
     "rtmp://h:99/app"},
    {"rtmp://user@h/app/s", "rtmp", "h", 1935, "app", "s", "user", "", "rtmp://h/app"},
    // An unescaped '@' in the password: the last '@' ends the user info.
    {"rtmp://u:p@ss@h/app/s", "rtmp", "h", 1935, "app", "s", "u", "p@ss", "rtmp://h/app"},
    // The path is not percent-decoded: stream keys reach the server as written.
    {"rtmp://h/app/a%20b", "rtmp", "h", 1935, "app", "a%20b", "", "", "rtmp://h/app"},
};

} // namespace

TEST(RtmpUrl, ParsesTable) {
  for (const auto &g : kGood) {
    SCOPED_TRACE(g.url);
    auto r = parse_rtmp_url(g.url);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->scheme, g.scheme);
    EXPECT_EQ(r->host, g.host);
    EXPECT_EQ(r->port, g.port);
    EXPECT_EQ(r->application, g.app);
    EXPECT_EQ(r->stream, g.stream);
    EXPECT_EQ(r->username, g.user);
    EXPECT_EQ(r->password, g.password);
    EXPECT_EQ(r->tc_url(), g.tc_url);
  }
}

TEST(RtmpUrl, RoundTripsThroughToString) {
  for (const auto &g : kGood) {
    SCOPED_TRACE(g.url);
    auto r = parse_rtmp_url(g.url);
    ASSERT_TRUE(r);
    auto again = parse_rtmp_url(r->to_string());
    ASSERT_TRUE(again) << r->to_string();
    EXPECT_EQ(*again, *r) << r->to_string();
  }
  // Credentials with every awkward character survive.
  RtmpUrl u;
  u.scheme = "rtmps";
  u.host = "h";
  u.port = 443;
  u.application = "app";
  u.stream = "s";
  u.username = "a:b@c/d e";
  u.password = "p%:@/?#";
  auto back = parse_rtmp_url(u.to_string());
  ASSERT_TRUE(back) << u.to_string();
  EXPECT_EQ(*back, u);
  EXPECT_EQ(u.to_string().find("p%:@"), std::string::npos);
}

TEST(RtmpUrl, RedactsThePassword) {
  auto r = parse_rtmp_url("rtmp://bob:secret@h/app/s");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to_redacted_string(), "rtmp://bob:***@h/app/s");
  EXPECT_EQ(r->to_string(), "rtmp://bob:secret@h/app/s");
  auto plain = parse_rtmp_url("rtmp://h/app/s");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->to_redacted_string(), "rtmp://h/app/s");
}

TEST(RtmpUrl, StreamMayBeOptional) {
  auto r = parse_rtmp_url("rtmp://h/app", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->application, "app");
  EXPECT_EQ(r->stream, "");
  EXPECT_EQ(r->to_string(), "rtmp://h/app");
  auto slash = parse_rtmp_url("rtmp://h/app/", false);
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->application, "app");
  EXPECT_EQ(parse_rtmp_url("rtmp://h", false).error(), make_error_code(Errc::url_invalid));
  // An instance without a stream keeps its trailing '/' so that it reads back the same.
  auto inst = parse_rtmp_url("rtmp://h/app/inst/", false);
  ASSERT_TRUE(inst);
  EXPECT_EQ(inst->application, "app/inst");
  EXPECT_EQ(inst->to_string(), "rtmp://h/app/inst/");
  // Found by fuzz_flv: an empty first segment.
  EXPECT_EQ(parse_rtmp_url("rtmps://u//us%st/", false).error(), make_error_code(Errc::url_invalid));
}

TEST(RtmpUrl, RejectsBadInputs) {
  struct Bad {
    const char *url;
    Errc expected;
  };
  const Bad cases[] = {
      {"rtmpt://h/app/s", Errc::url_unsupported_scheme},
      {"rtmpte://h/app/s", Errc::url_unsupported_scheme},
      {"rtmpts://h/app/s", Errc::url_unsupported_scheme},
      {"rtmpe://h/app/s", Errc::url_unsupported_scheme},
      {"rtmfp://h/app/s", Errc::url_unsupported_scheme},
      {"http://h/app/s", Errc::url_unsupported_scheme},
      {"rtmp://h/app", Errc::url_missing_stream},
      {"rtmp://h/app/", Errc::url_missing_stream},
      {"rtmp://h/app/?token=x", Errc::url_missing_stream},
      {"", Errc::url_invalid},
      {"h/app/s", Errc::url_invalid},
      {"://h/app/s", Errc::url_invalid},
      {"rtmp:/h/app/s", Errc::url_invalid},
      {"rtmp://", Errc::url_invalid},
      {"rtmp:///app/s", Errc::url_invalid},
      {"rtmp://h", Errc::url_invalid},
      {"rtmp://h//s", Errc::url_invalid},
      {"rtmp://h/app//s", Errc::url_invalid},
      {"rtmp://h:/app/s", Errc::url_invalid},
      {"rtmp://h:0/app/s", Errc::url_invalid},
      {"rtmp://h:65536/app/s", Errc::url_invalid},
      {"rtmp://h:19x5/app/s", Errc::url_invalid},
      {"rtmp://h:-1/app/s", Errc::url_invalid},
      {"rtmp://[::1/app/s", Errc::url_invalid},
      {"rtmp://[::1]x/app/s", Errc::url_invalid},
      {"rtmp://[host]/app/s", Errc::url_invalid},
      {"rtmp://::1/app/s", Errc::url_invalid},
      {"rtmp://@/app/s", Errc::url_invalid},
      {"rtmp://u:%zz@h/app/s", Errc::url_invalid},
      {"rtmp://u%4@h/app/s", Errc::url_invalid},
      {"rtmp://h/app/s\n", Errc::url_invalid},
      {"rtmp://h/app/my key", Errc::url_invalid},
      {" rtmp://h/app/s", Errc::url_invalid},
  };
  for (const auto &c : cases)
    EXPECT_EQ(parse_rtmp_url(c.url).error(), make_error_code(c.expected)) << c.url;
}

TEST(RtmpUrl, RejectionSaysWhatIsWrong) {
  struct Bad {
    const char *url;
    const char *why_contains;
  };
  const Bad cases[] = {
      {"rtmp://127.0.0.1:1935/live/key live=1", "space"},
      {"rtmp://h/app/s\n", "control character"},
      {"", "not a URL"},
      {"http://h/app/s", "unsupported scheme 'http'"},
      {"rtmp:///live/x", "no host"},
      {"rtmp://h:70000/app/s", "invalid port '70000'"},
      {"rtmp://h:1935/x", "no stream name"},
      {"rtmp://h", "no application"},
      {"rtmp://h/app//s", "empty path segment"},
      {"rtmp://[::1/app/s", "']'"},
      {"rtmp://u%4@h/app/s", "user name"},
  };
  for (const auto &c : cases) {
    std::string why;
    EXPECT_FALSE(parse_rtmp_url(c.url, true, &why)) << c.url;
    EXPECT_NE(why.find(c.why_contains), std::string::npos) << c.url << ": " << why;
  }
  std::string why = "untouched";
  EXPECT_TRUE(parse_rtmp_url("rtmp://h/app/s", true, &why));
  EXPECT_EQ(why, "untouched");
}

TEST(RtmpUrl, RedactsThePasswordOfTextThatDoesNotParse) {
  EXPECT_EQ(redact_url_password("rtmp://bob:secret@h/app/s live=1"),
            "rtmp://bob:***@h/app/s live=1");
  EXPECT_EQ(redact_url_password("rtmp://bob:p@ss@h:1/app"), "rtmp://bob:***@h:1/app");
  EXPECT_EQ(redact_url_password("rtmp://bob@h/app/s"), "rtmp://bob@h/app/s");
  EXPECT_EQ(redact_url_password("rtmp://h:1935/app/a@b:c"), "rtmp://h:1935/app/a@b:c");
  EXPECT_EQ(redact_url_password("not a url: x@y"), "not a url: x@y");
  EXPECT_EQ(redact_url_password(""), "");
}

TEST(RtmpUrl, UnsupportedSchemeMessageNamesTheSupportedOnes) {
  const auto ec = parse_rtmp_url("rtmpt://h/app/s").error();
  EXPECT_NE(ec.message().find("rtmp"), std::string::npos) << ec.message();
  EXPECT_NE(ec.message().find("rtmps"), std::string::npos) << ec.message();
}

TEST(RtmpUrl, EnforcesMaxLength) {
  std::string url = "rtmp://h/app/";
  url += std::string(kMaxUrlLength - url.size(), 'k');
  EXPECT_TRUE(parse_rtmp_url(url));
  url.push_back('k');
  EXPECT_EQ(parse_rtmp_url(url).error(), make_error_code(Errc::limit_exceeded));
}

TEST(RtmpUrl, EveryPrefixParsesOrFailsWithATypedError) {
  const std::string url = "rtmps://us%40er:pw@[2001:db8::1]:1936/app/inst/key?t=1";
  for (std::size_t n = 0; n <= url.size(); ++n) {
    auto r = parse_rtmp_url(std::string_view(url).substr(0, n));
    if (!r) {
      EXPECT_EQ(r.error().category(), rtmp_category()) << n;
      EXPECT_EQ(error_origin(r.error()), ErrorOrigin::peer) << n;
    }
  }
  EXPECT_TRUE(parse_rtmp_url(url));
}
