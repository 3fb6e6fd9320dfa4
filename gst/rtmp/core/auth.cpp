#include "core/auth.hpp"

#include "core/bytes.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <glib.h>

namespace rtmp::auth {
namespace {

// FMS prefixes every AccessManager rejection with this; FFmpeg only searches for the parts
// after it, but matching the real wording keeps other clients (OBS's librtmp, rtmp2) happy.
constexpr std::string_view kRejectPrefix = "[ AccessManager.Reject ] : ";
// Limelight's digest constants (FFmpeg do_llnw_auth(): realm, method, qop).
constexpr std::string_view kLlnwRealm = "live";
constexpr std::string_view kLlnwMethod = "publish";
constexpr std::string_view kLlnwQop = "auth";
constexpr std::string_view kLlnwNc = "00000001";
// Random bytes per server challenge token: 128 bits, base64 (adobe) or hex (llnw).
constexpr std::size_t kChallengeBytes = 16;
// The Adobe salt is per challenge here (FMS keeps one per user; the client cannot tell).
constexpr std::size_t kSaltBytes = 12;

class Md5 {
public:
  Md5() : c_(g_checksum_new(G_CHECKSUM_MD5)) {}
  ~Md5() { g_checksum_free(c_); }
  Md5(const Md5 &) = delete;
  Md5 &operator=(const Md5 &) = delete;
  Md5 &update(std::string_view s) {
    g_checksum_update(c_, reinterpret_cast<const guchar *>(s.data()),
                      static_cast<gssize>(s.size()));
    return *this;
  }
  std::array<std::uint8_t, 16> digest() {
    std::array<std::uint8_t, 16> out{};
    gsize len = out.size();
    g_checksum_get_digest(c_, out.data(), &len);
    return out;
  }
  // g_checksum_get_string() is lower-case hex, as FFmpeg's ff_data_to_hex(..., 1).
  std::string hex() { return g_checksum_get_string(c_); }

private:
  GChecksum *c_;
};

std::string base64(std::span<const std::uint8_t> data) {
  gchar *s = g_base64_encode(data.data(), data.size());
  std::string out(s);
  g_free(s);
  return out;
}

std::string hex(std::span<const std::uint8_t> data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

// Compares without an early exit so that the time taken does not tell how many leading bytes
// of a guessed response were right. (Lengths are public: responses have a fixed length.)
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// The characters someone writing a URL by hand must escape in userinfo (RFC 3986 section 3.2.1
// allows sub-delims and ':' there, but ':' splits user from password and '@' ends userinfo).
bool must_escape_in_userinfo(unsigned char c) {
  return c == '@' || c == ':' || c == '/' || c == '?' || c == '#' || c == '%' || c == '[' ||
         c == ']' || c <= 0x20 || c >= 0x7F;
}

std::string escape_some(std::string_view s, bool (*escape)(unsigned char), bool lower) {
  const char *digits = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (!escape(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

bool not_unreserved(unsigned char c) {
  return !is_unreserved(c);
}

std::string random_token(const RandomSource &random, std::size_t n, bool as_hex) {
  std::vector<std::uint8_t> bytes(n);
  if (random)
    random(bytes);
  return as_hex ? hex(bytes) : base64(bytes);
}

std::optional<Method> method_from(std::string_view s) {
  if (s == "adobe")
    return Method::adobe;
  if (s == "llnw")
    return Method::llnw;
  return std::nullopt;
}

ServerDecision reject(std::string description, std::error_code ec = {}) {
  ServerDecision d;
  d.description = std::move(description);
  d.error = ec;
  return d;
}

} // namespace

std::string_view to_string(Method m) {
  switch (m) {
  case Method::none:
    return "none";
  case Method::automatic:
    return "automatic";
  case Method::adobe:
    return "adobe";
  case Method::llnw:
    return "llnw";
  }
  return "none";
}

// ---------------------------------------------------------------------------------------------
// Query strings

Result<std::vector<QueryParam>> parse_query(std::string_view query) {
  if (query.size() > kMaxQueryLength)
    return Errc::limit_exceeded;
  std::vector<QueryParam> params;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty())
      continue;
    if (params.size() >= kMaxQueryParams)
      return Errc::limit_exceeded;
    std::size_t eq = item.find('=');
    QueryParam p;
    p.key = std::string(item.substr(0, eq));
    if (eq != std::string_view::npos)
      p.value = std::string(item.substr(eq + 1));
    params.push_back(std::move(p));
  }
  return params;
}

std::optional<std::string> query_value(const std::vector<QueryParam> &params,
                                       std::string_view key) {
  for (const auto &p : params)
    if (p.key == key)
      return p.value;
  return std::nullopt;
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (s.size() - i < 3)
      return Errc::malformed;
    int hi = hex_digit_value(s[i + 1]);
    int lo = hex_digit_value(s[i + 2]);
    if (hi < 0 || lo < 0)
      return Errc::malformed;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s, bool lower_case_hex) {
  return escape_some(s, not_unreserved, lower_case_hex);
}

AppQuery split_app_query(std::string_view app) {
  std::size_t q = app.find('?');
  if (q == std::string_view::npos)
    return {std::string(app), {}};
  return {std::string(app.substr(0, q)), std::string(app.substr(q + 1))};
}

// ---------------------------------------------------------------------------------------------
// Responses

std::string adobe_response(std::string_view user, std::string_view salt, std::string_view password,
                           std::string_view opaque_or_challenge,
                           std::string_view client_challenge) {
  std::string hash1 = base64(Md5().update(user).update(salt).update(password).digest());
  return base64(Md5().update(hash1).update(opaque_or_challenge).update(client_challenge).digest());
}

std::string llnw_response(std::string_view user, std::string_view password, std::string_view app,
                          std::string_view nonce, std::string_view cnonce, std::string_view nc) {
  std::string ha1 =
      Md5().update(user).update(":").update(kLlnwRealm).update(":").update(password).hex();
  Md5 h2;
  h2.update(kLlnwMethod).update(":/").update(app);
  // FMS-style application instance: "app" alone means instance "_definst_".
  if (app.find('/') == std::string_view::npos)
    h2.update("/_definst_");
  std::string ha2 = h2.hex();
  return Md5()
      .update(ha1)
      .update(":")
      .update(nonce)
      .update(":")
      .update(nc)
      .update(":")
      .update(cnonce)
      .update(":")
      .update(kLlnwQop)
      .update(":")
      .update(ha2)
      .hex();
}

// ---------------------------------------------------------------------------------------------
// Client side

Result<Challenge> parse_rejection(std::string_view description) {
  if (description.size() > kMaxDescriptionLength)
    return Errc::limit_exceeded;
  Challenge c;
  // FFmpeg handle_connect_error(): the method name runs from "authmod=" to the next space.
  std::size_t at = description.find("authmod=");
  if (at == std::string_view::npos)
    return Errc::connect_rejected;
  std::string_view rest = description.substr(at + 8);
  std::string_view name = rest.substr(0, rest.find_first_of(" &]"));
  auto method = method_from(name);
  if (!method)
    return Errc::connect_rejected;
  c.method = *method;
  if (description.find("?reason=authfailed") != std::string_view::npos ||
      description.find("?reason=nosuchuser") != std::string_view::npos)
    return Errc::auth_failed;
  if (description.find("code=403 need auth") != std::string_view::npos) {
    c.kind = Challenge::Kind::need_user;
    return c;
  }
  std::size_t q = description.find("?reason=needauth");
  if (q == std::string_view::npos)
    return Errc::malformed;
  auto params = parse_query(description.substr(q + 1));
  if (!params)
    return params.error();
  c.kind = Challenge::Kind::need_auth;
  for (const auto &p : *params) {
    if (p.value.size() > kMaxCredentialLength)
      return Errc::limit_exceeded;
    if (p.key == "user")
      c.user = p.value;
    else if (p.key == "salt")
      c.salt = p.value;
    else if (p.key == "challenge")
      c.challenge = p.value;
    else if (p.key == "opaque")
      c.opaque = p.value;
    else if (p.key == "nonce")
      c.nonce = p.value;
  }
  if (c.method == Method::adobe && c.salt.empty())
    return Errc::malformed;
  if (c.method == Method::llnw && c.nonce.empty())
    return Errc::malformed;
  return c;
}

std::string initial_query(Method m, std::string_view user) {
  return "?authmod=" + std::string(to_string(m)) + "&user=" + percent_encode(user);
}

std::string response_query(const Challenge &c, std::string_view password,
                           std::string_view client_nonce, std::string_view app) {
  std::string q;
  if (c.method == Method::llnw) {
    std::string response = llnw_response(c.user, password, app, c.nonce, client_nonce);
    q = "?authmod=llnw&user=" + c.user + "&nonce=" + c.nonce +
        "&cnonce=" + std::string(client_nonce) + "&nc=" + std::string(kLlnwNc) +
        "&response=" + response;
    return q;
  }
  std::string_view mix = c.opaque ? std::string_view(*c.opaque) : std::string_view(c.challenge);
  std::string response = adobe_response(c.user, c.salt, password, mix, client_nonce);
  // The response is base64: '+', '/' and '=' reach the server as is, as FFmpeg sends them
  // (FMS and our server read the query without decoding '+').
  q = "?authmod=adobe&user=" + c.user + "&challenge=" + std::string(client_nonce) +
      "&response=" + response;
  if (c.opaque)
    q += "&opaque=" + *c.opaque;
  return q;
}

ClientAuth::ClientAuth(std::string user, std::string password, Method method)
    : user_(std::move(user)), password_(std::move(password)), method_(method) {
  // A forced method skips the first round trip (FFmpeg's behaviour when the URL already
  // carries "?authmod=...": the server answers with the challenge directly).
  if ((method_ == Method::adobe || method_ == Method::llnw) && !user_.empty())
    query_ = initial_query(method_, user_);
}

std::error_code ClientAuth::on_rejected(std::string_view description, std::string_view client_nonce,
                                        std::string_view app) {
  auto c = parse_rejection(description);
  if (!c)
    return c.error();
  if (user_.empty() || password_.empty())
    return Errc::connect_rejected;
  if (method_ == Method::none)
    return Errc::connect_rejected;
  if (method_ != Method::automatic && c->method != method_)
    return Errc::unsupported;
  // After our computed response, a further rejection means the credentials are wrong (FFmpeg
  // stops there too: rt->auth_tried).
  if (responded_)
    return Errc::auth_failed;
  ++attempts_;
  if (c->kind == Challenge::Kind::need_user) {
    if (attempts_ > 1 && query_ == initial_query(c->method, user_))
      return Errc::auth_failed; // asked for the user twice: the server ignores our query
    query_ = initial_query(c->method, user_);
    return {};
  }
  query_ = response_query(*c, password_, client_nonce, split_app_query(app).app);
  responded_ = true;
  return {};
}

// ---------------------------------------------------------------------------------------------
// Server side

void ChallengeStore::expire(Millis now) {
  std::erase_if(entries_, [now](const Entry &e) { return e.expires <= now; });
}

void ChallengeStore::add(Entry e, Millis now) {
  expire(now);
  if (entries_.size() >= kMaxPendingChallenges)
    entries_.erase(entries_.begin());
  entries_.push_back(std::move(e));
}

std::optional<ChallengeStore::Entry> ChallengeStore::take(std::string_view key, Millis now) {
  expire(now);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [key](const Entry &e) { return constant_time_equal(e.key, key); });
  if (it == entries_.end())
    return std::nullopt;
  Entry e = std::move(*it);
  entries_.erase(it);
  return e;
}

std::string need_auth_description(Method m) {
  return std::string(kRejectPrefix) + "[ code=403 need auth; authmod=" + std::string(to_string(m)) +
         " ] : ";
}

std::string challenge_description(const ChallengeStore::Entry &e) {
  std::string d = std::string(kRejectPrefix) + "[ authmod=" + std::string(to_string(e.method)) +
                  " ] : ?reason=needauth&user=" + e.user;
  if (e.method == Method::llnw)
    return d + "&nonce=" + e.key;
  return d + "&salt=" + e.salt + "&challenge=" + e.challenge + "&opaque=" + e.key;
}

std::string auth_failed_description(Method m) {
  return std::string(kRejectPrefix) + "[ authmod=" + std::string(to_string(m)) +
         " ] : ?reason=authfailed";
}

ServerDecision check_connect(const ServerAuthConfig &cfg, std::string_view app,
                             std::string_view tc_url, Millis now) {
  AppQuery aq = split_app_query(app);
  if (!cfg.enabled()) {
    ServerDecision d;
    d.accepted = true;
    d.app = std::string(app);
    return d;
  }
  const Method method = cfg.method;
  if (aq.query.empty()) {
    // FFmpeg and OBS append the query to both; take tcUrl's when app has none.
    std::size_t q = tc_url.find('?');
    if (q != std::string_view::npos)
      aq.query = std::string(tc_url.substr(q + 1));
  }
  auto params = parse_query(aq.query);
  if (!params)
    return reject(auth_failed_description(method), params.error());
  auto authmod = query_value(*params, "authmod");
  auto user_raw = query_value(*params, "user");
  if (!authmod || method_from(*authmod) != method || !user_raw || user_raw->empty())
    return reject(need_auth_description(method));
  if (user_raw->size() > kMaxCredentialLength)
    return reject(auth_failed_description(method), Errc::limit_exceeded);
  auto user = percent_decode(*user_raw);
  if (!user)
    return reject(auth_failed_description(method), user.error());

  auto response = query_value(*params, "response");
  if (!response) {
    // Step 2: issue a challenge. Unknown users get one too (see header).
    ChallengeStore::Entry e;
    e.method = method;
    e.user = *user_raw;
    e.expires = now + cfg.challenge_lifetime;
    if (method == Method::adobe) {
      e.salt = random_token(cfg.random, kSaltBytes, false);
      e.challenge = random_token(cfg.random, kChallengeBytes, false);
      e.key = random_token(cfg.random, kChallengeBytes, false); // opaque
    } else {
      e.key = random_token(cfg.random, kChallengeBytes, true); // nonce
    }
    std::string description = challenge_description(e);
    if (!cfg.challenges)
      return reject(auth_failed_description(method), Errc::invalid_state);
    cfg.challenges->add(std::move(e), now);
    return reject(std::move(description));
  }

  // Step 3: verify.
  const char *key_name = method == Method::adobe ? "opaque" : "nonce";
  auto key = query_value(*params, key_name);
  auto client_nonce =
      query_value(*params, method == Method::adobe ? "challenge" : "cnonce").value_or("");
  std::optional<ChallengeStore::Entry> entry;
  if (key && cfg.challenges)
    entry = cfg.challenges->take(*key, now);
  auto password = cfg.lookup ? cfg.lookup(*user) : std::nullopt;
  if (!entry || entry->user != *user_raw || !password || client_nonce.size() > kMaxCredentialLength)
    return reject(auth_failed_description(method), Errc::auth_failed);

  std::vector<std::string> candidates{*password};
  if (cfg.accept_percent_encoded_password) {
    for (std::string alt : {escape_some(*password, must_escape_in_userinfo, false),
                            escape_some(*password, must_escape_in_userinfo, true),
                            percent_encode(*password, false), percent_encode(*password, true)})
      if (std::find(candidates.begin(), candidates.end(), alt) == candidates.end())
        candidates.push_back(std::move(alt));
  }
  bool ok = false;
  for (const auto &pw : candidates) {
    std::string expected =
        method == Method::adobe
            ? adobe_response(entry->user, entry->salt, pw, entry->key, client_nonce)
            : llnw_response(entry->user, pw, aq.app, entry->key, client_nonce,
                            query_value(*params, "nc").value_or(std::string(kLlnwNc)));
    // No early exit either: every candidate is computed and compared.
    ok = constant_time_equal(expected, *response) | ok;
  }
  if (!ok)
    return reject(auth_failed_description(method), Errc::auth_failed);
  ServerDecision d;
  d.accepted = true;
  d.app = aq.app;
  d.user = *user;
  return d;
}

} // namespace rtmp::auth
