// The value model shared by AMF0 and AMF3 (AMF0 spec, AMF3 spec 2008).
//
// One tree type serves both encodings so that commands, metadata and shared objects can be
// handled the same way whichever encoding the peer used. References are resolved while
// decoding (the tree holds copies), so consumers never see reference indexes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rtmp::amf {

struct Value;
using Property = std::pair<std::string, Value>;
using Properties = std::vector<Property>; // keeps wire order; keys may repeat in hostile input

struct Undefined {
  bool operator==(const Undefined &) const = default;
};
struct Null {
  bool operator==(const Null &) const = default;
};
// AMF0 "unsupported" marker (0x0D).
struct Unsupported {
  bool operator==(const Unsupported &) const = default;
};

// AMF0 object / typed object, AMF3 object. `class_name` empty for anonymous objects.
// AMF3: the first `sealed_count` properties are the sealed members of the traits, the rest are
// dynamic members (only when `dynamic`).
struct Object {
  std::string class_name;
  Properties properties;
  std::size_t sealed_count = 0;
  bool dynamic = true;
  bool operator==(const Object &) const;
};

// AMF0 ECMA array (associative; the count field is a hint only).
struct EcmaArray {
  Properties properties;
  bool operator==(const EcmaArray &) const;
};

// AMF0 strict array (dense only) and AMF3 array (dense + associative part).
struct Array {
  std::vector<Value> dense;
  Properties associative;
  bool operator==(const Array &) const;
};

// AMF0 date carries a time zone (minutes, "reserved, should be 0" in the spec but sent by
// Flash); AMF3 date has none.
struct Date {
  double ms_since_epoch = 0;
  std::int16_t timezone_minutes = 0;
  bool operator==(const Date &) const = default;
};

// AMF0 XML document (0x0F), AMF3 XMLDocument (0x07, e4x = false) and XML (0x0B, e4x = true).
struct Xml {
  std::string text;
  bool e4x = false;
  bool operator==(const Xml &) const = default;
};

struct ByteArray {
  std::vector<std::uint8_t> data;
  bool operator==(const ByteArray &) const = default;
};

template <typename T> struct Vector {
  bool fixed = false;
  std::vector<T> items;
  bool operator==(const Vector &) const = default;
};
using VectorInt = Vector<std::int32_t>;
using VectorUint = Vector<std::uint32_t>;
using VectorDouble = Vector<double>;
struct VectorObject {
  bool fixed = false;
  std::string type_name; // "" or "*" for any
  std::vector<Value> items;
  bool operator==(const VectorObject &) const;
};

struct Dictionary {
  bool weak_keys = false;
  std::vector<std::pair<Value, Value>> entries;
  bool operator==(const Dictionary &) const;
};

// AMF3 integer (U29, sign-extended to 29 bits). AMF0 has none: it is encoded as a number.
struct Integer {
  std::int32_t value = 0;
  bool operator==(const Integer &) const = default;
};

struct Value {
  using Variant = std::variant<Undefined, Null, bool, double, Integer, std::string, Object,
                               EcmaArray, Array, Date, Xml, ByteArray, VectorInt, VectorUint,
                               VectorDouble, VectorObject, Dictionary, Unsupported>;
  Variant v;

  Value() : v(Undefined{}) {}
  template <typename T, typename = std::enable_if_t<std::is_constructible_v<Variant, T &&> &&
                                                    !std::is_same_v<std::decay_t<T>, Value>>>
  Value(T &&x) : v(std::forward<T>(x)) {}
  Value(const char *s) : v(std::string(s)) {}
  Value(int i) : v(static_cast<double>(i)) {}

  bool operator==(const Value &o) const { return v == o.v; }

  template <typename T> bool is() const { return std::holds_alternative<T>(v); }
  template <typename T> const T *get_if() const { return std::get_if<T>(&v); }
  template <typename T> T *get_if() { return std::get_if<T>(&v); }

  bool is_null_or_undefined() const { return is<Null>() || is<Undefined>(); }
  // Numbers: double, or AMF3 integer converted.
  std::optional<double> as_number() const;
  std::optional<bool> as_bool() const;
  // Strings: std::string (also XML text is NOT returned here).
  const std::string *as_string() const { return get_if<std::string>(); }
  // Properties of an Object or EcmaArray (or the associative part of an Array); nullptr else.
  const Properties *properties() const;
  Properties *properties();
  // Looks up `key` in properties(); nullptr when absent or not an object-like value.
  const Value *find(std::string_view key) const;
  // Convenience lookups used by the session code.
  std::optional<double> number_at(std::string_view key) const;
  std::optional<std::string> string_at(std::string_view key) const;
};

// Bounds on what a peer can make an AMF decoder produce. The AMF0 and AMF3 specs leave
// lengths, counts and nesting unbounded (AMF0 2.x, AMF3 1.3.1: up to 2^28-1 per U29 length),
// and references let a few bytes stand for a large copy, so each reader enforces these.
inline constexpr std::size_t kDefaultMaxAmfDepth = 32;
inline constexpr std::size_t kDefaultMaxAmfNodes = 200000;
inline constexpr std::size_t kDefaultMaxAmfStringBytes = 16u << 20;
inline constexpr std::size_t kDefaultMaxAmfItems = 1u << 20;
inline constexpr std::size_t kDefaultMaxAmfTotalBytes = 64u << 20;
// Nesting is also the decoder's recursion depth: whatever a caller asks, never deeper than this.
inline constexpr std::size_t kMaxAmfDepthCeiling = 512;

struct DecodeLimits {
  std::size_t max_depth = kDefaultMaxAmfDepth; // nesting of objects/arrays/vectors/dictionaries
  // Values produced, counting every copy made when resolving a reference (no "billion laughs").
  std::size_t max_nodes = kDefaultMaxAmfNodes;
  std::size_t max_string_bytes = kDefaultMaxAmfStringBytes; // one string/XML/ByteArray
  std::size_t max_items = kDefaultMaxAmfItems; // entries of one array/vector/dictionary/object
  // Bytes of string, key, XML and ByteArray data produced by one reader, copies included.
  std::size_t max_total_bytes = kDefaultMaxAmfTotalBytes;
};

// Builders for the common shapes.
Value make_object(Properties props);
Value make_ecma_array(Properties props);

// Human-readable rendering for logs and test failure messages (bounded length).
std::string to_debug_string(const Value &v, std::size_t max_len = 4096);

} // namespace rtmp::amf
