// librtmp-style locations: "rtmp://host/app/key live=1 conn=S:x swfUrl=http://...".
//
// librtmp (rtmpdump's library, used by the rtmpsrc/rtmpsink of gst-plugins-bad) takes the URL,
// then space-separated key=value options (librtmp(3), "OPTIONS"). A value cannot contain a
// space; librtmp writes any byte as "\XX" (two hex digits) instead, so "\20" is a space and
// "\5c" a backslash. This file splits such a location, decodes the values and interprets each
// option librtmp defines; what an element does with them is the element's business.
//
// Stricter than librtmp, on purpose: librtmp reads every boolean that is not 1/on/yes/true as
// false and silently drops a token without '='; here both are errors, so that a typing mistake
// does not quietly play something else. Names librtmp does not know are errors too (librtmp
// refuses them as well: "Unknown option").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf_value.hpp"
#include "core/error.hpp"
#include "core/url.hpp"

namespace rtmp::librtmp {

// The whole location (URL and options). Each of tcUrl, pageUrl and swfUrl may be a URL of up to
// kMaxUrlLength, so four of them fit.
inline constexpr std::size_t kMaxLocationLength = 4 * kMaxUrlLength;
// Options after the URL. librtmp pipelines use a handful; conn= sequences a few dozen.
inline constexpr std::size_t kMaxOptions = 64;
// Nesting of conn=O:1 objects; the connect command is encoded with the AMF0 writer, whose reader
// on the other side refuses more than kDefaultMaxAmfDepth anyway.
inline constexpr std::size_t kMaxConnDepth = 8;

// One option as written, its value with "\XX" escapes decoded.
struct Option {
  std::string key;
  std::string value;
  bool operator==(const Option &) const = default;
};

// The options that mean something to our clients, interpreted. Options that librtmp defines
// but that have no meaning here (swfVfy, socks, ...) are listed in `ignored`, each name once, in
// the order written, so that an element can warn about them.
struct Options {
  std::optional<std::string> app, playpath, tc_url, page_url, swf_url, flash_ver, token;
  std::optional<bool> live;
  std::optional<std::uint32_t> timeout_seconds, buffer_ms;
  std::optional<double> start_seconds;
  // conn=: arguments appended to the connect command after its command object, in order.
  std::vector<amf::Value> conn;
  std::vector<std::string> ignored;
};

struct Location {
  std::string url; // the part before the first space, not parsed here (parse_rtmp_url)
  Options options;
};

// Splits `text` at its first space into URL and options, decodes and interprets the options.
// Errors: Errc::limit_exceeded (longer than kMaxLocationLength, more than kMaxOptions options,
// conn objects deeper than kMaxConnDepth), Errc::url_invalid (a token without '=', an unknown
// name, a bad "\XX" escape, a control character, a value that does not fit its option: "live=2",
// "conn=X:1", an object left open). `why` (when given) names the option and what is wrong.
Result<Location> parse_location(std::string_view text, std::string *why = nullptr);

// `text` as written, with the value of each token= option (a secret key) replaced by "***". Works
// on text that does not parse too, so that an error message can quote a refused location.
std::string redact_secrets(std::string_view text);

// The lower-level steps, exposed for tests and the fuzz target.
Result<std::vector<Option>> split_options(std::string_view options, std::string *why = nullptr);
Result<std::string> decode_escapes(std::string_view value);
// The inverse: a value written so that decode_escapes() gives it back and it contains no space,
// backslash or control character (each becomes "\XX").
std::string escape_value(std::string_view value);
// conn= items (the values of the conn options, in order) as AMF values: B:0/1, N:number,
// S:string, Z: (null), O:1 ... O:0 (an object); inside an object every item is named:
// NB:name:1, NN:name:1.5, NS:name:text, NZ:name:, NO:name:1 ... O:0.
Result<std::vector<amf::Value>> parse_conn(const std::vector<std::string> &items,
                                           std::string *why = nullptr);

} // namespace rtmp::librtmp
