// AMF3 codec (AMF3 spec, Adobe, January 2013): every type of section 3, with the string, object
// and traits reference tables of section 2.2.
//
// References are resolved while decoding: the tree holds copies, each copy charged to the
// reader's DecodeLimits so that a few reference bytes cannot stand for a huge tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/amf_value.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp::amf {

// AMF3 3.6: an integer is a U29 holding a 29-bit two's complement value. Integers outside this
// range are written as doubles (3.7).
inline constexpr std::int32_t kAmf3IntegerMin = -(1 << 28);
inline constexpr std::int32_t kAmf3IntegerMax = (1 << 28) - 1;

// Externalizable classes (AMF3 3.12) whose body is one AMF3 value, which we decode. They are
// represented as an Object of that class with one sealed, non-dynamic property holding the
// body, named after the Flex property it carries.
inline constexpr std::string_view kArrayCollectionClass = "flex.messaging.io.ArrayCollection";
inline constexpr std::string_view kArrayCollectionProperty = "source";
inline constexpr std::string_view kObjectProxyClass = "flex.messaging.io.ObjectProxy";
inline constexpr std::string_view kObjectProxyProperty = "object";

namespace detail {

// What one reader has produced so far, measured against its DecodeLimits. An AMF0 reader
// shares its budget with the AMF3 values it meets after an avmplus marker.
class DecodeBudget {
public:
  explicit DecodeBudget(const DecodeLimits &limits)
      : nodes_left_(limits.max_nodes), bytes_left_(limits.max_total_bytes) {}
  bool take_nodes(std::size_t n) { return take(nodes_left_, n); }
  bool take_bytes(std::size_t n) { return take(bytes_left_, n); }

private:
  static bool take(std::size_t &left, std::size_t n) {
    if (n > left) {
      left = 0;
      return false;
    }
    left -= n;
    return true;
  }
  std::size_t nodes_left_;
  std::size_t bytes_left_;
};

// The table of complex values a reference may name: AMF0 2.9, the AMF3 object table (2.2). A
// decoder resolves a reference by decoding the referenced value again from its bytes ("replay")
// with its tables frozen, so that they hold positions instead of copies and every node of a copy
// is charged to the budget like any other.
class ReferenceTable {
public:
  // Adds the value whose marker is at `marker_pos` (nothing while replaying); pass the result to
  // complete() once the value is decoded. Until then a reference to it (a cycle, which a tree of
  // copies cannot hold) is rejected.
  std::optional<std::size_t> add(std::size_t marker_pos) {
    if (frozen())
      return std::nullopt;
    entries_.push_back({marker_pos, false});
    return entries_.size() - 1;
  }
  void complete(std::optional<std::size_t> entry) {
    if (entry)
      entries_[*entry].complete = true;
  }
  // True while replaying a reference: no table of the decoder may grow.
  bool frozen() const { return frozen_ > 0; }

  // Decodes entry `index` again: `in` (a reader over `data`) is moved to its marker,
  // `read_body(marker, marker_pos)` decodes it with the tables frozen, then `in` is back where it
  // was.
  template <typename ReadBody>
  std::error_code replay(std::size_t index, ByteView data, ByteReader &in, ReadBody &&read_body) {
    if (index >= entries_.size() || !entries_[index].complete)
      return Errc::amf_bad_reference;
    const std::size_t marker_pos = entries_[index].marker_pos;
    const ByteReader saved = in;
    in = ByteReader(data);
    in.skip(marker_pos);
    std::uint8_t marker = 0;
    in.read_u8(marker);
    ++frozen_;
    const std::error_code ec = read_body(marker, marker_pos);
    --frozen_;
    in = saved;
    return ec;
  }

private:
  struct Entry {
    std::size_t marker_pos;
    bool complete;
  };
  std::vector<Entry> entries_;
  int frozen_ = 0;
};

// decode_amf0_sequence / decode_amf3_sequence: every value of `data` with one Reader.
template <class Reader>
Result<std::vector<Value>> decode_sequence(ByteView data, DecodeLimits limits) {
  Reader r(data, limits);
  std::vector<Value> values;
  while (!r.at_end()) {
    auto v = r.read();
    if (!v)
      return v.error();
    values.push_back(std::move(*v));
  }
  return values;
}

// encode_amf0 / encode_amf3: `values` one after the other with one Writer.
template <class Writer> Bytes encode_sequence(const std::vector<Value> &values) {
  Bytes out;
  Writer w(out);
  for (const Value &v : values)
    w.write(v);
  return out;
}

class Amf3Decoder;
class Amf3Encoder;

// One AMF3 value at `pos` in `data`, with fresh reference tables, nested `depth` containers
// deep: what follows an AMF0 avmplus-object-marker (AMF0 spec 3.1). Advances `pos`.
Result<Value> decode_amf3_embedded(ByteView data, std::size_t &pos, const DecodeLimits &limits,
                                   DecodeBudget &budget, std::size_t depth);

} // namespace detail

// Decodes the AMF3 values of one message one after the other; the three reference tables are
// shared across read() calls. After an error every later read() returns that error.
class Amf3Reader {
public:
  explicit Amf3Reader(ByteView data, DecodeLimits limits = {});
  // The reader keeps a view of the data: a temporary buffer would dangle.
  explicit Amf3Reader(Bytes &&, DecodeLimits = {}) = delete;
  ~Amf3Reader();
  Amf3Reader(Amf3Reader &&) noexcept;
  Amf3Reader &operator=(Amf3Reader &&) noexcept;

  Result<Value> read(); // next value; Errc::truncated if the data ends inside it
  bool at_end() const;
  std::size_t position() const;

private:
  struct State;
  std::unique_ptr<State> s_;
};

// All values to the end of `data`, sharing one set of reference tables.
Result<std::vector<Value>> decode_amf3_sequence(ByteView data, DecodeLimits limits = {});

// Appends AMF3 values to `out`. Repeated strings and repeated traits (same class, members and
// flags) are written as references; objects are always written inline. Values AMF3 cannot
// express are mapped: EcmaArray -> associative Array, Unsupported -> undefined, Date time zone
// dropped, Integer outside 29 bits -> double.
class Amf3Writer {
public:
  explicit Amf3Writer(Bytes &out);
  ~Amf3Writer();
  void write(const Value &v);

private:
  std::unique_ptr<detail::Amf3Encoder> e_;
};

Bytes encode_amf3(const std::vector<Value> &values);

} // namespace rtmp::amf
