// RTMP authentication by connect rejection and reconnection: Adobe ("authmod=adobe", Flash
// Media Server, Wowza) and Limelight ("authmod=llnw"). Neither is in the RTMP 1.0
// specification; the shapes here are those FFmpeg's rtmpproto.c, librtmp/OBS and GStreamer's
// rtmp2 speak as clients, and FMS/Wowza as servers.
//
// The exchange (each step is a new TCP connection; the credentials ride in a query appended to
// the connect command's "app" and "tcUrl"):
//   1. client: connect app "live"
//      server: _error, description "[ AccessManager.Reject ] : [ code=403 need auth;
//              authmod=adobe ] : "
//   2. client: connect app "live?authmod=adobe&user=NAME"
//      server: _error, description "[ AccessManager.Reject ] : [ authmod=adobe ] :
//              ?reason=needauth&user=NAME&salt=S&challenge=C&opaque=O"
//   3. client: connect app "live?authmod=adobe&user=NAME&challenge=CC&response=R&opaque=O"
//              R = base64(md5(base64(md5(NAME + S + PASSWORD)) + (O or C) + CC))
//      server: _result (accepted) or _error "... ?reason=authfailed"
// Limelight replaces step 2's salt/challenge/opaque with a nonce and step 3's response with an
// HTTP-digest-like chain (RFC 2617 section 3.2.2 with realm "live", method "publish", qop
// "auth", nc 00000001).
//
// Sans-IO: random challenges come from a caller-supplied RandomSource and time is passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp::auth {

// `none`: send no credentials / require none. `automatic` (client only): send no credentials
// first and answer whichever method the server asks for.
enum class Method { none, automatic, adobe, llnw };
std::string_view to_string(Method m);

// A rejection description is a short sentence plus a query; FMS's are under 300 bytes (FFmpeg
// copies them into a 300-byte buffer). Longer ones are refused rather than parsed.
inline constexpr std::size_t kMaxDescriptionLength = 2048;
// An app query ("authmod=...&user=...&challenge=...&response=...&opaque=...") is far shorter.
inline constexpr std::size_t kMaxQueryLength = 2048;
inline constexpr std::size_t kMaxQueryParams = 32;
// User names and passwords an application can configure, and challenge fields a peer sends.
inline constexpr std::size_t kMaxCredentialLength = 256;
// Challenges a server keeps between step 2 and step 3; the oldest is dropped beyond this, so a
// peer that opens connections forever costs bounded memory.
inline constexpr std::size_t kMaxPendingChallenges = 1024;

// ---------------------------------------------------------------------------------------------
// Query strings ("a=b&c=d"): values stay as sent (percent-encoded or not); decode with
// percent_decode() where the plain text is needed.

struct QueryParam {
  std::string key;
  std::string value;
};
// Parses "a=b&c=d" (no leading '?'). Errc::limit_exceeded beyond kMaxQueryLength or
// kMaxQueryParams. A parameter without '=' has an empty value.
Result<std::vector<QueryParam>> parse_query(std::string_view query);
// The value of the first parameter named `key`, or nullopt.
std::optional<std::string> query_value(const std::vector<QueryParam> &params, std::string_view key);
// RFC 3986 section 2.1. Errc::malformed on a '%' not followed by two hex digits.
Result<std::string> percent_decode(std::string_view s);
// Encodes every byte outside RFC 3986 "unreserved" (ALPHA DIGIT - . _ ~), upper-case hex.
std::string percent_encode(std::string_view s, bool lower_case_hex = false);

// Splits "live?authmod=adobe&user=x" into "live" and "authmod=adobe&user=x".
struct AppQuery {
  std::string app;
  std::string query; // without '?'; empty when there was none
};
AppQuery split_app_query(std::string_view app);

// ---------------------------------------------------------------------------------------------
// The two response computations, exposed for tests and for both sides.

// base64(md5(base64(md5(user + salt + password)) + opaque_or_challenge + client_challenge)),
// exactly as FFmpeg's do_adobe_auth() (opaque when the server sent one, else its challenge).
std::string adobe_response(std::string_view user, std::string_view salt, std::string_view password,
                           std::string_view opaque_or_challenge, std::string_view client_challenge);

// Limelight: HA1 = md5hex(user ":" "live" ":" password), HA2 = md5hex("publish:/" app
// ["/_definst_" when app has no '/']), response = md5hex(HA1 ":" nonce ":" nc ":" cnonce
// ":auth:" HA2), lower-case hex as FFmpeg's do_llnw_auth(). `app` without any query.
std::string llnw_response(std::string_view user, std::string_view password, std::string_view app,
                          std::string_view nonce, std::string_view cnonce,
                          std::string_view nc = "00000001");

// ---------------------------------------------------------------------------------------------
// Client side

// What a connect _error description asks for.
struct Challenge {
  Method method = Method::none; // adobe or llnw
  enum class Kind {
    need_user, // "code=403 need auth": reconnect with "?authmod=M&user=NAME"
    need_auth, // "?reason=needauth&...": reconnect with the computed response
  } kind = Kind::need_user;
  std::string user; // as the server wrote them (not decoded: they enter the hash as sent)
  std::string salt;
  std::string challenge;
  std::optional<std::string> opaque;
  std::string nonce;
};

// Errors: Errc::connect_rejected when the description is not an authentication rejection (no
// "authmod=adobe" / "authmod=llnw"); Errc::auth_failed for "?reason=authfailed" and
// "?reason=nosuchuser"; Errc::malformed when neither "code=403 need auth" nor
// "?reason=needauth" is present; Errc::limit_exceeded past kMaxDescriptionLength.
Result<Challenge> parse_rejection(std::string_view description);

// "?authmod=M&user=NAME" (the user percent-encoded so that the query stays parseable).
std::string initial_query(Method m, std::string_view user);
// "?authmod=adobe&user=U&challenge=CC&response=R[&opaque=O]" or
// "?authmod=llnw&user=U&nonce=N&cnonce=CC&nc=00000001&response=R". `client_nonce` is a fresh
// random token (FFmpeg: 8 hex digits). `app` (llnw only) is the app without query.
std::string response_query(const Challenge &c, std::string_view password,
                           std::string_view client_nonce, std::string_view app);

// The client's side of the exchange across reconnects: holds credentials, tells what query to
// append to app and tcUrl on the next connect, and digests each rejection. Gives up after one
// challenge answer, like FFmpeg (a server that rejects a computed response means the password
// is wrong).
class ClientAuth {
public:
  ClientAuth(std::string user, std::string password, Method method = Method::automatic);

  // What to append to "app" and "tcUrl" for the next connect ("" when nothing).
  const std::string &query() const { return query_; }
  // Digests the description of a connect _error. On success the caller reconnects with the new
  // query(); otherwise the error says why not: Errc::auth_failed (wrong credentials, or the
  // server rejected again after our response), Errc::connect_rejected (not an authentication
  // rejection, or no credentials), Errc::unsupported (a method other than the one configured),
  // Errc::malformed. `client_nonce`: fresh random token; `app` without query (for llnw).
  std::error_code on_rejected(std::string_view description, std::string_view client_nonce,
                              std::string_view app);
  int attempts() const { return attempts_; }

private:
  std::string user_;
  std::string password_;
  Method method_;
  std::string query_;
  int attempts_ = 0;
  bool responded_ = false;
};

// ---------------------------------------------------------------------------------------------
// Server side

// Fills the span with unpredictable bytes (the element passes a CSPRNG, tests a fixed pattern).
using RandomSource = std::function<void(std::span<std::uint8_t>)>;
// The password of `user` (decoded), or nullopt for an unknown user.
using CredentialLookup = std::function<std::optional<std::string>(std::string_view user)>;

// Challenges issued in step 2 and awaited in step 3. Step 3 arrives on a new connection, so the
// store is shared by every session of one server (ServerAuthConfig copies share it). Each
// challenge is single-use and expires. Not thread-safe: the owner serializes access.
class ChallengeStore {
public:
  struct Entry {
    Method method = Method::adobe;
    std::string key;       // adobe: opaque; llnw: nonce
    std::string user;      // as sent in the challenge
    std::string salt;      // adobe
    std::string challenge; // adobe
    Millis expires{0};
  };
  void add(Entry e, Millis now);
  // Removes and returns the live entry with this key (expired ones are dropped).
  std::optional<Entry> take(std::string_view key, Millis now);
  std::size_t size() const { return entries_.size(); }

private:
  void expire(Millis now);
  std::vector<Entry> entries_; // oldest first
};

struct ServerAuthConfig {
  Method method = Method::none; // none: no authentication; adobe or llnw
  CredentialLookup lookup;
  RandomSource random;
  Millis challenge_lifetime{60000};
  // FFmpeg (up to at least 7.x) does not percent-decode the user:password of an rtmp:// URL:
  // "rtmp://u:pa%40ss@host" hashes "pa%40ss". Accept a response computed over the
  // percent-encoded form of the configured password too (same secret, different spelling).
  bool accept_percent_encoded_password = true;
  std::shared_ptr<ChallengeStore> challenges = std::make_shared<ChallengeStore>();

  bool enabled() const { return method == Method::adobe || method == Method::llnw; }
};

struct ServerDecision {
  bool accepted = false;
  std::string app;         // the app without the authentication query
  std::string user;        // decoded user name when accepted with credentials
  std::string description; // when rejected: the _error description (FMS wording)
  std::error_code error;   // when rejected: Errc::auth_failed for wrong credentials, else
                           // empty (a challenge step), or Errc::malformed / limit_exceeded
};

// Decides on a connect given its "app" and "tcUrl" (the query is taken from app, else from
// tcUrl). With auth disabled every connect is accepted (and the app is returned unchanged).
// Steps: no authmod (or another method) -> "code=403 need auth; authmod=M"; authmod + user ->
// "?reason=needauth&..." with a fresh challenge; a response -> verified against the challenge
// (constant-time compare) -> accepted or "?reason=authfailed". Unknown users get a challenge
// like known ones and fail at the response, so user names cannot be probed.
ServerDecision check_connect(const ServerAuthConfig &cfg, std::string_view app,
                             std::string_view tc_url, Millis now);

// The descriptions FMS/Wowza send, which FFmpeg's handle_connect_error() and rtmp2 recognise.
std::string need_auth_description(Method m);
std::string challenge_description(const ChallengeStore::Entry &e);
std::string auth_failed_description(Method m);

} // namespace rtmp::auth
