// Adobe and Limelight RTMP authentication (no RTMP 1.0 section: FMS/Wowza behaviour as FFmpeg's
// rtmpproto.c implements the client; see auth.hpp). Known answers were computed independently
// with Python's hashlib/base64 and cross-checked here with GLib's one-shot helpers.
#include <gtest/gtest.h>

#include <glib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth.hpp"

namespace rtmp::auth {
namespace {

using namespace std::chrono_literals;

// Independent computation with g_compute_checksum_for_string (not the code under test's path).
std::string md5_b64(const std::string &s) {
  GChecksum *c = g_checksum_new(G_CHECKSUM_MD5);
  g_checksum_update(c, reinterpret_cast<const guchar *>(s.data()), static_cast<gssize>(s.size()));
  guint8 d[16];
  gsize n = sizeof d;
  g_checksum_get_digest(c, d, &n);
  g_checksum_free(c);
  gchar *b = g_base64_encode(d, n);
  std::string out(b);
  g_free(b);
  return out;
}
std::string md5_hex(const std::string &s) {
  gchar *h =
      g_compute_checksum_for_string(G_CHECKSUM_MD5, s.c_str(), static_cast<gssize>(s.size()));
  std::string out(h);
  g_free(h);
  return out;
}

// A deterministic "random" source: a counter (bytes 00 01 02 ... at first, so that tests can
// predict tokens; mixed with the higher counter bits so that tokens do not repeat every 256).
RandomSource counter_random() {
  auto n = std::make_shared<std::uint32_t>(0);
  return [n](std::span<std::uint8_t> out) {
    for (auto &b : out) {
      b = static_cast<std::uint8_t>(*n ^ (*n >> 8) ^ (*n >> 16));
      ++*n;
    }
  };
}

ServerAuthConfig server_config(Method m, std::string user = "user",
                               std::string password = "pa@ss") {
  ServerAuthConfig cfg;
  cfg.method = m;
  cfg.random = counter_random();
  cfg.lookup = [user, password](std::string_view u) -> std::optional<std::string> {
    if (u == user)
      return password;
    return std::nullopt;
  };
  return cfg;
}

// ---- Known answers --------------------------------------------------------------------------

TEST(AuthKnownAnswer, AdobeResponse) {
  // Python: b64(md5(b64(md5("user"+salt+"pa@ss")) + opaque + "1a2b3c4d"))
  EXPECT_EQ(adobe_response("user", "c2FsdHNhbHQ=", "pa@ss", "b3BhcXVlb3BhcXVl", "1a2b3c4d"),
            "XJRVNdosA9qx9skQUWQgQQ==");
  // No opaque: the server challenge is mixed in instead.
  EXPECT_EQ(adobe_response("user", "c2FsdHNhbHQ=", "pa@ss", "Y2hhbGxlbmdl", "1a2b3c4d"),
            "tVE1elTHIxmbXq+Q+NT2BQ==");
  // Cross-check with GLib's other API on arbitrary inputs.
  std::string h1 = md5_b64("alice" + std::string("S4lt") + "s3cr:t@");
  EXPECT_EQ(adobe_response("alice", "S4lt", "s3cr:t@", "OPQ", "cc"), md5_b64(h1 + "OPQ" + "cc"));
}

TEST(AuthKnownAnswer, LlnwResponse) {
  // Python: md5hex(HA1:nonce:00000001:cnonce:auth:HA2), HA2 over "publish:/live/_definst_".
  EXPECT_EQ(llnw_response("user", "pa@ss", "live", "0123456789abcdef", "deadbeef"),
            "9b3319c340a885ccaf3a84128170758c");
  // An app with an instance keeps it ("publish:/app/inst").
  EXPECT_EQ(llnw_response("user", "pa@ss", "app/inst", "0123456789abcdef", "deadbeef"),
            "021d3dcce13b70569e5390ad5c7c9da9");
  std::string ha1 = md5_hex("bob:live:pw");
  std::string ha2 = md5_hex("publish:/x/_definst_");
  EXPECT_EQ(llnw_response("bob", "pw", "x", "N", "C", "00000002"),
            md5_hex(ha1 + ":N:00000002:C:auth:" + ha2));
}

// ---- Query helpers --------------------------------------------------------------------------

TEST(AuthQuery, ParseAndLookup) {
  auto q = parse_query("authmod=adobe&user=us%40er&&flag&response=a+b/c==");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ(query_value(*q, "authmod"), "adobe");
  EXPECT_EQ(query_value(*q, "user"), "us%40er"); // not decoded
  EXPECT_EQ(query_value(*q, "flag"), "");
  EXPECT_EQ(query_value(*q, "response"), "a+b/c==");
  EXPECT_FALSE(query_value(*q, "opaque"));
  EXPECT_EQ(parse_query(std::string(kMaxQueryLength + 1, 'a')).error(),
            make_error_code(Errc::limit_exceeded));
  std::string many;
  for (std::size_t i = 0; i <= kMaxQueryParams; ++i)
    many += "a=b&";
  EXPECT_EQ(parse_query(many).error(), make_error_code(Errc::limit_exceeded));
}

TEST(AuthQuery, PercentCoding) {
  EXPECT_EQ(*percent_decode("pa%40ss%3a%3A"), "pa@ss::");
  EXPECT_EQ(*percent_decode("a+b"), "a+b"); // '+' is not a space in RTMP queries
  EXPECT_EQ(percent_decode("%4").error(), make_error_code(Errc::malformed));
  EXPECT_EQ(percent_decode("%").error(), make_error_code(Errc::malformed));
  EXPECT_EQ(percent_decode("%zz").error(), make_error_code(Errc::malformed));
  EXPECT_EQ(percent_encode("u:s@r/ é~"), "u%3As%40r%2F%20%C3%A9~");
  EXPECT_EQ(percent_encode(":", true), "%3a");
  for (std::string s : {"", "plain", "p@:/?#&= %", "\xff\x01"})
    EXPECT_EQ(*percent_decode(percent_encode(s)), s);
}

TEST(AuthQuery, SplitApp) {
  auto a = split_app_query("live?authmod=adobe&user=u");
  EXPECT_EQ(a.app, "live");
  EXPECT_EQ(a.query, "authmod=adobe&user=u");
  auto b = split_app_query("app/inst");
  EXPECT_EQ(b.app, "app/inst");
  EXPECT_EQ(b.query, "");
}

// ---- Client side: rejection descriptions as FMS / Wowza send them ---------------------------

TEST(AuthClient, ParsesNeedAuth) {
  auto c = parse_rejection("[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ] : ");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->method, Method::adobe);
  EXPECT_EQ(c->kind, Challenge::Kind::need_user);
  auto l = parse_rejection("[ AccessManager.Reject ] : [ code=403 need auth; authmod=llnw ] : ");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->method, Method::llnw);
}

TEST(AuthClient, ParsesAdobeChallenge) {
  auto c = parse_rejection("[ AccessManager.Reject ] : [ authmod=adobe ] : "
                           "?reason=needauth&user=user&salt=vsBvSQ==&challenge=bkfpGQ==&"
                           "opaque=aXJ0UQ==");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, Challenge::Kind::need_auth);
  EXPECT_EQ(c->user, "user");
  EXPECT_EQ(c->salt, "vsBvSQ==");
  EXPECT_EQ(c->challenge, "bkfpGQ==");
  EXPECT_EQ(c->opaque, std::optional<std::string>("aXJ0UQ=="));
  EXPECT_EQ(response_query(*c, "pw", "0badc0de", "live"),
            "?authmod=adobe&user=user&challenge=0badc0de&response=" +
                adobe_response("user", "vsBvSQ==", "pw", "aXJ0UQ==", "0badc0de") +
                "&opaque=aXJ0UQ==");
  // Without opaque the server challenge is used and no opaque is sent back.
  auto n = parse_rejection("[ AccessManager.Reject ] : [ authmod=adobe ] : "
                           "?reason=needauth&user=user&salt=S&challenge=C");
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->opaque);
  EXPECT_EQ(response_query(*n, "pw", "cc", "live"),
            "?authmod=adobe&user=user&challenge=cc&response=" +
                adobe_response("user", "S", "pw", "C", "cc"));
}

TEST(AuthClient, ParsesLlnwChallenge) {
  auto c = parse_rejection("[ AccessManager.Reject ] : [ authmod=llnw ] : "
                           "?reason=needauth&user=user&nonce=0123456789abcdef");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->method, Method::llnw);
  EXPECT_EQ(c->nonce, "0123456789abcdef");
  EXPECT_EQ(response_query(*c, "pa@ss", "deadbeef", "live"),
            "?authmod=llnw&user=user&nonce=0123456789abcdef&cnonce=deadbeef&nc=00000001&"
            "response=9b3319c340a885ccaf3a84128170758c");
}

TEST(AuthClient, FailuresAreTyped) {
  EXPECT_EQ(parse_rejection("[ AccessManager.Reject ] : [ authmod=adobe ] : "
                            "?reason=authfailed&opaque=x")
                .error(),
            make_error_code(Errc::auth_failed));
  EXPECT_EQ(
      parse_rejection("[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=nosuchuser").error(),
      make_error_code(Errc::auth_failed));
  EXPECT_EQ(parse_rejection("Connection rejected.").error(),
            make_error_code(Errc::connect_rejected));
  EXPECT_EQ(parse_rejection("[ authmod=kerberos ] : ?reason=needauth").error(),
            make_error_code(Errc::connect_rejected));
  EXPECT_EQ(parse_rejection("[ authmod=adobe ] : something else").error(),
            make_error_code(Errc::malformed));
  EXPECT_EQ(parse_rejection("[ authmod=adobe ] : ?reason=needauth&user=u").error(),
            make_error_code(Errc::malformed)); // no salt
  EXPECT_EQ(parse_rejection("[ authmod=llnw ] : ?reason=needauth&user=u").error(),
            make_error_code(Errc::malformed)); // no nonce
  std::string longd =
      "[ authmod=adobe ] : ?reason=needauth&user=u&salt=" + std::string(kMaxDescriptionLength, 's');
  EXPECT_EQ(parse_rejection(longd).error(), make_error_code(Errc::limit_exceeded));
  std::string long_field = "[ authmod=adobe ] : ?reason=needauth&user=u&salt=" +
                           std::string(kMaxCredentialLength + 1, 's');
  EXPECT_EQ(parse_rejection(long_field).error(), make_error_code(Errc::limit_exceeded));
}

// Every prefix of a real challenge description parses or fails cleanly; a prefix that cuts the
// method name or the needauth marker is never taken for a challenge.
TEST(AuthClient, TruncatedAtEveryOffset) {
  const std::string d = "[ AccessManager.Reject ] : [ authmod=adobe ] : "
                        "?reason=needauth&user=user&salt=vsBvSQ==&challenge=bkfpGQ==&"
                        "opaque=aXJ0UQ==";
  const std::size_t needauth_end = d.find("?reason=needauth") + 16;
  const std::size_t salt_start = d.find("salt=") + 5;
  for (std::size_t n = 0; n <= d.size(); ++n) {
    auto c = parse_rejection(std::string_view(d).substr(0, n));
    if (n < needauth_end || n <= salt_start)
      EXPECT_FALSE(c) << n;
    else
      EXPECT_TRUE(c) << n;
  }
}

TEST(AuthClient, InitialQueryEncodesUser) {
  EXPECT_EQ(initial_query(Method::adobe, "user"), "?authmod=adobe&user=user");
  EXPECT_EQ(initial_query(Method::llnw, "a&b=c@d"), "?authmod=llnw&user=a%26b%3Dc%40d");
}

TEST(AuthClient, StateAcrossReconnects) {
  ClientAuth a("user", "pa@ss");
  EXPECT_EQ(a.query(), "");
  ASSERT_FALSE(a.on_rejected(
      "[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ] : ", "x", "live"));
  EXPECT_EQ(a.query(), "?authmod=adobe&user=user");
  ASSERT_FALSE(a.on_rejected("[ AccessManager.Reject ] : [ authmod=adobe ] : "
                             "?reason=needauth&user=user&salt=S&challenge=C&opaque=O",
                             "1a2b3c4d", "live?authmod=adobe&user=user"));
  EXPECT_EQ(a.query(), "?authmod=adobe&user=user&challenge=1a2b3c4d&response=" +
                           adobe_response("user", "S", "pa@ss", "O", "1a2b3c4d") + "&opaque=O");
  EXPECT_EQ(a.attempts(), 2);
  // A second challenge after our response: the password is wrong (FFmpeg: auth_tried).
  EXPECT_EQ(a.on_rejected("[ AccessManager.Reject ] : [ authmod=adobe ] : "
                          "?reason=needauth&user=user&salt=S&challenge=C&opaque=O",
                          "1a2b3c4d", "live"),
            make_error_code(Errc::auth_failed));

  ClientAuth none("", "");
  EXPECT_EQ(none.on_rejected("[ code=403 need auth; authmod=adobe ]", "x", "live"),
            make_error_code(Errc::connect_rejected));
  ClientAuth forced("u", "p", Method::llnw);
  EXPECT_EQ(forced.query(), "?authmod=llnw&user=u");
  EXPECT_EQ(forced.on_rejected("[ code=403 need auth; authmod=adobe ]", "x", "live"),
            make_error_code(Errc::unsupported));
  ClientAuth failed("u", "p");
  EXPECT_EQ(failed.on_rejected("[ authmod=adobe ] : ?reason=authfailed", "x", "live"),
            make_error_code(Errc::auth_failed));
}

// ---- Server side ----------------------------------------------------------------------------

TEST(AuthServer, DisabledAcceptsEverything) {
  ServerAuthConfig cfg;
  auto d = check_connect(cfg, "live?whatever=1", "", 0ms);
  EXPECT_TRUE(d.accepted);
  EXPECT_EQ(d.app, "live?whatever=1");
}

TEST(AuthServer, AdobeFullExchangeWithClient) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  ClientAuth client("user", "pa@ss");
  std::string app = "live";
  int rounds = 0;
  ServerDecision d;
  for (;; ++rounds) {
    ASSERT_LT(rounds, 4);
    std::string full = app + client.query();
    d = check_connect(cfg, full, "rtmp://h/" + full, 1000ms);
    if (d.accepted)
      break;
    EXPECT_FALSE(d.error) << d.description;
    ASSERT_FALSE(client.on_rejected(d.description, "c0ffee00", full)) << d.description;
  }
  EXPECT_EQ(rounds, 2);
  EXPECT_EQ(d.app, "live");
  EXPECT_EQ(d.user, "user");
  EXPECT_EQ(cfg.challenges->size(), 0u); // single use
}

TEST(AuthServer, AdobeDescriptionsMatchFms) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto first = check_connect(cfg, "live", "rtmp://h/live", 0ms);
  EXPECT_FALSE(first.accepted);
  EXPECT_EQ(first.description,
            "[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ] : ");
  auto second = check_connect(cfg, "live?authmod=adobe&user=user", "", 0ms);
  EXPECT_FALSE(second.accepted);
  // Counter random: salt bytes 00..0b, challenge 0c..1b, opaque 1c..2b, base64.
  EXPECT_EQ(second.description,
            "[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=needauth&user=user&"
            "salt=AAECAwQFBgcICQoL&challenge=DA0ODxAREhMUFRYXGBkaGw==&"
            "opaque=HB0eHyAhIiMkJSYnKCkqKw==");
  // What FFmpeg would send back, computed independently.
  std::string salt = "AAECAwQFBgcICQoL", opaque = "HB0eHyAhIiMkJSYnKCkqKw==";
  std::string response = md5_b64(md5_b64("user" + salt + "pa@ss") + opaque + "1a2b3c4d");
  auto third = check_connect(
      cfg,
      "live?authmod=adobe&user=user&challenge=1a2b3c4d&response=" + response + "&opaque=" + opaque,
      "", 0ms);
  EXPECT_TRUE(third.accepted) << third.description;
}

TEST(AuthServer, WrongPasswordReplayAndExpiry) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto challenge = [&](Millis now) {
    auto d = check_connect(cfg, "live?authmod=adobe&user=user", "", now);
    auto c = parse_rejection(d.description);
    EXPECT_TRUE(c);
    return *c;
  };
  auto answer = [&](const Challenge &c, std::string_view pw, Millis now) {
    return check_connect(cfg, "live" + response_query(c, pw, "cc", "live"), "", now);
  };
  auto wrong = answer(challenge(0ms), "nope", 0ms);
  EXPECT_FALSE(wrong.accepted);
  EXPECT_EQ(wrong.error, make_error_code(Errc::auth_failed));
  EXPECT_EQ(wrong.description, "[ AccessManager.Reject ] : [ authmod=adobe ] : ?reason=authfailed");
  EXPECT_EQ(parse_rejection(wrong.description).error(), make_error_code(Errc::auth_failed));

  Challenge c = challenge(0ms);
  EXPECT_TRUE(answer(c, "pa@ss", 10ms).accepted);
  EXPECT_EQ(answer(c, "pa@ss", 20ms).error, make_error_code(Errc::auth_failed)); // replay

  Challenge late = challenge(0ms);
  EXPECT_EQ(answer(late, "pa@ss", cfg.challenge_lifetime).error,
            make_error_code(Errc::auth_failed));
  Challenge in_time = challenge(0ms);
  EXPECT_TRUE(answer(in_time, "pa@ss", cfg.challenge_lifetime - 1ms).accepted);
}

TEST(AuthServer, UnknownUserGetsAChallengeThenFails) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto d = check_connect(cfg, "live?authmod=adobe&user=mallory", "", 0ms);
  EXPECT_FALSE(d.error);
  auto c = parse_rejection(d.description);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "mallory");
  auto r = check_connect(cfg, "live" + response_query(*c, "pa@ss", "cc", "live"), "", 0ms);
  EXPECT_EQ(r.error, make_error_code(Errc::auth_failed));
}

TEST(AuthServer, ResponseForAnotherUserIsRefused) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto d = check_connect(cfg, "live?authmod=adobe&user=user", "", 0ms);
  auto c = parse_rejection(d.description);
  ASSERT_TRUE(c);
  Challenge other = *c;
  other.user = "admin";
  auto r = check_connect(cfg, "live" + response_query(other, "pa@ss", "cc", "live"), "", 0ms);
  EXPECT_EQ(r.error, make_error_code(Errc::auth_failed));
}

// rtmp://us%40er:p%3Aa%40ss@host/live: FFmpeg sends the user and hashes the password exactly as
// they appear in the URL; our server decodes the user and also accepts the encoded password.
TEST(AuthServer, PercentEncodedCredentials) {
  ServerAuthConfig cfg = server_config(Method::adobe, "us@er", "p:a@ss");
  auto d = check_connect(cfg, "live?authmod=adobe&user=us%40er", "", 0ms);
  auto c = parse_rejection(d.description);
  ASSERT_TRUE(c) << d.description;
  EXPECT_EQ(c->user, "us%40er"); // echoed as sent: it enters the hash that way
  auto ffmpeg_style =
      check_connect(cfg, "live" + response_query(*c, "p%3Aa%40ss", "cc", "live"), "", 0ms);
  EXPECT_TRUE(ffmpeg_style.accepted) << ffmpeg_style.description;
  EXPECT_EQ(ffmpeg_style.user, "us@er");

  c = parse_rejection(check_connect(cfg, "live?authmod=adobe&user=us%40er", "", 0ms).description);
  ASSERT_TRUE(c);
  auto decoded = check_connect(cfg, "live" + response_query(*c, "p:a@ss", "cc", "live"), "", 0ms);
  EXPECT_TRUE(decoded.accepted);

  cfg.accept_percent_encoded_password = false;
  c = parse_rejection(check_connect(cfg, "live?authmod=adobe&user=us%40er", "", 0ms).description);
  ASSERT_TRUE(c);
  auto strict =
      check_connect(cfg, "live" + response_query(*c, "p%3Aa%40ss", "cc", "live"), "", 0ms);
  EXPECT_FALSE(strict.accepted);

  auto bad_user = check_connect(cfg, "live?authmod=adobe&user=%zz", "", 0ms);
  EXPECT_EQ(bad_user.error, make_error_code(Errc::malformed));
}

TEST(AuthServer, LlnwFullExchange) {
  ServerAuthConfig cfg = server_config(Method::llnw);
  auto first = check_connect(cfg, "live", "", 0ms);
  EXPECT_EQ(first.description,
            "[ AccessManager.Reject ] : [ code=403 need auth; authmod=llnw ] : ");
  auto second = check_connect(cfg, "live?authmod=llnw&user=user", "", 0ms);
  EXPECT_EQ(second.description,
            "[ AccessManager.Reject ] : [ authmod=llnw ] : "
            "?reason=needauth&user=user&nonce=000102030405060708090a0b0c0d0e0f");
  // FFmpeg's answer computed independently (do_llnw_auth with app "live").
  std::string nonce = "000102030405060708090a0b0c0d0e0f";
  std::string resp = md5_hex(md5_hex("user:live:pa@ss") + ":" + nonce +
                             ":00000001:deadbeef:auth:" + md5_hex("publish:/live/_definst_"));
  auto third = check_connect(cfg,
                             "live?authmod=llnw&user=user&nonce=" + nonce +
                                 "&cnonce=deadbeef&nc=00000001&response=" + resp,
                             "", 0ms);
  EXPECT_TRUE(third.accepted) << third.description;
  EXPECT_EQ(third.app, "live");

  ClientAuth client("user", "wrong", Method::llnw);
  auto d = check_connect(cfg, "live" + client.query(), "", 0ms);
  ASSERT_FALSE(client.on_rejected(d.description, "cafe", "live"));
  auto r = check_connect(cfg, "live" + client.query(), "", 0ms);
  EXPECT_EQ(r.error, make_error_code(Errc::auth_failed));
  EXPECT_EQ(r.description, "[ AccessManager.Reject ] : [ authmod=llnw ] : ?reason=authfailed");
}

TEST(AuthServer, MethodMismatchAndTcUrlFallback) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto d = check_connect(cfg, "live?authmod=llnw&user=user", "", 0ms);
  EXPECT_EQ(d.description, need_auth_description(Method::adobe));
  // The query only on tcUrl is used.
  auto t = check_connect(cfg, "live", "rtmp://h/live?authmod=adobe&user=user", 0ms);
  EXPECT_NE(t.description.find("?reason=needauth&user=user"), std::string::npos);
}

TEST(AuthServer, LimitsAreTypedErrors) {
  ServerAuthConfig cfg = server_config(Method::adobe);
  auto long_query = check_connect(cfg, "live?" + std::string(kMaxQueryLength + 1, 'a'), "", 0ms);
  EXPECT_EQ(long_query.error, make_error_code(Errc::limit_exceeded));
  auto long_user = check_connect(
      cfg, "live?authmod=adobe&user=" + std::string(kMaxCredentialLength + 1, 'u'), "", 0ms);
  EXPECT_EQ(long_user.error, make_error_code(Errc::limit_exceeded));
  // The challenge store is bounded: the oldest challenge is forgotten.
  auto oldest =
      parse_rejection(check_connect(cfg, "live?authmod=adobe&user=user", "", 0ms).description);
  ASSERT_TRUE(oldest);
  for (std::size_t i = 0; i < kMaxPendingChallenges; ++i)
    (void)check_connect(cfg, "live?authmod=adobe&user=user", "", 0ms);
  EXPECT_EQ(cfg.challenges->size(), kMaxPendingChallenges);
  auto r = check_connect(cfg, "live" + response_query(*oldest, "pa@ss", "cc", "live"), "", 0ms);
  EXPECT_EQ(r.error, make_error_code(Errc::auth_failed));
}

TEST(AuthServer, ConfigCopiesShareChallenges) {
  ServerAuthConfig a = server_config(Method::adobe);
  ServerAuthConfig b = a; // e.g. one copy per ServerSession
  auto c = parse_rejection(check_connect(a, "live?authmod=adobe&user=user", "", 0ms).description);
  ASSERT_TRUE(c);
  EXPECT_TRUE(
      check_connect(b, "live" + response_query(*c, "pa@ss", "cc", "live"), "", 0ms).accepted);
}

} // namespace
} // namespace rtmp::auth
