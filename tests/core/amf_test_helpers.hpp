// Decoding helpers shared by the AMF0 and AMF3 tests: the byte tables there hold exactly one
// value, so "decodes" means "decodes to one value and consumes every byte".
#pragma once

#include <gtest/gtest.h>

#include <system_error>

#include "core/amf_value.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"

namespace rtmp::test {

template <class Reader> Result<amf::Value> decode_one(const Bytes &b, amf::DecodeLimits limits) {
  Reader r(b, limits);
  auto v = r.read();
  if (v && !r.at_end())
    return Errc::malformed; // the tables hold exactly one value
  return v;
}

// The value, with a test failure (and an empty Value) when it does not decode.
template <class Reader> amf::Value decode_ok(const Bytes &b) {
  auto v = decode_one<Reader>(b, {});
  EXPECT_TRUE(v.ok()) << v.error().message();
  return v.ok() ? *v : amf::Value();
}

// The error, or an empty error_code when it decodes.
template <class Reader> std::error_code decode_err(const Bytes &b, amf::DecodeLimits limits) {
  auto v = decode_one<Reader>(b, limits);
  return v.ok() ? std::error_code{} : v.error();
}

// `b` decodes with the bound `field` of DecodeLimits at `exact` and exceeds it at one less.
template <class Reader>
void expect_exact_limit(const Bytes &b, std::size_t amf::DecodeLimits::*field, std::size_t exact) {
  amf::DecodeLimits limits;
  limits.*field = exact;
  auto v = decode_one<Reader>(b, limits);
  EXPECT_TRUE(v.ok()) << "at the limit: " << v.error().message();
  limits.*field = exact - 1;
  EXPECT_EQ(decode_err<Reader>(b, limits), Errc::limit_exceeded) << "one below the limit";
}

// After an error every later read() returns the same error.
template <class Reader> void expect_sticky_error(const Bytes &wire, Errc e) {
  Reader r(wire);
  EXPECT_EQ(r.read().error(), e);
  EXPECT_EQ(r.read().error(), e);
}

} // namespace rtmp::test
