#include "core/url.hpp"

#include "core/bytes.hpp"

#include <algorithm>
#include <charconv>

namespace rtmp {
namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    c = ascii_lower(c);
  return out;
}

// RFC 3986 section 2.1 percent-decoding; false on a malformed escape.
bool percent_decode(std::string_view in, std::string &out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    const int hi = hex_digit_value(in[i + 1]), lo = hex_digit_value(in[i + 2]);
    if (hi < 0 || lo < 0)
      return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Percent-encodes everything but RFC 3986 "unreserved" characters, so that the user info of
// to_string() parses back to the same credentials.
std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

// Spaces and control characters are never valid in a URL (RFC 3986 section 2); rejecting them
// catches pasted URLs with a trailing newline before a server sees a strange stream name.
bool has_forbidden_char(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F)
      return true;
  }
  return false;
}

std::string host_for_url(const std::string &host) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]"; // IPv6 literal (RFC 3986 section 3.2.2)
  return host;
}

} // namespace

std::uint16_t RtmpUrl::default_port() const {
  return scheme == "rtmps" ? kDefaultRtmpsPort : kDefaultRtmpPort;
}

std::string RtmpUrl::tc_url() const {
  std::string out = scheme + "://" + host_for_url(host);
  if (port != default_port())
    out += ":" + std::to_string(port);
  out += "/" + application;
  return out;
}

std::string RtmpUrl::to_string() const {
  std::string out = scheme + "://";
  if (!username.empty() || !password.empty()) {
    out += percent_encode(username);
    if (!password.empty())
      out += ":" + percent_encode(password);
    out += "@";
  }
  out += host_for_url(host);
  if (port != default_port())
    out += ":" + std::to_string(port);
  out += "/" + application;
  // Without a stream, a trailing '/' keeps an instance ("app/inst") from reading as a stream.
  if (!stream.empty() || application.find('/') != std::string::npos)
    out += "/" + stream;
  return out;
}

std::string RtmpUrl::to_redacted_string() const {
  RtmpUrl copy = *this;
  if (!copy.password.empty())
    copy.password = "***";
  std::string out = copy.to_string();
  // percent_encode turned "***" into "%2A%2A%2A"; show the stars as written.
  if (!password.empty()) {
    const std::string encoded = percent_encode("***");
    const auto at = out.find(":" + encoded + "@");
    if (at != std::string::npos)
      out.replace(at + 1, encoded.size(), "***");
  }
  return out;
}

Result<RtmpUrl> parse_rtmp_url(std::string_view url, bool require_stream, std::string *why) {
  auto fail = [why](Errc e, std::string reason) -> Result<RtmpUrl> {
    if (why)
      *why = std::move(reason);
    return e;
  };
  if (url.size() > kMaxUrlLength)
    return fail(Errc::limit_exceeded,
                "longer than " + std::to_string(kMaxUrlLength) + " characters");
  if (has_forbidden_char(url)) {
    // librtmp's options after the URL (" live=1") are not part of it: a caller that takes them
    // splits them off first (librtmp_options.hpp).
    return fail(Errc::url_invalid, url.find(' ') != std::string_view::npos
                                       ? "contains a space"
                                       : "contains a control character");
  }

  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0)
    return fail(Errc::url_invalid, "not a URL (expected rtmp:// or rtmps://)");
  RtmpUrl out;
  out.scheme = to_lower(url.substr(0, scheme_end));
  if (out.scheme != "rtmp" && out.scheme != "rtmps") {
    // rtmpt/rtmpte/rtmpts (HTTP tunnelling), rtmpe (RTMPE encryption), rtmfp (UDP) and anything
    // else: we speak plain RTMP over TCP, optionally inside TLS, only.
    return fail(Errc::url_unsupported_scheme,
                "unsupported scheme '" + out.scheme + "' (only rtmp and rtmps)");
  }
  out.port = out.default_port();

  std::string_view rest = url.substr(scheme_end + 3);
  const auto authority_end = rest.find('/');
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end + 1);

  // User info: up to the LAST '@' of the authority, so that an unescaped '@' in a password
  // still parses the way the user meant.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), out.username))
      return fail(Errc::url_invalid, "bad percent-escape in the user name");
    if (colon != std::string_view::npos &&
        !percent_decode(userinfo.substr(colon + 1), out.password))
      return fail(Errc::url_invalid, "bad percent-escape in the password");
  }

  // Host and port; IPv6 literals in brackets (RFC 3986 section 3.2.2).
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return fail(Errc::url_invalid, "no ']' after the IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return fail(Errc::url_invalid, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
      has_port = true;
    }
    if (out.host.find(':') == std::string::npos)
      return fail(Errc::url_invalid, "brackets around a host that is not an IPv6 address");
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (out.host.find_first_of("[]") != std::string::npos)
      return fail(Errc::url_invalid, "brackets in the host name");
  }
  if (out.host.empty())
    return fail(Errc::url_invalid, "no host");
  if (has_port) {
    unsigned value = 0;
    const auto *begin = port_text.data(), *end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (port_text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535)
      return fail(Errc::url_invalid, "invalid port '" + std::string(port_text) + "' (1-65535)");
    out.port = static_cast<std::uint16_t>(value);
  }

  // Path: app[/instance...]/stream[?query]. The stream is the last segment before the query;
  // when the only '/' comes after a '?' ("app?auth=x/key"), the query belongs to the app.
  const auto query = path.find('?');
  auto split = path.substr(0, query).rfind('/');
  if (split == std::string_view::npos && query != std::string_view::npos)
    split = path.rfind('/');
  if (split == std::string_view::npos) {
    out.application = std::string(path);
  } else {
    out.application = std::string(path.substr(0, split));
    out.stream = std::string(path.substr(split + 1));
  }
  if (out.application.empty() || out.application.front() == '?' || out.application.front() == '/')
    return fail(Errc::url_invalid, "no application");
  // Empty segments ("app//inst") are typing mistakes that servers resolve differently.
  if (out.application.find("//") != std::string::npos || out.application.back() == '/')
    return fail(Errc::url_invalid, "empty path segment ('//')");
  if (require_stream && (out.stream.empty() || out.stream.front() == '?'))
    return fail(Errc::url_missing_stream, "no stream name (expected /application/stream)");
  return out;
}

std::string redact_url_password(std::string_view url) {
  std::string out(url);
  const auto scheme_end = out.find("://");
  if (scheme_end == std::string::npos)
    return out;
  const std::size_t start = scheme_end + 3;
  const std::size_t end = std::min(out.find('/', start), out.size());
  // The LAST '@' of the authority ends the user info, as in parse_rtmp_url.
  const auto at = out.rfind('@', end == start ? start : end - 1);
  if (at == std::string::npos || at < start)
    return out;
  const auto colon = out.find(':', start);
  if (colon == std::string::npos || colon > at)
    return out;
  out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

} // namespace rtmp
