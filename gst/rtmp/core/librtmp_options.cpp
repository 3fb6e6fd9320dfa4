#include "core/librtmp_options.hpp"

#include "core/bytes.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

namespace rtmp::librtmp {
namespace {

// What an option is to us. `ignored`: librtmp defines it, but it has no meaning here (SWF
// verification, SOCKS, Justin.tv, playlists, stop, realtime, auth appended to connect, and
// subscribe, since our player does not send FCSubscribe).
enum class Kind {
  app,
  playpath,
  tc_url,
  page_url,
  swf_url,
  flash_ver,
  conn,
  token,
  live,
  timeout,
  buffer,
  start,
  ignored
};

// librtmp(3) "OPTIONS", every name it accepts (it compares them case-sensitively).
constexpr std::array<std::pair<std::string_view, Kind>, 22> kOptionTable{{
    {"app", Kind::app},           {"playpath", Kind::playpath}, {"tcUrl", Kind::tc_url},
    {"pageUrl", Kind::page_url},  {"swfUrl", Kind::swf_url},    {"flashVer", Kind::flash_ver},
    {"conn", Kind::conn},         {"token", Kind::token},       {"live", Kind::live},
    {"timeout", Kind::timeout},   {"buffer", Kind::buffer},     {"start", Kind::start},
    {"subscribe", Kind::ignored}, {"stop", Kind::ignored},      {"playlist", Kind::ignored},
    {"swfVfy", Kind::ignored},    {"swfAge", Kind::ignored},    {"swfhash", Kind::ignored},
    {"swfsize", Kind::ignored},   {"socks", Kind::ignored},     {"jtv", Kind::ignored},
    {"auth", Kind::ignored},
}};

std::optional<Kind> kind_of(std::string_view key) {
  for (const auto &[name, kind] : kOptionTable)
    if (name == key)
      return kind;
  return std::nullopt;
}

bool has_control_char(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F)
      return true;
  }
  return false;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size())
    return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (ascii_lower(s[i]) != lower[i])
      return false;
  return true;
}

// librtmp's truth words (1, on, yes, true; any case) and their opposites.
std::optional<bool> parse_bool(std::string_view v) {
  for (std::string_view t : {"1", "on", "yes", "true"})
    if (equals_lower(v, t))
      return true;
  for (std::string_view f : {"0", "off", "no", "false"})
    if (equals_lower(v, f))
      return false;
  return std::nullopt;
}

std::optional<std::uint32_t> parse_uint(std::string_view v) {
  std::uint32_t out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc{} || ptr != v.data() + v.size())
    return std::nullopt;
  return out;
}

std::optional<double> parse_number(std::string_view v) {
  double out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc{} || ptr != v.data() + v.size() || !std::isfinite(out))
    return std::nullopt;
  return out;
}

template <typename T> Result<T> fail(std::string *why, Errc e, std::string reason) {
  if (why)
    *why = std::move(reason);
  return e;
}

} // namespace

Result<std::string> decode_escapes(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      out.push_back(value[i]);
      continue;
    }
    if (value.size() - i < 3)
      return Errc::url_invalid;
    const int hi = hex_digit_value(value[i + 1]), lo = hex_digit_value(value[i + 2]);
    if (hi < 0 || lo < 0)
      return Errc::url_invalid;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string escape_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '\\') {
      out.push_back('\\');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<Option>> split_options(std::string_view options, std::string *why) {
  using R = std::vector<Option>;
  R out;
  std::size_t pos = 0;
  while (pos < options.size()) {
    if (options[pos] == ' ') { // runs of spaces separate as one
      ++pos;
      continue;
    }
    const auto end = std::min(options.find(' ', pos), options.size());
    const std::string_view token = options.substr(pos, end - pos);
    pos = end;
    if (out.size() == kMaxOptions)
      return fail<R>(why, Errc::limit_exceeded,
                     "more than " + std::to_string(kMaxOptions) + " options");
    if (has_control_char(token))
      return fail<R>(why, Errc::url_invalid, "option contains a control character");
    const auto eq = token.find('=');
    if (eq == std::string_view::npos)
      return fail<R>(why, Errc::url_invalid,
                     "option '" + std::string(token) + "' is not key=value");
    if (eq == 0)
      return fail<R>(why, Errc::url_invalid, "option '" + std::string(token) + "' has no name");
    Option o;
    o.key = std::string(token.substr(0, eq));
    auto value = decode_escapes(token.substr(eq + 1));
    if (!value)
      return fail<R>(why, Errc::url_invalid,
                     "option " + o.key + ": bad escape (write a byte as \\XX, two hex digits)");
    o.value = std::move(value.value());
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<amf::Value>> parse_conn(const std::vector<std::string> &items,
                                           std::string *why) {
  using R = std::vector<amf::Value>;
  R top;
  // Open objects, innermost last, each with the name it gets in its parent ("" at top level).
  std::vector<std::pair<std::string, amf::Properties>> open;
  for (const std::string &item : items) {
    auto bad = [&](const std::string &what) {
      return fail<R>(why, Errc::url_invalid, "option conn=" + item + ": " + what);
    };
    std::string_view rest = item;
    const bool named = !rest.empty() && rest.front() == 'N' && rest.size() >= 2 && rest[1] != ':';
    if (named)
      rest.remove_prefix(1);
    if (rest.size() < 2 || rest[1] != ':')
      return bad("expected type:value (B, N, S, O or Z; N prefix for a named field)");
    const char type = rest.front();
    rest.remove_prefix(2);
    std::string name;
    if (named) {
      const auto colon = rest.find(':');
      if (colon == std::string_view::npos)
        return bad("a named field is written N<type>:name:value");
      name = std::string(rest.substr(0, colon));
      rest.remove_prefix(colon + 1);
    }
    const bool ends_object = !named && type == 'O' && rest == "0";
    if (ends_object && open.empty())
      return bad("no object to end");
    if (!ends_object && named != !open.empty())
      return bad(named ? "a named field outside an object" : "an unnamed value inside an object");

    amf::Value value;
    switch (type) {
    case 'B': {
      if (rest != "0" && rest != "1")
        return bad("a boolean is 0 or 1");
      value = amf::Value(rest == "1");
      break;
    }
    case 'N': {
      auto n = parse_number(rest);
      if (!n)
        return bad("not a number");
      value = amf::Value(*n);
      break;
    }
    case 'S':
      value = amf::Value(std::string(rest));
      break;
    case 'Z':
      value = amf::Value(amf::Null{});
      break;
    case 'O':
      if (rest == "1") {
        if (open.size() == kMaxConnDepth)
          return fail<R>(why, Errc::limit_exceeded,
                         "option conn=" + item + ": objects nested deeper than " +
                             std::to_string(kMaxConnDepth));
        open.emplace_back(std::move(name), amf::Properties{});
        continue;
      }
      if (rest != "0" || named)
        return bad("an object begins with O:1 (NO:name:1 inside an object) and ends with O:0");
      {
        auto [object_name, props] = std::move(open.back());
        open.pop_back();
        value = amf::make_object(std::move(props));
        name = std::move(object_name);
      }
      break;
    default:
      return bad(std::string("unknown type '") + type + "' (B, N, S, O or Z)");
    }
    if (open.empty())
      top.push_back(std::move(value));
    else
      open.back().second.emplace_back(std::move(name), std::move(value));
  }
  if (!open.empty())
    return fail<R>(why, Errc::url_invalid, "option conn: an object is not ended with conn=O:0");
  return top;
}

std::string redact_secrets(std::string_view text) {
  std::string out(text);
  static constexpr std::string_view kToken = " token=";
  for (auto at = out.find(kToken); at != std::string::npos; at = out.find(kToken, at + 1)) {
    const std::size_t value = at + kToken.size();
    const std::size_t end = std::min(out.find(' ', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

Result<Location> parse_location(std::string_view text, std::string *why) {
  if (text.size() > kMaxLocationLength)
    return fail<Location>(why, Errc::limit_exceeded,
                          "longer than " + std::to_string(kMaxLocationLength) + " characters");
  Location out;
  const auto space = text.find(' ');
  out.url = std::string(text.substr(0, space));
  if (space == std::string_view::npos)
    return out;
  auto options = split_options(text.substr(space + 1), why);
  if (!options)
    return options.error();

  Options &o = out.options;
  std::vector<std::string> conn_items;
  for (Option &opt : options.value()) {
    auto bad = [&](const std::string &what) {
      return fail<Location>(why, Errc::url_invalid,
                            "option " + opt.key + "=" + opt.value + ": " + what);
    };
    const auto kind = kind_of(opt.key);
    if (!kind)
      return fail<Location>(why, Errc::url_invalid,
                            "unknown option '" + opt.key + "' (not a librtmp option)");
    switch (*kind) {
    case Kind::app:
      o.app = std::move(opt.value);
      break;
    case Kind::playpath:
      o.playpath = std::move(opt.value);
      break;
    case Kind::tc_url:
      o.tc_url = std::move(opt.value);
      break;
    case Kind::page_url:
      o.page_url = std::move(opt.value);
      break;
    case Kind::swf_url:
      o.swf_url = std::move(opt.value);
      break;
    case Kind::flash_ver:
      o.flash_ver = std::move(opt.value);
      break;
    case Kind::token:
      o.token = std::move(opt.value);
      break;
    case Kind::conn:
      conn_items.push_back(std::move(opt.value));
      break;
    case Kind::live:
      o.live = parse_bool(opt.value);
      if (!o.live)
        return bad("not a boolean (0/1, no/yes, off/on, false/true)");
      break;
    case Kind::timeout:
      o.timeout_seconds = parse_uint(opt.value);
      if (!o.timeout_seconds)
        return bad("not a number of seconds");
      break;
    case Kind::buffer:
      o.buffer_ms = parse_uint(opt.value);
      if (!o.buffer_ms)
        return bad("not a number of milliseconds");
      break;
    case Kind::start: {
      const auto s = parse_number(opt.value);
      if (!s || *s < 0)
        return bad("not a number of seconds");
      o.start_seconds = s;
      break;
    }
    case Kind::ignored: {
      bool seen = false;
      for (const auto &name : o.ignored)
        seen = seen || name == opt.key;
      if (!seen)
        o.ignored.push_back(opt.key);
      break;
    }
    }
  }
  auto conn = parse_conn(conn_items, why);
  if (!conn)
    return conn.error();
  o.conn = std::move(conn.value());
  return out;
}

} // namespace rtmp::librtmp
