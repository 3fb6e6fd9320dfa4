// librtmp-style locations (librtmp(3) "OPTIONS"): URL, then space-separated key=value options
// with "\XX" escapes; conn= items build AMF arguments of connect.
#include <gtest/gtest.h>

#include "core/librtmp_options.hpp"

using namespace rtmp;
using namespace rtmp::librtmp;

namespace {

Location parse_ok(std::string_view text) {
  std::string why;
  auto r = parse_location(text, &why);
  EXPECT_TRUE(r.ok()) << text << ": " << why;
  return r.ok() ? r.value() : Location{};
}

std::string parse_error(std::string_view text, Errc expected = Errc::url_invalid) {
  std::string why;
  auto r = parse_location(text, &why);
  EXPECT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.error(), make_error_code(expected)) << text;
  return why;
}

} // namespace

TEST(LibrtmpOptions, UrlWithoutOptionsIsUntouched) {
  const Location l = parse_ok("rtmp://h/app/key");
  EXPECT_EQ(l.url, "rtmp://h/app/key");
  EXPECT_FALSE(l.options.live);
  EXPECT_TRUE(l.options.conn.empty());
  EXPECT_TRUE(l.options.ignored.empty());
}

TEST(LibrtmpOptions, EveryHonouredOption) {
  const Location l = parse_ok("rtmp://h/app/key app=other/inst playpath=mp4:film.mp4 "
                              "tcUrl=rtmp://h:1936/other/inst pageUrl=http://p/x.html "
                              "swfUrl=http://p/player.swf flashVer=FMLE/3.0\\20(compatible) "
                              "token=secret live=1 timeout=30 buffer=1000 start=2.5");
  EXPECT_EQ(l.url, "rtmp://h/app/key");
  const Options &o = l.options;
  EXPECT_EQ(o.app, "other/inst");
  EXPECT_EQ(o.playpath, "mp4:film.mp4");
  EXPECT_EQ(o.tc_url, "rtmp://h:1936/other/inst");
  EXPECT_EQ(o.page_url, "http://p/x.html");
  EXPECT_EQ(o.swf_url, "http://p/player.swf");
  EXPECT_EQ(o.flash_ver, "FMLE/3.0 (compatible)");
  EXPECT_EQ(o.token, "secret");
  EXPECT_EQ(o.live, true);
  EXPECT_EQ(o.timeout_seconds, 30u);
  EXPECT_EQ(o.buffer_ms, 1000u);
  EXPECT_EQ(o.start_seconds, 2.5);
  EXPECT_TRUE(o.ignored.empty());
}

TEST(LibrtmpOptions, BooleansAsLibrtmpWritesThem) {
  for (const char *t : {"1", "on", "yes", "true", "TRUE", "Yes"})
    EXPECT_EQ(parse_ok(std::string("rtmp://h/a/s live=") + t).options.live, true) << t;
  for (const char *f : {"0", "off", "no", "false", "False"})
    EXPECT_EQ(parse_ok(std::string("rtmp://h/a/s live=") + f).options.live, false) << f;
}

TEST(LibrtmpOptions, LaterOptionWins) {
  EXPECT_EQ(parse_ok("rtmp://h/a/s live=1 live=0").options.live, false);
  EXPECT_EQ(parse_ok("rtmp://h/a/s app=x app=y").options.app, "y");
}

TEST(LibrtmpOptions, RunsOfSpacesSeparateAsOne) {
  const Location l = parse_ok("rtmp://h/a/s   live=1  buffer=10 ");
  EXPECT_EQ(l.options.live, true);
  EXPECT_EQ(l.options.buffer_ms, 10u);
}

TEST(LibrtmpOptions, OptionsWithoutMeaningAreListedOnce) {
  const Location l =
      parse_ok("rtmp://h/a/s swfVfy=1 socks=proxy:1080 swfVfy=0 subscribe=s jtv=x live=1");
  EXPECT_EQ(l.options.ignored, (std::vector<std::string>{"swfVfy", "socks", "subscribe", "jtv"}));
  EXPECT_EQ(l.options.live, true);
}

TEST(LibrtmpOptions, Escapes) {
  // librtmp(3): "\20" is a space, "\5c" a backslash; any byte may be written so.
  EXPECT_EQ(decode_escapes("a\\20b").value(), "a b");
  EXPECT_EQ(decode_escapes("\\5c\\5C").value(), "\\\\");
  EXPECT_EQ(decode_escapes("\\00").value(), std::string(1, '\0'));
  EXPECT_EQ(decode_escapes("").value(), "");
  for (const char *bad : {"\\", "\\2", "\\2g", "x\\zz", "\\ 20"})
    EXPECT_FALSE(decode_escapes(bad).ok()) << bad;
}

TEST(LibrtmpOptions, EscapeRoundTrip) {
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  const std::string escaped = escape_value(all);
  EXPECT_EQ(escaped.find(' '), std::string::npos);
  EXPECT_EQ(decode_escapes(escaped).value(), all);
  // Through a whole location: each value comes back as written.
  const std::string flash = "WIN 11,2,202,235 (x\\y)";
  const Location l = parse_ok("rtmp://h/a/s flashVer=" + escape_value(flash) +
                              " pageUrl=" + escape_value("http://p/a b"));
  EXPECT_EQ(l.options.flash_ver, flash);
  EXPECT_EQ(l.options.page_url, "http://p/a b");
}

TEST(LibrtmpOptions, SplitKeepsOrderAndDecodes) {
  auto r = split_options("a=1 b=x\\20y c=");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (std::vector<Option>{{"a", "1"}, {"b", "x y"}, {"c", ""}}));
}

TEST(LibrtmpOptions, MalformedOptionsAreRefusedNamingThem) {
  EXPECT_NE(parse_error("rtmp://h/a/s live").find("'live'"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s =1").find("no name"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s live=2").find("live=2"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s buffer=-1").find("buffer"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s buffer=99999999999").find("buffer"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s timeout=5s").find("timeout"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s start=x").find("start"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s pageUrl=a\\2").find("pageUrl"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s plypath=x").find("unknown option 'plypath'"),
            std::string::npos);
  // librtmp compares names case-sensitively.
  EXPECT_NE(parse_error("rtmp://h/a/s Live=1").find("'Live'"), std::string::npos);
  EXPECT_NE(parse_error("rtmp://h/a/s live=1\n").find("control"), std::string::npos);
}

TEST(LibrtmpOptions, RedactSecrets) {
  EXPECT_EQ(redact_secrets("rtmp://h/a/s token=k3y live=1 token=other"),
            "rtmp://h/a/s token=*** live=1 token=***");
  EXPECT_EQ(redact_secrets("rtmp://h/a/s token="), "rtmp://h/a/s token=***");
  EXPECT_EQ(redact_secrets("rtmp://h/a/s live=maybe"), "rtmp://h/a/s live=maybe");
  // Only whole option names: "mytoken=" is not a token (and not a librtmp option either).
  EXPECT_EQ(redact_secrets("rtmp://h/a/s mytoken=x"), "rtmp://h/a/s mytoken=x");
}

TEST(LibrtmpOptions, Conn) {
  // librtmp(3)'s own example.
  const Location l = parse_ok("rtmp://h/a/s conn=B:1 conn=S:authMe conn=O:1 conn=NN:code:1.23 "
                              "conn=NS:flag:ok conn=O:0");
  ASSERT_EQ(l.options.conn.size(), 3u);
  EXPECT_EQ(l.options.conn[0], amf::Value(true));
  EXPECT_EQ(l.options.conn[1], amf::Value("authMe"));
  EXPECT_EQ(l.options.conn[2],
            amf::make_object({{"code", amf::Value(1.23)}, {"flag", amf::Value("ok")}}));
}

TEST(LibrtmpOptions, ConnEveryType) {
  auto r = parse_conn({"B:0", "N:-4", "S:", "S:a:b", "Z:", "O:1", "NB:b:1", "NZ:z:", "NO:sub:1",
                       "NS:s:x", "O:0", "O:0"});
  ASSERT_TRUE(r.ok());
  const std::vector<amf::Value> expected{
      amf::Value(false),
      amf::Value(-4.0),
      amf::Value(""),
      amf::Value("a:b"),
      amf::Value(amf::Null{}),
      amf::make_object({{"b", amf::Value(true)},
                        {"z", amf::Value(amf::Null{})},
                        {"sub", amf::make_object({{"s", amf::Value("x")}})}})};
  EXPECT_EQ(r.value(), expected);
}

TEST(LibrtmpOptions, ConnMalformed) {
  const std::vector<std::vector<std::string>> bad = {
      {"X:1"},        {"B:2"},        {"N:abc"},         {"N:inf"}, {"S"},
      {""},           {"O:1"},        {"O:0"},           {"O:2"},   {"NS:name:x"},
      {"O:1", "S:x"}, {"O:1", "NS:"}, {"O:1", "NO:x:0"}, {"B"},     {"N:"},
  };
  for (const auto &items : bad) {
    std::string why;
    auto r = parse_conn(items, &why);
    EXPECT_FALSE(r.ok()) << items.front();
    EXPECT_EQ(r.error(), make_error_code(Errc::url_invalid)) << items.front();
    EXPECT_NE(why.find("conn"), std::string::npos) << why;
  }
}

TEST(LibrtmpOptions, Limits) {
  std::string many = "rtmp://h/a/s";
  for (std::size_t i = 0; i <= kMaxOptions; ++i)
    many += " live=1";
  parse_error(many, Errc::limit_exceeded);

  std::vector<std::string> deep(kMaxConnDepth, "NO:o:1");
  deep.front() = "O:1";
  deep.push_back("NO:o:1");
  std::string why;
  EXPECT_EQ(parse_conn(deep, &why).error(), make_error_code(Errc::limit_exceeded));
  // Exactly at the limit it parses.
  std::vector<std::string> ok(kMaxConnDepth, "NO:o:1");
  ok.front() = "O:1";
  ok.insert(ok.end(), kMaxConnDepth, "O:0");
  EXPECT_TRUE(parse_conn(ok).ok());

  parse_error("rtmp://h/a/s pageUrl=" + std::string(kMaxLocationLength, 'x'), Errc::limit_exceeded);
}

TEST(LibrtmpOptions, TruncatedAtEveryOffset) {
  // Every prefix either parses or is refused with a typed error; never anything else.
  const std::string full = "rtmp://h/a/s app=x\\20y conn=O:1 conn=NS:k:v conn=O:0 live=1 "
                           "buffer=100 swfVfy=1";
  for (std::size_t n = 0; n <= full.size(); ++n) {
    std::string why;
    auto r = parse_location(std::string_view(full).substr(0, n), &why);
    if (!r.ok()) {
      EXPECT_EQ(r.error(), make_error_code(Errc::url_invalid)) << n;
      EXPECT_FALSE(why.empty()) << n;
    }
  }
  EXPECT_TRUE(parse_location(full).ok());
}

TEST(LibrtmpOptions, HostileBytes) {
  // Every byte in a value: control characters are refused, everything else decodes as written.
  for (int c = 1; c < 256; ++c) {
    const std::string text = std::string("rtmp://h/a/s pageUrl=a") + static_cast<char>(c) + "b";
    auto r = parse_location(text);
    const bool control = c < 0x20 || c == 0x7F;
    if (c == ' ') {
      EXPECT_FALSE(r.ok()); // "b" is then an option without '='
    } else if (c == '\\') {
      EXPECT_FALSE(r.ok());
    } else {
      EXPECT_EQ(r.ok(), !control) << c;
    }
  }
}
