// AMF0 codec (AMF0 spec, Adobe, December 2007): every type marker of section 2, and the
// avmplus-object-marker (3.1) that switches one value to AMF3.
//
// References (2.9) are resolved while decoding: the tree holds copies, each charged to the
// reader's DecodeLimits. A reference to an object still being decoded (a cycle) is rejected.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/amf3.hpp"
#include "core/amf_value.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp::amf {

namespace detail {
class Amf0Decoder;
}

// Decodes the AMF0 values of one message one after the other: the object reference table is
// shared across read() calls. After an error every later read() returns that error.
class Amf0Reader {
public:
  explicit Amf0Reader(ByteView data, DecodeLimits limits = {});
  // The reader keeps a view of the data: a temporary buffer would dangle.
  explicit Amf0Reader(Bytes &&, DecodeLimits = {}) = delete;
  ~Amf0Reader();
  Amf0Reader(Amf0Reader &&) noexcept;
  Amf0Reader &operator=(Amf0Reader &&) noexcept;

  Result<Value> read(); // next value; Errc::truncated if the data ends inside it
  bool at_end() const;
  std::size_t position() const;

private:
  std::unique_ptr<detail::Amf0Decoder> d_;
};

// All values to the end of `data`, sharing one reference table.
Result<std::vector<Value>> decode_amf0_sequence(ByteView data, DecodeLimits limits = {});

// Appends AMF0 values to `out`. Never writes references. Strings longer than 65535 bytes use
// the long-string marker; an Object with a class name is a typed object; an EcmaArray writes
// its count. Integer is written as a number. Values AMF0 cannot express are written after an
// avmplus-object-marker in AMF3 (with fresh AMF3 tables): ByteArray, vectors, Dictionary, e4x
// XML, Arrays with an associative part, Objects with sealed members or not dynamic, and
// Objects whose class or member names exceed 65535 bytes. EcmaArray names longer than that
// (only possible in a hand-built tree) are truncated.
class Amf0Writer {
public:
  explicit Amf0Writer(Bytes &out) : out_(out) {}
  void write(const Value &v);

private:
  Bytes &out_;
};

Bytes encode_amf0(const std::vector<Value> &values);

} // namespace rtmp::amf
