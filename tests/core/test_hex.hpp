// Byte-table helpers shared by the core tests: hex text to bytes, and concatenation.
#pragma once

#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/bytes.hpp"

namespace rtmp::test {

// "02 00 03 61" -> bytes. Any character that is not a hex digit (spaces, newlines) is skipped,
// so tables can be grouped by field; both letter cases are accepted. An odd number of digits (a
// typo in a table) fails an assert.
inline Bytes hex(std::string_view s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  assert(hi < 0 && "odd number of hex digits");
  return out;
}

// The parts one after another.
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes &p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

} // namespace rtmp::test
