// Message builders shared by the chunk reader and writer tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/bytes.hpp"
#include "core/message.hpp"

namespace rtmp::test {

// `n` bytes of a pattern that differs per `seed`, so that a payload mixed up with another
// (or cut at the wrong chunk boundary) does not compare equal.
inline Bytes filled(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

inline Message msg(std::uint8_t type, std::uint32_t ts, std::uint32_t stream_id, std::uint32_t csid,
                   Bytes payload) {
  Message m;
  m.type = type;
  m.timestamp = ts;
  m.stream_id = stream_id;
  m.chunk_stream_id = csid;
  m.payload = std::move(payload);
  return m;
}

} // namespace rtmp::test
