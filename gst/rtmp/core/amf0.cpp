#include "core/amf0.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace rtmp::amf {
namespace {

// AMF0 2.1 type markers.
enum Marker : std::uint8_t {
  kNumberMarker = 0x00,
  kBooleanMarker = 0x01,
  kStringMarker = 0x02,
  kObjectMarker = 0x03,
  kMovieClipMarker = 0x04, // reserved, not supported
  kNullMarker = 0x05,
  kUndefinedMarker = 0x06,
  kReferenceMarker = 0x07,
  kEcmaArrayMarker = 0x08,
  kObjectEndMarker = 0x09,
  kStrictArrayMarker = 0x0A,
  kDateMarker = 0x0B,
  kLongStringMarker = 0x0C,
  kUnsupportedMarker = 0x0D,
  kRecordSetMarker = 0x0E, // reserved, not supported
  kXmlDocumentMarker = 0x0F,
  kTypedObjectMarker = 0x10,
  kAvmPlusMarker = 0x11, // AMF0 3.1: the next value is AMF3
};

// AMF0 1.3: UTF-8 has a U16 length, UTF-8-long a U32 length.
constexpr std::size_t kMaxShortString = std::numeric_limits<std::uint16_t>::max();
constexpr std::size_t kMaxLongString = std::numeric_limits<std::uint32_t>::max();

std::string_view view_of(ByteView b) {
  return {reinterpret_cast<const char *>(b.data()), b.size()};
}

} // namespace

namespace detail {

// Decodes AMF0 from a span. A reference (2.9) is resolved by decoding the referenced complex
// value again from its bytes with the table frozen, so the table holds positions, not copies,
// and every node of the copy is charged to the budget.
class Amf0Decoder {
public:
  Amf0Decoder(ByteView data, const DecodeLimits &limits)
      : data_(data), in_(data), limits_(limits), budget_(limits),
        max_depth_(std::min(limits.max_depth, kMaxAmfDepthCeiling)) {}

  Result<Value> read_top() {
    if (failed_)
      return failed_;
    Value v;
    if (auto ec = read(0, v)) {
      failed_ = ec;
      return ec;
    }
    return v;
  }
  bool at_end() const { return in_.empty(); }
  std::size_t position() const { return in_.position(); }

private:
  std::error_code read(std::size_t depth, Value &out) {
    std::uint8_t marker = 0;
    if (!in_.read_u8(marker))
      return Errc::truncated;
    if (marker == kAvmPlusMarker) {
      // The AMF3 value is the node; AMF3 reference tables start empty on each switch.
      std::size_t pos = in_.position();
      auto v = decode_amf3_embedded(data_, pos, limits_, budget_, depth);
      if (!v)
        return v.error();
      seek(pos);
      out = std::move(*v);
      return {};
    }
    if (!budget_.take_nodes(1))
      return Errc::limit_exceeded;
    return read_body(marker, in_.position() - 1, depth, out);
  }

  void seek(std::size_t pos) {
    in_ = ByteReader(data_);
    in_.skip(pos);
  }

  std::error_code read_body(std::uint8_t marker, std::size_t marker_pos, std::size_t depth,
                            Value &out) {
    switch (marker) {
    case kNumberMarker: { // 2.2
      double d = 0;
      if (!in_.read_f64(d))
        return Errc::truncated;
      out = d;
      return {};
    }
    case kBooleanMarker: { // 2.3: non-zero is true
      std::uint8_t b = 0;
      if (!in_.read_u8(b))
        return Errc::truncated;
      out = b != 0;
      return {};
    }
    case kStringMarker:       // 2.4
    case kLongStringMarker: { // 2.14
      std::string s;
      if (auto ec = read_utf8(marker == kLongStringMarker, s))
        return ec;
      out = std::move(s);
      return {};
    }
    case kXmlDocumentMarker: { // 2.17: UTF-8-long
      Xml x;
      if (auto ec = read_utf8(true, x.text))
        return ec;
      out = std::move(x);
      return {};
    }
    case kNullMarker: // 2.7
      out = Null{};
      return {};
    case kUndefinedMarker: // 2.8
      out = Undefined{};
      return {};
    case kUnsupportedMarker: // 2.15
      out = Unsupported{};
      return {};
    case kDateMarker: { // 2.13: milliseconds since the epoch, then a time zone S16
      Date d;
      if (!in_.read_f64(d.ms_since_epoch) || !in_.read_i16(d.timezone_minutes))
        return Errc::truncated;
      out = d;
      return {};
    }
    case kReferenceMarker: { // 2.9: U16 index into the table of complex values
      std::uint16_t index = 0;
      if (!in_.read_u16(index))
        return Errc::truncated;
      return resolve_reference(index, depth, out);
    }
    case kObjectMarker:      // 2.5
    case kEcmaArrayMarker:   // 2.10
    case kStrictArrayMarker: // 2.12
    case kTypedObjectMarker: // 2.18
      return read_complex(marker, marker_pos, depth, out);
    default:
      // Movieclip (2.6) and recordset (2.16) are reserved; object-end (2.11) is only valid as
      // the terminator of a property list, which read_properties consumes itself.
      return Errc::amf_bad_marker;
    }
  }

  std::error_code read_utf8(bool long_form, std::string &out) {
    std::size_t len = 0;
    if (long_form) {
      std::uint32_t n = 0;
      if (!in_.read_u32(n))
        return Errc::truncated;
      len = n;
    } else {
      std::uint16_t n = 0;
      if (!in_.read_u16(n))
        return Errc::truncated;
      len = n;
    }
    if (len > limits_.max_string_bytes)
      return Errc::limit_exceeded;
    ByteView b;
    if (!in_.read_bytes(len, b))
      return Errc::truncated;
    if (!budget_.take_bytes(len))
      return Errc::limit_exceeded;
    out.assign(view_of(b));
    return {};
  }

  std::error_code resolve_reference(std::size_t index, std::size_t depth, Value &out) {
    return refs_.replay(index, data_, in_, [&](std::uint8_t marker, std::size_t marker_pos) {
      return read_complex(marker, marker_pos, depth, out);
    });
  }

  std::error_code read_complex(std::uint8_t marker, std::size_t marker_pos, std::size_t depth,
                               Value &out) {
    if (depth + 1 > max_depth_)
      return Errc::limit_exceeded;
    const auto entry = refs_.add(marker_pos);
    std::error_code ec;
    switch (marker) {
    case kObjectMarker: {
      Object o;
      ec = read_properties(depth, o.properties);
      out = std::move(o);
      break;
    }
    case kTypedObjectMarker: {
      Object o;
      ec = read_utf8(false, o.class_name);
      if (!ec)
        ec = read_properties(depth, o.properties);
      out = std::move(o);
      break;
    }
    case kEcmaArrayMarker: {
      // The count is only a hint (2.10): the list ends with the object-end marker.
      std::uint32_t hint = 0;
      if (!in_.read_u32(hint))
        return Errc::truncated;
      EcmaArray e;
      ec = read_properties(depth, e.properties);
      out = std::move(e);
      break;
    }
    default: { // strict array: U32 count then values
      std::uint32_t count = 0;
      if (!in_.read_u32(count))
        return Errc::truncated;
      if (count > limits_.max_items)
        return Errc::limit_exceeded;
      if (count > in_.remaining()) // every value is at least its marker byte
        return Errc::truncated;
      Array a;
      a.dense.reserve(count);
      for (std::size_t i = 0; i < count && !ec; ++i) {
        Value v;
        ec = read(depth + 1, v);
        a.dense.push_back(std::move(v));
      }
      out = std::move(a);
      break;
    }
    }
    if (!ec)
      refs_.complete(entry);
    return ec;
  }

  // AMF0 2.5: (UTF-8 name, value)* then an empty name followed by the object-end marker.
  std::error_code read_properties(std::size_t depth, Properties &props) {
    for (;;) {
      std::string key;
      if (auto ec = read_utf8(false, key))
        return ec;
      if (key.empty()) {
        std::uint8_t next = 0;
        if (!in_.peek_u8(next))
          return Errc::truncated;
        if (next == kObjectEndMarker) {
          in_.skip(1);
          return {};
        }
      }
      if (props.size() >= limits_.max_items)
        return Errc::limit_exceeded;
      Value v;
      if (auto ec = read(depth + 1, v))
        return ec;
      props.emplace_back(std::move(key), std::move(v));
    }
  }

  ByteView data_;
  ByteReader in_;
  DecodeLimits limits_;
  DecodeBudget budget_;
  std::size_t max_depth_ = 0;
  // AMF0 2.9: the complex values (object, typed object, ECMA array, strict array) in the order
  // they begin.
  ReferenceTable refs_;
  std::error_code failed_;
};

} // namespace detail

Amf0Reader::Amf0Reader(ByteView data, DecodeLimits limits)
    : d_(std::make_unique<detail::Amf0Decoder>(data, limits)) {}
Amf0Reader::~Amf0Reader() = default;
Amf0Reader::Amf0Reader(Amf0Reader &&) noexcept = default;
Amf0Reader &Amf0Reader::operator=(Amf0Reader &&) noexcept = default;

Result<Value> Amf0Reader::read() {
  return d_->read_top();
}
bool Amf0Reader::at_end() const {
  return d_->at_end();
}
std::size_t Amf0Reader::position() const {
  return d_->position();
}

Result<std::vector<Value>> decode_amf0_sequence(ByteView data, DecodeLimits limits) {
  return detail::decode_sequence<Amf0Reader>(data, limits);
}

namespace {

bool fits_short(std::string_view s) {
  return s.size() <= kMaxShortString;
}

// Whether AMF0 can carry the value itself (its children are checked when they are written).
bool amf0_expressible(const Value &v) {
  if (const Object *o = v.get_if<Object>()) {
    if (o->sealed_count != 0 || !o->dynamic || !fits_short(o->class_name))
      return false;
    return std::all_of(o->properties.begin(), o->properties.end(),
                       [](const Property &p) { return fits_short(p.first); });
  }
  if (const Array *a = v.get_if<Array>())
    return a->associative.empty() && a->dense.size() <= kMaxLongString;
  if (const Xml *x = v.get_if<Xml>())
    return !x->e4x && x->text.size() <= kMaxLongString;
  return !(v.is<ByteArray>() || v.is<VectorInt>() || v.is<VectorUint>() || v.is<VectorDouble>() ||
           v.is<VectorObject>() || v.is<Dictionary>());
}

class Amf0Encoder {
public:
  explicit Amf0Encoder(Bytes &out) : out_(out), w_(out) {}

  void value(const Value &v) {
    if (!amf0_expressible(v)) {
      w_.u8(kAvmPlusMarker);
      Amf3Writer(out_).write(v); // fresh AMF3 tables per switch, as the reader expects
      return;
    }
    std::visit([this](const auto &x) { write(x); }, v.v);
  }

private:
  void utf8(std::string_view s) {
    s = s.substr(0, kMaxShortString);
    w_.u16(static_cast<std::uint16_t>(s.size()));
    w_.bytes(s);
  }
  void utf8_long(std::string_view s) {
    s = s.substr(0, kMaxLongString);
    w_.u32(static_cast<std::uint32_t>(s.size()));
    w_.bytes(s);
  }
  void properties(const Properties &props) {
    for (const auto &[k, v] : props) {
      utf8(k);
      value(v);
    }
    w_.u16(0);
    w_.u8(kObjectEndMarker);
  }

  void write(const Undefined &) { w_.u8(kUndefinedMarker); }
  void write(const Null &) { w_.u8(kNullMarker); }
  void write(const Unsupported &) { w_.u8(kUnsupportedMarker); }
  void write(bool b) {
    w_.u8(kBooleanMarker);
    w_.u8(b ? 1 : 0);
  }
  void write(double d) {
    w_.u8(kNumberMarker);
    w_.f64(d);
  }
  void write(const Integer &i) { write(static_cast<double>(i.value)); }
  void write(const std::string &s) {
    if (fits_short(s)) {
      w_.u8(kStringMarker);
      utf8(s);
    } else {
      w_.u8(kLongStringMarker);
      utf8_long(s);
    }
  }
  void write(const Object &o) {
    if (o.class_name.empty()) {
      w_.u8(kObjectMarker);
    } else {
      w_.u8(kTypedObjectMarker);
      utf8(o.class_name);
    }
    properties(o.properties);
  }
  void write(const EcmaArray &e) {
    w_.u8(kEcmaArrayMarker);
    w_.u32(static_cast<std::uint32_t>(std::min<std::size_t>(e.properties.size(), kMaxLongString)));
    properties(e.properties);
  }
  void write(const Array &a) {
    w_.u8(kStrictArrayMarker);
    w_.u32(static_cast<std::uint32_t>(a.dense.size()));
    for (const Value &v : a.dense)
      value(v);
  }
  void write(const Date &d) {
    w_.u8(kDateMarker);
    w_.f64(d.ms_since_epoch);
    w_.u16(static_cast<std::uint16_t>(d.timezone_minutes));
  }
  void write(const Xml &x) {
    w_.u8(kXmlDocumentMarker);
    utf8_long(x.text);
  }
  // Kinds routed to AMF3 by value(); never reached.
  template <typename T> void write(const T &) {}

  Bytes &out_;
  ByteWriter w_;
};

} // namespace

void Amf0Writer::write(const Value &v) {
  Amf0Encoder(out_).value(v);
}

Bytes encode_amf0(const std::vector<Value> &values) {
  return detail::encode_sequence<Amf0Writer>(values);
}

} // namespace rtmp::amf
