// RTMP URLs: rtmp[s]://[user[:password]@]host[:port]/app[/instance]/stream[?query]
//
// There is no RFC for RTMP URLs; the conventions below follow GStreamer's rtmp2 elements and
// FFmpeg so that a URL copied from either works here:
// - scheme "rtmp" (default port 1935, RTMP 1.0 spec section 5.2 "well-known port") or "rtmps"
//   (RTMP over TLS, default port 443). rtmpt/rtmpte/rtmpts (HTTP tunnelling), rtmpe (Adobe's
//   encryption) and rtmfp (UDP) are rejected with Errc::url_unsupported_scheme.
// - the first path segment is the application; the LAST segment is the stream name; segments in
//   between belong to the application as its instance ("rtmp://h/live/inst/key": app
//   "live/inst", stream "key"). This is rtmp2's rule; FFmpeg additionally lets the stream contain
//   '/', which cannot be told apart from an instance without asking the server.
// - a "?query" stays on the stream name (servers use it for tokens: "key?token=x"). A query that
//   follows the application instead ("rtmp://h/app?auth=x/key") stays on the application, as
//   nginx-rtmp and Wowza expect it in the tcUrl/app of connect.
// - the path is kept as written (no percent-decoding), so stream keys containing '%' reach the
//   server untouched, as with FFmpeg. Only the user info is percent-decoded, so that ':' and '@'
//   can appear in credentials as %3A and %40.
// - IPv6 literals are written in brackets: rtmp://[::1]:1935/app/stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace rtmp {

// URLs longer than this are rejected (Errc::limit_exceeded). FFmpeg caps tcUrl at 1 KiB and the
// play path at 4 KiB; this leaves room for both plus credentials.
inline constexpr std::size_t kMaxUrlLength = 8192;

inline constexpr std::uint16_t kDefaultRtmpPort = 1935;
inline constexpr std::uint16_t kDefaultRtmpsPort = 443;

struct RtmpUrl {
  std::string scheme; // "rtmp" | "rtmps" (lower case)
  std::string host;   // without brackets for IPv6 literals
  std::uint16_t port = kDefaultRtmpPort;
  std::string application;        // may include "/instance" (and a "?query" written after it)
  std::string stream;             // with "?query" kept; may be empty when not required
  std::string username, password; // percent-decoded

  bool operator==(const RtmpUrl &) const = default;

  std::uint16_t default_port() const;
  bool is_tls() const { return scheme == "rtmps"; }
  // scheme://host[:port]/app, the tcUrl of the connect command (RTMP 1.0 section 7.2.1.1). The
  // port is written only when it is not the scheme's default; credentials are never included.
  std::string tc_url() const;
  // The full URL, credentials included (percent-encoded): parse_rtmp_url(to_string()) == *this.
  std::string to_string() const;
  // The full URL with the password replaced by "***", for logs and error messages.
  std::string to_redacted_string() const;
};

// Parses `url` as described above. Errors: Errc::url_unsupported_scheme (a scheme other than
// rtmp/rtmps), Errc::url_missing_stream (no stream name while `require_stream`),
// Errc::url_invalid (no "://", empty host or application, bad port, bad brackets or
// percent-escapes, spaces or control characters), Errc::limit_exceeded (longer than
// kMaxUrlLength). On failure `why` (when given) gets what is wrong in a few words ("no host",
// "invalid port '70000'"), since one error code covers many mistakes and a user needs to know
// which one they made.
Result<RtmpUrl> parse_rtmp_url(std::string_view url, bool require_stream = true,
                               std::string *why = nullptr);

// `url` as written, with the password of its user info (if any) replaced by "***". Works on
// text that does not parse too, so that an error message can quote a rejected URL.
std::string redact_url_password(std::string_view url);

} // namespace rtmp
