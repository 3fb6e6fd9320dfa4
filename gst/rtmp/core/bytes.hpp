// Bounds-checked big-endian reader and growable writer: every parse of peer data goes through
// ByteReader, so no other code does pointer arithmetic on bytes from the wire.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rtmp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t *>(s.data()), s.size()};
}

// Reads from a span without ever reading past its end. Each getter returns false (and leaves
// the position unchanged) when not enough bytes remain.
class ByteReader {
public:
  ByteReader() = default;
  explicit ByteReader(ByteView data) : data_(data) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ == data_.size(); }
  ByteView rest() const { return data_.subspan(pos_); }

  bool skip(std::size_t n) {
    if (remaining() < n)
      return false;
    pos_ += n;
    return true;
  }
  bool peek_u8(std::uint8_t &v) const {
    if (remaining() < 1)
      return false;
    v = data_[pos_];
    return true;
  }
  bool read_u8(std::uint8_t &v) { return read_be(v, 1); }
  bool read_u16(std::uint16_t &v) { return read_be(v, 2); }
  bool read_u24(std::uint32_t &v) { return read_be(v, 3); }
  bool read_u32(std::uint32_t &v) { return read_be(v, 4); }
  bool read_i16(std::int16_t &v) {
    std::uint16_t u;
    if (!read_u16(u))
      return false;
    v = static_cast<std::int16_t>(u);
    return true;
  }
  // Signed 24-bit big-endian (FLV composition time offset).
  bool read_i24(std::int32_t &v) {
    std::uint32_t u;
    if (!read_u24(u))
      return false;
    v = (u & 0x800000u) ? static_cast<std::int32_t>(u | 0xFF000000u) : static_cast<std::int32_t>(u);
    return true;
  }
  // Little-endian 32-bit: the message stream id of a type-0 chunk header (RTMP 5.3.1.2.1).
  bool read_u32_le(std::uint32_t &v) {
    if (remaining() < 4)
      return false;
    v = static_cast<std::uint32_t>(data_[pos_]) | static_cast<std::uint32_t>(data_[pos_ + 1]) << 8 |
        static_cast<std::uint32_t>(data_[pos_ + 2]) << 16 |
        static_cast<std::uint32_t>(data_[pos_ + 3]) << 24;
    pos_ += 4;
    return true;
  }
  // IEEE-754 double, big-endian (AMF0 number, AMF3 double).
  bool read_f64(double &v) {
    std::uint64_t u;
    if (!read_be(u, 8))
      return false;
    v = std::bit_cast<double>(u);
    return true;
  }
  bool read_bytes(std::size_t n, ByteView &out) {
    if (remaining() < n)
      return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool read_string(std::size_t n, std::string &out) {
    ByteView b;
    if (!read_bytes(n, b))
      return false;
    out.assign(reinterpret_cast<const char *>(b.data()), b.size());
    return true;
  }

private:
  template <typename T> bool read_be(T &v, std::size_t n) {
    if (remaining() < n)
      return false;
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i)
      acc = (acc << 8) | data_[pos_ + i];
    v = static_cast<T>(acc);
    pos_ += n;
    return true;
  }

  ByteView data_;
  std::size_t pos_ = 0;
};

// Appends big-endian fields to a byte vector it does not own.
class ByteWriter {
public:
  explicit ByteWriter(Bytes &out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { be(v, 2); }
  void u24(std::uint32_t v) { be(v, 3); }
  void u32(std::uint32_t v) { be(v, 4); }
  void i24(std::int32_t v) { be(static_cast<std::uint32_t>(v) & 0xFFFFFFu, 3); }
  void u32_le(std::uint32_t v) {
    out_.push_back(static_cast<std::uint8_t>(v));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v >> 16));
    out_.push_back(static_cast<std::uint8_t>(v >> 24));
  }
  void f64(double v) { be(std::bit_cast<std::uint64_t>(v), 8); }
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { bytes(as_bytes(s)); }
  // Overwrites 3 or 4 bytes already written at `at` (for sizes known only afterwards).
  void patch_u24(std::size_t at, std::uint32_t v) {
    out_[at] = static_cast<std::uint8_t>(v >> 16);
    out_[at + 1] = static_cast<std::uint8_t>(v >> 8);
    out_[at + 2] = static_cast<std::uint8_t>(v);
  }
  void patch_u32(std::size_t at, std::uint32_t v) {
    out_[at] = static_cast<std::uint8_t>(v >> 24);
    patch_u24(at + 1, v);
  }
  std::size_t size() const { return out_.size(); }

private:
  void be(std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  Bytes &out_;
};

// The value of one hexadecimal digit (either letter case), -1 for any other character.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace rtmp
