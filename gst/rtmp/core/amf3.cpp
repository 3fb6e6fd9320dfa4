#include "core/amf3.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace rtmp::amf {
namespace {

// AMF3 3.1 type markers.
enum Marker : std::uint8_t {
  kUndefinedMarker = 0x00,
  kNullMarker = 0x01,
  kFalseMarker = 0x02,
  kTrueMarker = 0x03,
  kIntegerMarker = 0x04,
  kDoubleMarker = 0x05,
  kStringMarker = 0x06,
  kXmlDocMarker = 0x07,
  kDateMarker = 0x08,
  kArrayMarker = 0x09,
  kObjectMarker = 0x0A,
  kXmlMarker = 0x0B,
  kByteArrayMarker = 0x0C,
  kVectorIntMarker = 0x0D,
  kVectorUintMarker = 0x0E,
  kVectorDoubleMarker = 0x0F,
  kVectorObjectMarker = 0x10,
  kDictionaryMarker = 0x11,
};

// AMF3 1.3.1: a U29 has at most 29 significant bits.
constexpr std::uint32_t kU29Max = (1u << 29) - 1;
// AMF3 1.3.2 / 3.8: lengths and counts share the U29 with a low flag bit, leaving 28 bits.
constexpr std::uint32_t kU28Max = (1u << 28) - 1;
// AMF3 3.12: inline traits keep 4 flag bits, leaving 25 bits for the sealed member count.
constexpr std::uint32_t kMaxSealedCount = (1u << 25) - 1;
// AMF3 3.12 U29O-traits-ext: low bits 0b111 (inline object, inline traits, externalizable).
constexpr std::uint32_t kTraitsExternalizable = 0x07;

std::string_view view_of(ByteView b) {
  return {reinterpret_cast<const char *>(b.data()), b.size()};
}

std::int32_t sign_extend_29(std::uint32_t u) {
  // AMF3 3.6: bit 28 is the sign of a 29-bit two's complement integer.
  return (u & 0x10000000u) ? static_cast<std::int32_t>(u) - (1 << 29)
                           : static_cast<std::int32_t>(u);
}

std::string_view externalizable_property(std::string_view class_name) {
  if (class_name == kArrayCollectionClass)
    return kArrayCollectionProperty;
  if (class_name == kObjectProxyClass)
    return kObjectProxyProperty;
  return {};
}

} // namespace

namespace detail {

// Decodes AMF3 from a span. References are resolved by decoding the referenced value again
// from its bytes ("replay") with the tables frozen: tables then hold positions and views into
// the input instead of copies, and every node of a copy is charged to the budget like any other.
class Amf3Decoder {
public:
  Amf3Decoder(ByteView data, std::size_t pos, const DecodeLimits &limits, DecodeBudget &budget)
      : data_(data), limits_(limits), budget_(budget),
        max_depth_(std::min(limits.max_depth, kMaxAmfDepthCeiling)) {
    seek(pos);
  }

  std::error_code read(std::size_t depth, Value &out) {
    std::uint8_t marker = 0;
    if (!in_.read_u8(marker))
      return Errc::truncated;
    if (!budget_.take_nodes(1))
      return Errc::limit_exceeded;
    return read_body(marker, in_.position() - 1, depth, out);
  }

  bool at_end() const { return in_.empty(); }
  std::size_t position() const { return in_.position(); }

private:
  struct Traits {
    std::string_view class_name;
    std::vector<std::string_view> sealed;
    bool dynamic = false;
    bool externalizable = false;
  };

  void seek(std::size_t pos) {
    in_ = ByteReader(data_);
    in_.skip(pos);
  }

  std::error_code read_body(std::uint8_t marker, std::size_t marker_pos, std::size_t depth,
                            Value &out) {
    switch (marker) {
    case kUndefinedMarker:
      out = Undefined{};
      return {};
    case kNullMarker:
      out = Null{};
      return {};
    case kFalseMarker:
      out = false;
      return {};
    case kTrueMarker:
      out = true;
      return {};
    case kIntegerMarker: {
      std::uint32_t u = 0;
      if (auto ec = read_u29(u))
        return ec;
      out = Integer{sign_extend_29(u)};
      return {};
    }
    case kDoubleMarker: {
      double d = 0;
      if (!in_.read_f64(d))
        return Errc::truncated;
      out = d;
      return {};
    }
    case kStringMarker: {
      std::string_view sv;
      std::string s;
      if (auto ec = read_string_vr(sv))
        return ec;
      if (auto ec = materialize(sv, s))
        return ec;
      out = std::move(s);
      return {};
    }
    default:
      break;
    }
    if (marker > kDictionaryMarker)
      return Errc::amf_bad_marker;

    // Every remaining type starts with a U29 whose low bit 0 means "reference to the object
    // table" (AMF3 3.9 to 3.16, U29O-ref / U29X / U29A / U29B / U29V / U29Dict).
    std::uint32_t u = 0;
    if (auto ec = read_u29(u))
      return ec;
    if ((u & 1) == 0)
      return resolve_reference(u >> 1, depth, out);
    const auto entry = objects_.add(marker_pos);
    std::error_code ec;
    switch (marker) {
    case kXmlDocMarker:
    case kXmlMarker:
      ec = read_xml(u >> 1, marker == kXmlMarker, out);
      break;
    case kDateMarker:
      ec = read_date(out);
      break;
    case kArrayMarker:
      ec = read_array(u >> 1, depth, out);
      break;
    case kObjectMarker:
      ec = read_object(u, depth, out);
      break;
    case kByteArrayMarker:
      ec = read_byte_array(u >> 1, out);
      break;
    case kVectorIntMarker:
      ec = read_number_vector<VectorInt>(u >> 1, out);
      break;
    case kVectorUintMarker:
      ec = read_number_vector<VectorUint>(u >> 1, out);
      break;
    case kVectorDoubleMarker:
      ec = read_number_vector<VectorDouble>(u >> 1, out);
      break;
    case kVectorObjectMarker:
      ec = read_object_vector(u >> 1, depth, out);
      break;
    case kDictionaryMarker:
      ec = read_dictionary(u >> 1, depth, out);
      break;
    default:
      ec = Errc::amf_bad_marker;
      break;
    }
    if (!ec)
      objects_.complete(entry);
    return ec;
  }

  // AMF3 1.3.1: 1 to 4 bytes; the first three carry 7 bits and a continuation flag, the fourth
  // carries 8 bits.
  std::error_code read_u29(std::uint32_t &out) {
    std::uint32_t acc = 0;
    for (int i = 0; i < 3; ++i) {
      std::uint8_t b = 0;
      if (!in_.read_u8(b))
        return Errc::truncated;
      if ((b & 0x80) == 0) {
        out = (acc << 7) | b;
        return {};
      }
      acc = (acc << 7) | (b & 0x7F);
    }
    std::uint8_t b = 0;
    if (!in_.read_u8(b))
      return Errc::truncated;
    out = (acc << 8) | b;
    return {};
  }

  // Checks a peer length against our bound and the bytes left, before anything is allocated.
  std::error_code check_length(std::size_t n, std::size_t bound) const {
    if (n > bound)
      return Errc::limit_exceeded;
    if (n > in_.remaining())
      return Errc::truncated;
    return {};
  }
  // A count of entries each at least `min_bytes` long on the wire.
  std::error_code check_count(std::size_t count, std::size_t min_bytes) const {
    if (count > limits_.max_items)
      return Errc::limit_exceeded;
    if (count > in_.remaining() / min_bytes)
      return Errc::truncated;
    return {};
  }
  // A U8 flag (vector fixed, dictionary weak keys): true when not zero.
  std::error_code read_flag(bool &out) {
    std::uint8_t b = 0;
    if (!in_.read_u8(b))
      return Errc::truncated;
    out = b != 0;
    return {};
  }
  std::error_code check_depth(std::size_t depth) const {
    return depth + 1 > max_depth_ ? make_error_code(Errc::limit_exceeded) : std::error_code{};
  }

  // AMF3 1.3.2 UTF-8-vr: inline (low bit 1) or a string-table reference. The empty string is
  // never sent by reference nor added to the table. Yields a view into the input.
  std::error_code read_string_vr(std::string_view &out) {
    std::uint32_t u = 0;
    if (auto ec = read_u29(u))
      return ec;
    if ((u & 1) == 0) {
      std::size_t index = u >> 1;
      if (index >= strings_.size())
        return Errc::amf_bad_reference;
      out = strings_[index];
      return {};
    }
    std::size_t len = u >> 1;
    if (auto ec = check_length(len, limits_.max_string_bytes))
      return ec;
    ByteView b;
    in_.read_bytes(len, b);
    out = view_of(b);
    if (len > 0 && !objects_.frozen())
      strings_.push_back(out);
    return {};
  }

  // Copies peer bytes into the tree, charging them to the budget.
  std::error_code materialize(std::string_view sv, std::string &out) {
    if (!budget_.take_bytes(sv.size()))
      return Errc::limit_exceeded;
    out.assign(sv);
    return {};
  }

  std::error_code resolve_reference(std::size_t index, std::size_t depth, Value &out) {
    return objects_.replay(index, data_, in_, [&](std::uint8_t marker, std::size_t marker_pos) {
      return read_body(marker, marker_pos, depth, out);
    });
  }

  std::error_code read_xml(std::size_t len, bool e4x, Value &out) {
    if (auto ec = check_length(len, limits_.max_string_bytes))
      return ec;
    Xml x;
    x.e4x = e4x;
    ByteView b;
    in_.read_bytes(len, b);
    if (auto ec = materialize(view_of(b), x.text))
      return ec;
    out = std::move(x);
    return {};
  }

  // AMF3 3.10: the rest of the U29 is unused; milliseconds since the epoch, UTC, no time zone.
  std::error_code read_date(Value &out) {
    Date d;
    if (!in_.read_f64(d.ms_since_epoch))
      return Errc::truncated;
    out = d;
    return {};
  }

  std::error_code read_byte_array(std::size_t len, Value &out) {
    if (auto ec = check_length(len, limits_.max_string_bytes))
      return ec;
    if (!budget_.take_bytes(len))
      return Errc::limit_exceeded;
    ByteView b;
    in_.read_bytes(len, b);
    out = ByteArray{{b.begin(), b.end()}};
    return {};
  }

  // Dynamic members of an object or the associative part of an array: name/value pairs ended
  // by the empty string (AMF3 3.11, 3.12).
  std::error_code read_pairs_until_empty(std::size_t depth, std::size_t items_so_far,
                                         Properties &props) {
    for (;;) {
      std::string_view key;
      if (auto ec = read_string_vr(key))
        return ec;
      if (key.empty())
        return {};
      if (++items_so_far > limits_.max_items)
        return Errc::limit_exceeded;
      Property p;
      if (auto ec = materialize(key, p.first))
        return ec;
      if (auto ec = read(depth + 1, p.second))
        return ec;
      props.push_back(std::move(p));
    }
  }

  // `count` values one after the other, in a container `depth` deep: the dense part of an array,
  // the items of a Vector.<Object>. The count is checked against the bytes left first.
  std::error_code read_values(std::size_t count, std::size_t depth, std::vector<Value> &out) {
    if (auto ec = check_count(count, 1))
      return ec;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      Value v;
      if (auto ec = read(depth + 1, v))
        return ec;
      out.push_back(std::move(v));
    }
    return {};
  }

  // AMF3 3.11: U29A dense count, associative pairs, then the dense values.
  std::error_code read_array(std::size_t count, std::size_t depth, Value &out) {
    if (auto ec = check_depth(depth))
      return ec;
    if (auto ec = check_count(count, 1))
      return ec;
    Array a;
    if (auto ec = read_pairs_until_empty(depth, 0, a.associative))
      return ec;
    if (auto ec = read_values(count, depth, a.dense)) // count checked again after the pairs
      return ec;
    out = std::move(a);
    return {};
  }

  // AMF3 3.12: traits (inline, by reference, or externalizable), sealed values, dynamic pairs.
  std::error_code read_object(std::uint32_t u, std::size_t depth, Value &out) {
    if (auto ec = check_depth(depth))
      return ec;
    Traits t;
    if ((u & 2) == 0) {
      std::size_t index = u >> 2;
      if (index >= traits_.size())
        return Errc::amf_bad_reference;
      t = traits_[index];
    } else if ((u & kTraitsExternalizable) == kTraitsExternalizable) {
      t.externalizable = true;
      if (auto ec = read_string_vr(t.class_name))
        return ec;
      if (!objects_.frozen())
        traits_.push_back(t);
    } else {
      t.dynamic = (u & 8) != 0;
      std::size_t sealed = u >> 4;
      // Each sealed member costs at least one byte of name and one of value.
      if (auto ec = check_count(sealed, 2))
        return ec;
      if (auto ec = read_string_vr(t.class_name))
        return ec;
      t.sealed.resize(sealed);
      for (auto &name : t.sealed)
        if (auto ec = read_string_vr(name))
          return ec;
      if (!objects_.frozen())
        traits_.push_back(t);
    }

    Object o;
    if (auto ec = materialize(t.class_name, o.class_name))
      return ec;
    if (t.externalizable) {
      // The class's own writeExternal defines the body; we only know two Flex classes whose
      // body is a single AMF3 value.
      std::string_view prop = externalizable_property(t.class_name);
      if (prop.empty())
        return Errc::amf_externalizable;
      Property p;
      p.first = std::string(prop);
      if (auto ec = read(depth + 1, p.second))
        return ec;
      o.properties.push_back(std::move(p));
      o.sealed_count = 1;
      o.dynamic = false;
      out = std::move(o);
      return {};
    }
    if (auto ec = check_count(t.sealed.size(), 1))
      return ec;
    o.sealed_count = t.sealed.size();
    o.dynamic = t.dynamic;
    o.properties.reserve(t.sealed.size());
    for (std::string_view name : t.sealed) {
      Property p;
      if (auto ec = materialize(name, p.first))
        return ec;
      if (auto ec = read(depth + 1, p.second))
        return ec;
      o.properties.push_back(std::move(p));
    }
    if (t.dynamic)
      if (auto ec = read_pairs_until_empty(depth, t.sealed.size(), o.properties))
        return ec;
    out = std::move(o);
    return {};
  }

  // AMF3 3.15: count, fixed flag, then big-endian int/uint/double items.
  template <typename V> std::error_code read_number_vector(std::size_t count, Value &out) {
    using Item = typename decltype(V::items)::value_type;
    constexpr std::size_t item_size = sizeof(Item);
    if (count > limits_.max_items)
      return Errc::limit_exceeded;
    if (in_.remaining() < 1 || count > (in_.remaining() - 1) / item_size)
      return Errc::truncated;
    if (!budget_.take_nodes(count))
      return Errc::limit_exceeded;
    V v;
    (void)read_flag(v.fixed); // the byte is there: checked with the items above
    v.items.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<Item, double>) {
        double d = 0;
        in_.read_f64(d);
        v.items.push_back(d);
      } else {
        std::uint32_t x = 0;
        in_.read_u32(x);
        v.items.push_back(static_cast<Item>(x));
      }
    }
    out = std::move(v);
    return {};
  }

  // AMF3 3.15: count, fixed flag, object type name, then AMF3 values.
  std::error_code read_object_vector(std::size_t count, std::size_t depth, Value &out) {
    if (auto ec = check_depth(depth))
      return ec;
    if (auto ec = check_count(count, 1))
      return ec;
    VectorObject v;
    if (auto ec = read_flag(v.fixed))
      return ec;
    std::string_view type_name;
    if (auto ec = read_string_vr(type_name))
      return ec;
    if (auto ec = materialize(type_name, v.type_name))
      return ec;
    if (auto ec = read_values(count, depth, v.items))
      return ec;
    out = std::move(v);
    return {};
  }

  // AMF3 3.16: count, weak-keys flag, then key/value pairs of AMF3 values.
  std::error_code read_dictionary(std::size_t count, std::size_t depth, Value &out) {
    if (auto ec = check_depth(depth))
      return ec;
    if (auto ec = check_count(count, 2))
      return ec;
    Dictionary d;
    if (auto ec = read_flag(d.weak_keys))
      return ec;
    d.entries.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      std::pair<Value, Value> e;
      if (auto ec = read(depth + 1, e.first))
        return ec;
      if (auto ec = read(depth + 1, e.second))
        return ec;
      d.entries.push_back(std::move(e));
    }
    out = std::move(d);
    return {};
  }

  ByteView data_;
  ByteReader in_;
  DecodeLimits limits_;
  DecodeBudget &budget_;
  std::size_t max_depth_ = 0;
  std::vector<std::string_view> strings_;
  std::vector<Traits> traits_;
  ReferenceTable objects_; // its frozen() freezes the string and traits tables too
};

Result<Value> decode_amf3_embedded(ByteView data, std::size_t &pos, const DecodeLimits &limits,
                                   DecodeBudget &budget, std::size_t depth) {
  Amf3Decoder d(data, pos, limits, budget);
  Value v;
  if (auto ec = d.read(depth, v))
    return ec;
  pos = d.position();
  return v;
}

// Writes AMF3 with string and traits tables (AMF3 2.2). Objects are never written by reference:
// the tree has no identity, and equal copies are cheap to repeat.
class Amf3Encoder {
public:
  explicit Amf3Encoder(Bytes &out) : w_(out) {}

  void value(const Value &v) {
    std::visit([this](const auto &x) { write(x); }, v.v);
  }

private:
  void u29(std::uint32_t v) {
    v &= kU29Max;
    if (v < 0x80) {
      w_.u8(static_cast<std::uint8_t>(v));
    } else if (v < 0x4000) {
      w_.u8(static_cast<std::uint8_t>(v >> 7 | 0x80));
      w_.u8(static_cast<std::uint8_t>(v & 0x7F));
    } else if (v < 0x200000) {
      w_.u8(static_cast<std::uint8_t>(v >> 14 | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 7) | 0x80));
      w_.u8(static_cast<std::uint8_t>(v & 0x7F));
    } else {
      w_.u8(static_cast<std::uint8_t>(v >> 22 | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 15) | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 8) | 0x80));
      w_.u8(static_cast<std::uint8_t>(v));
    }
  }
  // Length or count with the "inline" flag bit. Values beyond 28 bits cannot be expressed
  // (AMF3 1.3.2); callers clamp them first.
  void inline_u28(std::size_t n) { u29(static_cast<std::uint32_t>(n << 1 | 1)); }

  // UTF-8-vr (AMF3 1.3.2): by reference when already sent, else inline and remembered.
  void string_vr(std::string_view s) {
    s = s.substr(0, kU28Max);
    if (s.empty()) {
      u29(1);
      return;
    }
    auto it = strings_.find(std::string(s));
    if (it != strings_.end()) {
      u29(it->second << 1);
      return;
    }
    if (strings_.size() < kU28Max)
      strings_.emplace(std::string(s), static_cast<std::uint32_t>(strings_.size()));
    inline_u28(s.size());
    w_.bytes(s);
  }
  void raw_u28_bytes(ByteView b) {
    b = b.subspan(0, std::min<std::size_t>(b.size(), kU28Max));
    inline_u28(b.size());
    w_.bytes(b);
  }
  void count_u28(std::size_t n) { inline_u28(std::min<std::size_t>(n, kU28Max)); }

  void write(const Undefined &) { w_.u8(kUndefinedMarker); }
  void write(const Unsupported &) { w_.u8(kUndefinedMarker); }
  void write(const Null &) { w_.u8(kNullMarker); }
  void write(bool b) { w_.u8(b ? kTrueMarker : kFalseMarker); }
  void write(double d) {
    w_.u8(kDoubleMarker);
    w_.f64(d);
  }
  void write(const Integer &i) {
    if (i.value < kAmf3IntegerMin || i.value > kAmf3IntegerMax) {
      write(static_cast<double>(i.value));
      return;
    }
    w_.u8(kIntegerMarker);
    u29(static_cast<std::uint32_t>(i.value) & kU29Max);
  }
  void write(const std::string &s) {
    w_.u8(kStringMarker);
    string_vr(s);
  }
  void write(const Xml &x) {
    w_.u8(x.e4x ? kXmlMarker : kXmlDocMarker);
    raw_u28_bytes(as_bytes(x.text));
  }
  void write(const Date &d) {
    w_.u8(kDateMarker);
    u29(1);
    w_.f64(d.ms_since_epoch);
  }
  void write(const ByteArray &b) {
    w_.u8(kByteArrayMarker);
    raw_u28_bytes(b.data);
  }
  // Pairs of an associative part or dynamic members; the empty name ends the list, so a
  // property with an empty name cannot be written and is skipped.
  void pairs(const Properties &props, std::size_t from) {
    for (std::size_t i = from; i < props.size(); ++i) {
      if (props[i].first.empty())
        continue;
      string_vr(props[i].first);
      value(props[i].second);
    }
    u29(1);
  }
  void array(const std::vector<Value> &dense, const Properties &assoc) {
    w_.u8(kArrayMarker);
    std::size_t n = std::min<std::size_t>(dense.size(), kU28Max);
    count_u28(n);
    pairs(assoc, 0);
    for (std::size_t i = 0; i < n; ++i)
      value(dense[i]);
  }
  void write(const Array &a) { array(a.dense, a.associative); }
  void write(const EcmaArray &e) { array({}, e.properties); }

  void write(const Object &o) {
    w_.u8(kObjectMarker);
    std::string_view ext = externalizable_property(o.class_name);
    if (!ext.empty() && o.properties.size() == 1 && o.sealed_count == 1 && !o.dynamic &&
        o.properties[0].first == ext) {
      if (!traits_ref(o.class_name, {}, false, true)) {
        u29(kTraitsExternalizable);
        string_vr(o.class_name);
      }
      value(o.properties[0].second);
      return;
    }
    std::size_t sealed =
        std::min({o.sealed_count, o.properties.size(), static_cast<std::size_t>(kMaxSealedCount)});
    // Members past the sealed ones can only travel as dynamic members.
    bool dynamic = o.dynamic || o.properties.size() > sealed;
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < sealed; ++i)
      names.push_back(o.properties[i].first);
    if (!traits_ref(o.class_name, names, dynamic, false)) {
      u29(static_cast<std::uint32_t>(sealed << 4 | (dynamic ? 8 : 0) | 3));
      string_vr(o.class_name);
      for (std::string_view n : names)
        string_vr(n);
    }
    for (std::size_t i = 0; i < sealed; ++i)
      value(o.properties[i].second);
    if (dynamic)
      pairs(o.properties, sealed);
  }
  // Writes a traits reference and returns true when these traits were sent before; else
  // remembers them (the reader adds inline traits to its table in the same order).
  bool traits_ref(std::string_view class_name, const std::vector<std::string_view> &sealed,
                  bool dynamic, bool externalizable) {
    std::string key;
    key += dynamic ? 'd' : '-';
    key += externalizable ? 'e' : '-';
    auto add = [&key](std::string_view s) {
      key += std::to_string(s.size());
      key += ':';
      key += s;
    };
    add(class_name);
    for (std::string_view s : sealed)
      add(s);
    auto it = traits_.find(key);
    if (it != traits_.end()) {
      u29(it->second << 2 | 1);
      return true;
    }
    if (traits_.size() < kMaxSealedCount)
      traits_.emplace(std::move(key), static_cast<std::uint32_t>(traits_.size()));
    return false;
  }

  template <typename T> void write(const Vector<T> &v) {
    w_.u8(std::is_same_v<T, double>          ? kVectorDoubleMarker
          : std::is_same_v<T, std::uint32_t> ? kVectorUintMarker
                                             : kVectorIntMarker);
    std::size_t n = std::min<std::size_t>(v.items.size(), kU28Max);
    count_u28(n);
    w_.u8(v.fixed ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, double>)
        w_.f64(v.items[i]);
      else
        w_.u32(static_cast<std::uint32_t>(v.items[i]));
    }
  }
  void write(const VectorObject &v) {
    w_.u8(kVectorObjectMarker);
    std::size_t n = std::min<std::size_t>(v.items.size(), kU28Max);
    count_u28(n);
    w_.u8(v.fixed ? 1 : 0);
    string_vr(v.type_name);
    for (std::size_t i = 0; i < n; ++i)
      value(v.items[i]);
  }
  void write(const Dictionary &d) {
    w_.u8(kDictionaryMarker);
    std::size_t n = std::min<std::size_t>(d.entries.size(), kU28Max);
    count_u28(n);
    w_.u8(d.weak_keys ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i) {
      value(d.entries[i].first);
      value(d.entries[i].second);
    }
  }

  ByteWriter w_;
  std::unordered_map<std::string, std::uint32_t> strings_;
  std::map<std::string, std::uint32_t> traits_;
};

} // namespace detail

struct Amf3Reader::State {
  State(ByteView data, const DecodeLimits &limits)
      : budget(limits), decoder(data, 0, limits, budget) {}
  detail::DecodeBudget budget;
  detail::Amf3Decoder decoder;
  std::error_code failed;
};

Amf3Reader::Amf3Reader(ByteView data, DecodeLimits limits)
    : s_(std::make_unique<State>(data, limits)) {}
Amf3Reader::~Amf3Reader() = default;
Amf3Reader::Amf3Reader(Amf3Reader &&) noexcept = default;
Amf3Reader &Amf3Reader::operator=(Amf3Reader &&) noexcept = default;

Result<Value> Amf3Reader::read() {
  if (s_->failed)
    return s_->failed;
  Value v;
  if (auto ec = s_->decoder.read(0, v)) {
    s_->failed = ec;
    return ec;
  }
  return v;
}

bool Amf3Reader::at_end() const {
  return s_->decoder.at_end();
}
std::size_t Amf3Reader::position() const {
  return s_->decoder.position();
}

Result<std::vector<Value>> decode_amf3_sequence(ByteView data, DecodeLimits limits) {
  return detail::decode_sequence<Amf3Reader>(data, limits);
}

Amf3Writer::Amf3Writer(Bytes &out) : e_(std::make_unique<detail::Amf3Encoder>(out)) {}
Amf3Writer::~Amf3Writer() = default;
void Amf3Writer::write(const Value &v) {
  e_->value(v);
}

Bytes encode_amf3(const std::vector<Value> &values) {
  return detail::encode_sequence<Amf3Writer>(values);
}

} // namespace rtmp::amf
