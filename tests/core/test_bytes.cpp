// ByteReader/ByteWriter: the bounds-checked primitives every parser uses.
#include <gtest/gtest.h>

#include "core/bytes.hpp"
#include "core/error.hpp"

using namespace rtmp;

TEST(ByteReader, ReadsBigEndianFields) {
  const Bytes data = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A};
  ByteReader r(data);
  std::uint8_t u8;
  std::uint16_t u16;
  std::uint32_t u24, u32;
  ASSERT_TRUE(r.read_u8(u8));
  ASSERT_TRUE(r.read_u16(u16));
  ASSERT_TRUE(r.read_u24(u24));
  ASSERT_TRUE(r.read_u32(u32));
  EXPECT_EQ(u8, 0x01);
  EXPECT_EQ(u16, 0x0203);
  EXPECT_EQ(u24, 0x040506u);
  EXPECT_EQ(u32, 0x0708090Au);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReader, StreamIdIsLittleEndian) {
  // RTMP 1.0 5.3.1.2.1: the message stream id is stored little-endian.
  const Bytes data = {0x01, 0x00, 0x00, 0x00};
  ByteReader r(data);
  std::uint32_t id;
  ASSERT_TRUE(r.read_u32_le(id));
  EXPECT_EQ(id, 1u);
}

TEST(ByteReader, DoubleIsBigEndianIeee754) {
  // AMF0 2.2: 1.0 is 3F F0 00 00 00 00 00 00.
  const Bytes data = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0};
  ByteReader r(data);
  double d;
  ASSERT_TRUE(r.read_f64(d));
  EXPECT_EQ(d, 1.0);
}

TEST(ByteReader, SignedI24) {
  const Bytes data = {0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x10};
  ByteReader r(data);
  std::int32_t a, b;
  ASSERT_TRUE(r.read_i24(a));
  ASSERT_TRUE(r.read_i24(b));
  EXPECT_EQ(a, -2);
  EXPECT_EQ(b, 16);
}

TEST(ByteReader, NeverReadsPastTheEnd) {
  const Bytes data = {0x01, 0x02, 0x03};
  for (std::size_t len = 0; len <= data.size(); ++len) {
    ByteReader r(ByteView(data).first(len));
    std::uint32_t u32;
    EXPECT_FALSE(r.read_u32(u32));
    EXPECT_EQ(r.position(), 0u) << "a failed read must not move";
    std::uint32_t u24;
    EXPECT_EQ(r.read_u24(u24), len >= 3);
    ByteView b;
    EXPECT_FALSE(r.read_bytes(len + 1, b));
  }
}

TEST(ByteWriter, RoundTripsEveryField) {
  Bytes out;
  ByteWriter w(out);
  w.u8(0xAB);
  w.u16(0x1234);
  w.u24(0xABCDEF);
  w.u32(0xDEADBEEF);
  w.u32_le(0x01020304);
  w.f64(-2.5);
  w.i24(-7);
  w.bytes(std::string_view("hi"));
  ByteReader r(out);
  std::uint8_t a;
  std::uint16_t b;
  std::uint32_t c, d, e;
  double f;
  std::int32_t g;
  std::string s;
  ASSERT_TRUE(r.read_u8(a) && r.read_u16(b) && r.read_u24(c) && r.read_u32(d) && r.read_u32_le(e) &&
              r.read_f64(f) && r.read_i24(g) && r.read_string(2, s));
  EXPECT_EQ(a, 0xAB);
  EXPECT_EQ(b, 0x1234);
  EXPECT_EQ(c, 0xABCDEFu);
  EXPECT_EQ(d, 0xDEADBEEFu);
  EXPECT_EQ(e, 0x01020304u);
  EXPECT_EQ(f, -2.5);
  EXPECT_EQ(g, -7);
  EXPECT_EQ(s, "hi");
  EXPECT_EQ(out[10], 0x04) << "u32_le writes the low byte first";
}

TEST(ByteWriter, PatchesSizesWrittenLater) {
  Bytes out(8, 0);
  ByteWriter w(out);
  w.patch_u24(1, 0x010203);
  w.patch_u32(4, 0xA1B2C3D4);
  EXPECT_EQ(out, (Bytes{0, 1, 2, 3, 0xA1, 0xB2, 0xC3, 0xD4}));
}

TEST(Errors, SayWhoWasWrong) {
  EXPECT_EQ(error_origin(make_error_code(Errc::malformed)), ErrorOrigin::peer);
  EXPECT_EQ(error_origin(make_error_code(Errc::invalid_state)), ErrorOrigin::local);
  EXPECT_EQ(error_origin(std::error_code{}), ErrorOrigin::none);
  std::error_code ec = Errc::limit_exceeded;
  EXPECT_EQ(ec.category().name(), std::string("rtmp"));
  EXPECT_FALSE(ec.message().empty());
  Result<int> r(Errc::truncated);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errc::truncated);
  Result<int> ok(5);
  EXPECT_EQ(*ok, 5);
}
