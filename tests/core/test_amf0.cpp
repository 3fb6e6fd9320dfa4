// AMF0 codec tests. Byte tables follow the AMF0 specification (Adobe, December 2007); each
// names the section it comes from.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf0.hpp"

#include "amf_test_helpers.hpp"
#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::cat;
using rtmp::test::hex;
using namespace rtmp::amf;

namespace {

// AMF0 1.3 UTF-8: U16 length then the bytes (for readable tables of long text).
Bytes utf8(std::string_view s) {
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(s.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(s.size()));
  for (char c : s)
    out.push_back(static_cast<std::uint8_t>(c));
  return out;
}

Result<Value> decode_one(const Bytes &b, DecodeLimits limits = {}) {
  return test::decode_one<Amf0Reader>(b, limits);
}
Value decode_ok(const Bytes &b) {
  return test::decode_ok<Amf0Reader>(b);
}
std::error_code decode_err(const Bytes &b, DecodeLimits limits = {}) {
  return test::decode_err<Amf0Reader>(b, limits);
}

Bytes encode_one(const Value &v) {
  return encode_amf0({v});
}

// ---------------------------------------------------------------------------------------------
// Every marker, from the spec

TEST(Amf0Spec, Number) { // 2.2
  EXPECT_EQ(decode_ok(hex("00 3F F0 00 00 00 00 00 00")), Value(1.0));
  EXPECT_EQ(decode_ok(hex("00 C0 09 21 FB 54 44 2D 18")), Value(-3.141592653589793));
  EXPECT_EQ(encode_one(Value(1.0)), hex("00 3F F0 00 00 00 00 00 00"));
}

TEST(Amf0Spec, Boolean) { // 2.3: zero is false, anything else true
  EXPECT_EQ(decode_ok(hex("01 00")), Value(false));
  EXPECT_EQ(decode_ok(hex("01 01")), Value(true));
  EXPECT_EQ(decode_ok(hex("01 7F")), Value(true));
  EXPECT_EQ(encode_one(Value(true)), hex("01 01"));
}

TEST(Amf0Spec, String) { // 2.4
  EXPECT_EQ(decode_ok(hex("02 00 03 61 62 63")), Value("abc"));
  EXPECT_EQ(decode_ok(hex("02 00 00")), Value(""));
  EXPECT_EQ(encode_one(Value("abc")), hex("02 00 03 61 62 63"));
}

TEST(Amf0Spec, Object) { // 2.5: name/value pairs, then empty name and object-end marker
  Value v = decode_ok(hex("03 00 01 61 00 3F F0 00 00 00 00 00 00 00 01 62 05 00 00 09"));
  ASSERT_TRUE(v.is<Object>());
  EXPECT_EQ(v.get_if<Object>()->class_name, "");
  EXPECT_EQ(v.number_at("a"), 1.0);
  ASSERT_NE(v.find("b"), nullptr);
  EXPECT_TRUE(v.find("b")->is<Null>());
  EXPECT_EQ(encode_one(v), hex("03 00 01 61 00 3F F0 00 00 00 00 00 00 00 01 62 05 00 00 09"));
}

TEST(Amf0Spec, ObjectEmptyNameNotFollowedByEndIsAProperty) { // 2.5: only "" + 0x09 ends it
  Value v = decode_ok(hex("03 00 00 05 00 00 09"));
  ASSERT_EQ(v.properties()->size(), 1u);
  EXPECT_EQ((*v.properties())[0].first, "");
  EXPECT_EQ(encode_one(v), hex("03 00 00 05 00 00 09"));
}

TEST(Amf0Spec, MovieClipAndRecordSetAreRejected) { // 2.6, 2.16: reserved
  EXPECT_EQ(decode_err(hex("04")), Errc::amf_bad_marker);
  EXPECT_EQ(decode_err(hex("0E")), Errc::amf_bad_marker);
}

TEST(Amf0Spec, NullUndefinedUnsupported) { // 2.7, 2.8, 2.15
  EXPECT_EQ(decode_ok(hex("05")), Value(Null{}));
  EXPECT_EQ(decode_ok(hex("06")), Value(Undefined{}));
  EXPECT_EQ(decode_ok(hex("0D")), Value(Unsupported{}));
  EXPECT_EQ(encode_amf0({Null{}, Undefined{}, Unsupported{}}), hex("05 06 0D"));
}

TEST(Amf0Spec, ReferenceResolvesToACopy) { // 2.9: table of complex values, in order
  // strict array [ {a: null}, ref 1 ]: the array is entry 0, the object entry 1.
  Value v = decode_ok(hex("0A 00 00 00 02  03 00 01 61 05 00 00 09  07 00 01"));
  ASSERT_TRUE(v.is<Array>());
  const auto &dense = v.get_if<Array>()->dense;
  ASSERT_EQ(dense.size(), 2u);
  EXPECT_TRUE(dense[0].is<Object>());
  EXPECT_EQ(dense[0], dense[1]);
}

TEST(Amf0Spec, ReferenceAcrossReads) { // one table per message
  Bytes wire = hex("03 00 01 61 02 00 01 7A 00 00 09  07 00 00");
  Amf0Reader r(wire);
  auto first = r.read();
  ASSERT_TRUE(first.ok());
  auto second = r.read();
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(second->string_at("a"), "z");
  EXPECT_TRUE(r.at_end());
}

TEST(Amf0Spec, ReferenceErrors) {
  EXPECT_EQ(decode_err(hex("07 00 00")), Errc::amf_bad_reference); // empty table
  // 2.9: an object referring to itself (a cycle) cannot become a tree of copies.
  EXPECT_EQ(decode_err(hex("03 00 01 61 07 00 00 00 00 09")), Errc::amf_bad_reference);
  // Nor can an array holding its enclosing object.
  EXPECT_EQ(decode_err(hex("03 00 01 61 0A 00 00 00 01 07 00 00 00 00 09")),
            Errc::amf_bad_reference);
  EXPECT_EQ(decode_err(hex("07 00")), Errc::truncated);
}

TEST(Amf0Spec, EcmaArrayCountIsAHint) { // 2.10
  Value v = decode_ok(hex("08 00 00 00 05  00 01 61 05  00 00 09"));
  ASSERT_TRUE(v.is<EcmaArray>());
  EXPECT_EQ(v.properties()->size(), 1u);
  // The writer sends the true count.
  EXPECT_EQ(encode_one(v), hex("08 00 00 00 01  00 01 61 05  00 00 09"));
}

TEST(Amf0Spec, ObjectEndOutsideAnObjectIsRejected) { // 2.11
  EXPECT_EQ(decode_err(hex("09")), Errc::amf_bad_marker);
  EXPECT_EQ(decode_err(hex("0A 00 00 00 01 09")), Errc::amf_bad_marker);
  // As a property value (name "a" then 09) too.
  EXPECT_EQ(decode_err(hex("03 00 01 61 09 00 00 09")), Errc::amf_bad_marker);
}

TEST(Amf0Spec, StrictArray) { // 2.12
  Value v = decode_ok(hex("0A 00 00 00 02 05 06"));
  ASSERT_TRUE(v.is<Array>());
  EXPECT_EQ(v.get_if<Array>()->dense, (std::vector<Value>{Null{}, Undefined{}}));
  EXPECT_EQ(encode_one(v), hex("0A 00 00 00 02 05 06"));
}

TEST(Amf0Spec, Date) { // 2.13: DOUBLE ms since epoch then S16 time zone
  // 2020-01-01T00:00:00Z, time zone -60 minutes.
  Value v = decode_ok(hex("0B 42 76 F5 E6 6E 80 00 00 FF C4"));
  ASSERT_TRUE(v.is<Date>());
  EXPECT_EQ(v.get_if<Date>()->ms_since_epoch, 1577836800000.0);
  EXPECT_EQ(v.get_if<Date>()->timezone_minutes, -60);
  EXPECT_EQ(encode_one(v), hex("0B 42 76 F5 E6 6E 80 00 00 FF C4"));
}

TEST(Amf0Spec, LongString) { // 2.14
  EXPECT_EQ(decode_ok(hex("0C 00 00 00 03 61 62 63")), Value("abc"));
  std::string big(70000, 'x');
  Bytes enc = encode_one(Value(big));
  EXPECT_EQ(Bytes(enc.begin(), enc.begin() + 5), hex("0C 00 01 11 70"));
  EXPECT_EQ(decode_ok(enc), Value(big));
}

TEST(Amf0Spec, XmlDocument) { // 2.17: UTF-8-long
  Value v = decode_ok(hex("0F 00 00 00 04 3C 61 2F 3E"));
  ASSERT_TRUE(v.is<Xml>());
  EXPECT_EQ(v.get_if<Xml>()->text, "<a/>");
  EXPECT_FALSE(v.get_if<Xml>()->e4x);
  EXPECT_EQ(encode_one(v), hex("0F 00 00 00 04 3C 61 2F 3E"));
}

TEST(Amf0Spec, TypedObject) { // 2.18: class name then object body
  Value v = decode_ok(hex("10 00 03 46 6F 6F  00 01 78 05  00 00 09"));
  ASSERT_TRUE(v.is<Object>());
  EXPECT_EQ(v.get_if<Object>()->class_name, "Foo");
  EXPECT_TRUE(v.find("x")->is<Null>());
  EXPECT_EQ(encode_one(v), hex("10 00 03 46 6F 6F  00 01 78 05  00 00 09"));
}

TEST(Amf0Spec, AvmPlusSwitchesOneValueToAmf3) { // 3.1
  EXPECT_EQ(decode_ok(hex("11 04 05")), Value(Integer{5}));
  EXPECT_EQ(decode_ok(hex("11 06 07 61 62 63")), Value("abc"));
  // Inside an object, and back to AMF0 afterwards.
  Value v = decode_ok(hex("03 00 01 61 11 04 7F 00 01 62 05 00 00 09"));
  EXPECT_EQ(*v.find("a"), Value(Integer{127}));
  EXPECT_TRUE(v.find("b")->is<Null>());
}

TEST(Amf0Spec, AvmPlusTablesStartEmptyOnEachSwitch) { // 3.1
  // The second switched value refers to string 0 of the first: not visible.
  Bytes wire = hex("11 06 07 61 62 63  11 06 00");
  Amf0Reader r(wire);
  ASSERT_TRUE(r.read().ok());
  EXPECT_EQ(r.read().error(), Errc::amf_bad_reference);
}

TEST(Amf0Spec, UnknownMarkers) {
  for (std::uint8_t m : {0x12, 0x20, 0x7F, 0xFF})
    EXPECT_EQ(decode_err(Bytes{m}), Errc::amf_bad_marker) << int(m);
}

// ---------------------------------------------------------------------------------------------
// Real payloads

// The connect command as ffmpeg's librtmp-compatible client sends it (RTMP 1.0 section 7.2.1.1):
// "connect", transaction 1, command object.
Bytes ffmpeg_connect() {
  return cat({hex("02"),
              utf8("connect"),                   // command name
              hex("00 3F F0 00 00 00 00 00 00"), // transaction id 1.0
              hex("03"),                         // command object
              utf8("app"),
              hex("02"),
              utf8("live"), //
              utf8("flashVer"),
              hex("02"),
              utf8("LNX 9,0,124,2"),
              utf8("tcUrl"),
              hex("02"),
              utf8("rtmp://127.0.0.1:1935/live"),
              utf8("fpad"),
              hex("01 00"), // false
              utf8("capabilities"),
              hex("00 40 2E 00 00 00 00 00 00"), // 15.0
              utf8("audioCodecs"),
              hex("00 40 AF CE 00 00 00 00 00"), // 4071.0
              utf8("videoCodecs"),
              hex("00 40 6F 80 00 00 00 00 00"), // 252.0
              utf8("videoFunction"),
              hex("00 3F F0 00 00 00 00 00 00"), // 1.0
              hex("00 00 09")});
}

TEST(Amf0Real, FfmpegConnect) {
  Bytes wire = ffmpeg_connect();
  auto values = decode_amf0_sequence(wire);
  ASSERT_TRUE(values.ok()) << values.error().message();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0], Value("connect"));
  EXPECT_EQ((*values)[1].as_number(), 1.0);
  const Value &obj = (*values)[2];
  EXPECT_EQ(obj.string_at("app"), "live");
  EXPECT_EQ(obj.string_at("flashVer"), "LNX 9,0,124,2");
  EXPECT_EQ(obj.string_at("tcUrl"), "rtmp://127.0.0.1:1935/live");
  EXPECT_EQ(obj.find("fpad")->as_bool(), false);
  EXPECT_EQ(obj.number_at("capabilities"), 15.0);
  EXPECT_EQ(obj.number_at("audioCodecs"), 4071.0);
  EXPECT_EQ(obj.number_at("videoCodecs"), 252.0);
  EXPECT_EQ(obj.number_at("videoFunction"), 1.0);
  EXPECT_EQ(obj.properties()->size(), 8u);
  // Rebuilt from scratch, the writer produces the same bytes (wire order kept).
  Value rebuilt = make_object({{"app", "live"},
                               {"flashVer", "LNX 9,0,124,2"},
                               {"tcUrl", "rtmp://127.0.0.1:1935/live"},
                               {"fpad", false},
                               {"capabilities", 15.0},
                               {"audioCodecs", 4071.0},
                               {"videoCodecs", 252.0},
                               {"videoFunction", 1.0}});
  EXPECT_EQ(encode_amf0({"connect", 1.0, rebuilt}), wire);
}

// onMetaData as ffmpeg's FLV muxer writes it: a string then an ECMA array (FLV 10.1 E.5).
Bytes ffmpeg_on_metadata() {
  return cat({hex("02"), utf8("onMetaData"), hex("08 00 00 00 07"), utf8("duration"),
              hex("00 00 00 00 00 00 00 00 00"),                       // 0.0
              utf8("width"), hex("00 40 94 00 00 00 00 00 00"),        // 1280.0
              utf8("height"), hex("00 40 86 80 00 00 00 00 00"),       // 720.0
              utf8("videocodecid"), hex("00 40 1C 00 00 00 00 00 00"), // 7.0 (AVC)
              utf8("audiocodecid"), hex("00 40 24 00 00 00 00 00 00"), // 10.0 (AAC)
              utf8("stereo"), hex("01 01"),                            // true
              utf8("encoder"), hex("02"), utf8("Lavf59.27.100"), hex("00 00 09")});
}

TEST(Amf0Real, OnMetaData) {
  Bytes wire = ffmpeg_on_metadata();
  auto values = decode_amf0_sequence(wire);
  ASSERT_TRUE(values.ok()) << values.error().message();
  ASSERT_EQ(values->size(), 2u);
  EXPECT_EQ((*values)[0], Value("onMetaData"));
  const Value &meta = (*values)[1];
  ASSERT_TRUE(meta.is<EcmaArray>());
  EXPECT_EQ(meta.number_at("width"), 1280.0);
  EXPECT_EQ(meta.number_at("height"), 720.0);
  EXPECT_EQ(meta.number_at("videocodecid"), 7.0);
  EXPECT_EQ(meta.number_at("audiocodecid"), 10.0);
  EXPECT_EQ(meta.find("stereo")->as_bool(), true);
  EXPECT_EQ(meta.string_at("encoder"), "Lavf59.27.100");
  EXPECT_EQ(encode_amf0(*values), wire);
}

// ---------------------------------------------------------------------------------------------
// Round trips and truncation

std::vector<Value> every_kind() {
  Object typed;
  typed.class_name = "com.example.Thing";
  typed.properties = {{"n", 2.5}, {"s", "x"}};
  Object sealed; // AMF3-only shape: goes through the avmplus switch
  sealed.class_name = "Point";
  sealed.properties = {{"x", Integer{1}}, {"y", Integer{-2}}};
  sealed.sealed_count = 2;
  sealed.dynamic = false;
  Array mixed;
  mixed.dense = {1.0, "two"};
  mixed.associative = {{"k", Null{}}};
  Dictionary dict;
  dict.entries = {{Value("key"), Value(1.0)}, {Value(Integer{3}), Value(Null{})}};
  return {
      Value(0.0),
      Value(-1.5e300),
      Value(true),
      Value(false),
      Value(""),
      Value("hello"),
      Value(std::string(70000, 'L')),
      make_object({{"a", 1.0}, {"nested", make_object({{"b", "c"}})}}),
      make_object({}),
      Value(typed),
      make_ecma_array({{"w", 640.0}, {"h", 480.0}}),
      make_ecma_array({}),
      Value(Array{{1.0, Null{}, make_object({{"z", true}})}, {}}),
      Value(Array{}),
      Value(Date{1.5e12, 120}),
      Value(Xml{"<doc/>", false}),
      Value(Null{}),
      Value(Undefined{}),
      Value(Unsupported{}),
      // Through AMF3:
      Value(Xml{"<e4x/>", true}),
      Value(ByteArray{{0, 1, 2, 255}}),
      Value(VectorInt{true, {1, -1, 1 << 30}}),
      Value(VectorUint{false, {0, 0xFFFFFFFFu}}),
      Value(VectorDouble{false, {0.5, -0.25}}),
      Value(VectorObject{false, "com.example.T", {Value("a"), Value(Null{})}}),
      Value(dict),
      Value(sealed),
      Value(mixed),
  };
}

TEST(Amf0RoundTrip, EveryKind) {
  for (const Value &v : every_kind()) {
    Bytes enc = encode_one(v);
    auto back = decode_one(enc);
    ASSERT_TRUE(back.ok()) << to_debug_string(v) << ": " << back.error().message();
    EXPECT_EQ(*back, v) << to_debug_string(v) << " != " << to_debug_string(*back);
  }
  // And all of them as one message.
  auto all = decode_amf0_sequence(encode_amf0(every_kind()));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, every_kind());
}

TEST(Amf0RoundTrip, AmfThreeOnlyKindsUseTheAvmPlusMarker) {
  EXPECT_EQ(encode_one(Value(ByteArray{{7}})), hex("11 0C 03 07"));
  EXPECT_EQ(encode_one(Value(Xml{"", true})), hex("11 0B 01"));
  EXPECT_EQ(encode_one(Value(Array{{}, {{"k", Null{}}}})), hex("11 09 01 03 6B 01 01"));
}

TEST(Amf0RoundTrip, IntegerIsWrittenAsANumber) {
  EXPECT_EQ(encode_one(Value(Integer{1})), hex("00 3F F0 00 00 00 00 00 00"));
}

// A span decoder has no "more data later", but the reader must stop exactly after each value.
TEST(Amf0RoundTrip, ReaderAdvancesValueByValue) {
  std::vector<Value> values = every_kind();
  Bytes all;
  std::vector<std::size_t> ends;
  for (const Value &v : values) {
    Bytes enc = encode_one(v);
    all.insert(all.end(), enc.begin(), enc.end());
    ends.push_back(all.size());
  }
  Amf0Reader r(all);
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto v = r.read();
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(r.position(), ends[i]);
    EXPECT_EQ(*v, values[i]);
  }
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(r.read().error(), Errc::truncated); // nothing left
}

TEST(Amf0Truncated, EveryPrefixOfEveryValue) {
  std::vector<Bytes> inputs;
  for (const Value &v : every_kind())
    if (!v.is<std::string>() || v.as_string()->size() < 1000) // keep the test fast
      inputs.push_back(encode_one(v));
  inputs.push_back(hex("0A 00 00 00 02  03 00 01 61 05 00 00 09  07 00 01"));
  inputs.push_back(hex("10 00 03 46 6F 6F  00 01 78 05  00 00 09"));
  for (const Bytes &full : inputs) {
    ASSERT_TRUE(decode_one(full).ok());
    for (std::size_t n = 0; n < full.size(); ++n) {
      Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      auto v = decode_one(prefix);
      ASSERT_FALSE(v.ok()) << "prefix " << n << " of " << full.size();
      EXPECT_EQ(v.error(), Errc::truncated) << "prefix " << n << " of " << full.size();
    }
  }
}

TEST(Amf0Truncated, EveryPrefixOfTheConnectCommand) {
  Bytes wire = ffmpeg_connect();
  for (std::size_t n = 0; n < wire.size(); ++n) {
    Bytes prefix(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    auto v = decode_amf0_sequence(prefix);
    // Either a shorter list (cut at a value boundary) or truncated, nothing else.
    if (v.ok())
      EXPECT_LT(v->size(), 3u);
    else
      EXPECT_EQ(v.error(), Errc::truncated) << n;
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile input and limits

TEST(Amf0Hostile, DeepNestingIsALimitNotACrash) {
  Bytes objects, arrays;
  for (int i = 0; i < 10000; ++i) {
    Bytes o = hex("03 00 01 61"), a = hex("0A 00 00 00 01");
    objects.insert(objects.end(), o.begin(), o.end());
    arrays.insert(arrays.end(), a.begin(), a.end());
  }
  EXPECT_EQ(decode_err(objects), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(arrays), Errc::limit_exceeded);
}

TEST(Amf0Hostile, DepthCeilingHoldsWhateverTheCallerAsks) {
  // The decoder recurses once per level: kMaxAmfDepthCeiling bounds the stack even when a
  // caller sets max_depth absurdly high.
  Bytes b;
  for (int i = 0; i < 100000; ++i)
    b.insert(b.end(), {0x0A, 0, 0, 0, 1});
  DecodeLimits limits;
  limits.max_depth = static_cast<std::size_t>(-1);
  EXPECT_EQ(decode_err(b, limits), Errc::limit_exceeded);
}

TEST(Amf0Hostile, DepthLimitIsExact) {
  auto nested = [](int levels) {
    Bytes b;
    for (int i = 0; i < levels; ++i)
      b.insert(b.end(), {0x0A, 0, 0, 0, 1});
    b.push_back(0x05);
    return b;
  };
  DecodeLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(decode_one(nested(4), limits).ok());
  EXPECT_EQ(decode_err(nested(5), limits), Errc::limit_exceeded);
}

TEST(Amf0Hostile, ReferenceAmplificationIsCounted) {
  // "Billion laughs": level k is an object whose 16 properties all refer to level k-1, so a
  // few hundred bytes stand for 16^8 nodes. Complex values are numbered in order: the outer
  // strict array is 0, level k is k+1.
  Bytes b = hex("0A 00 00 00 09  03 00 01 61 05 00 00 09");
  for (int level = 1; level <= 8; ++level) {
    b.push_back(0x03);
    for (int i = 0; i < 16; ++i)
      b.insert(b.end(), {0x00, 0x01, static_cast<std::uint8_t>('a' + i), 0x07, 0x00,
                         static_cast<std::uint8_t>(level)});
    b.insert(b.end(), {0x00, 0x00, 0x09});
  }
  EXPECT_LT(b.size(), 1000u);
  EXPECT_EQ(decode_err(b), Errc::limit_exceeded);
}

TEST(Amf0Hostile, CopiesCountAsNodes) {
  // [ {a: null, b: null}, ref 1, ref 1 ]: 1 array + 3 objects x 3 nodes = 10 nodes.
  Bytes b = hex("0A 00 00 00 03  03 00 01 61 05 00 01 62 05 00 00 09  07 00 01  07 00 01");
  test::expect_exact_limit<Amf0Reader>(b, &DecodeLimits::max_nodes, 10);
}

TEST(Amf0Hostile, CopiedStringBytesAreCounted) {
  // [ {s: 600 bytes}, ref 1 ]: 1200 bytes of strings (plus the key "s" twice).
  Bytes b =
      cat({hex("0A 00 00 00 02 03 00 01 73 02 02 58"), Bytes(600, 'x'), hex("00 00 09 07 00 01")});
  test::expect_exact_limit<Amf0Reader>(b, &DecodeLimits::max_total_bytes, 1202);
}

TEST(Amf0Hostile, HugeCountsFailBeforeAllocating) {
  // Counts beyond our limits.
  EXPECT_EQ(decode_err(hex("0A FF FF FF FF 05")), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0C FF FF FF FF 61")), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0F FF FF FF FF 61")), Errc::limit_exceeded);
  // Within limits but longer than the input: truncated, at once.
  DecodeLimits big;
  big.max_items = 0xFFFFFFFF;
  big.max_string_bytes = 0xFFFFFFFF;
  EXPECT_EQ(decode_err(hex("0A FF FF FF FF 05"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("0C FF FF FF FF 61"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("02 FF FF 61")), Errc::truncated);
  // The ECMA array count is a hint and allocates nothing.
  EXPECT_EQ(decode_err(hex("08 FF FF FF FF 00 00 09")), std::error_code{});
}

TEST(Amf0Hostile, TooManyProperties) {
  DecodeLimits limits;
  limits.max_items = 2;
  EXPECT_TRUE(decode_one(hex("03 00 01 61 05 00 01 62 05 00 00 09"), limits).ok());
  EXPECT_EQ(decode_err(hex("03 00 01 61 05 00 01 62 05 00 01 63 05 00 00 09"), limits),
            Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("08 00 00 00 00 00 01 61 05 00 01 62 05 00 01 63 05 00 00 09"), limits),
            Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0A 00 00 00 03 05 05 05"), limits), Errc::limit_exceeded);
}

TEST(Amf0Hostile, StringLimit) {
  DecodeLimits limits;
  limits.max_string_bytes = 3;
  EXPECT_TRUE(decode_one(hex("02 00 03 61 62 63"), limits).ok());
  EXPECT_EQ(decode_err(hex("02 00 04 61 62 63 64"), limits), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("03 00 04 61 62 63 64 05 00 00 09"), limits), Errc::limit_exceeded);
}

TEST(Amf0Hostile, ErrorsAreSticky) {
  test::expect_sticky_error<Amf0Reader>(hex("04 05"), Errc::amf_bad_marker);
}

// ---------------------------------------------------------------------------------------------
// Value helpers (amf_value.hpp)

TEST(AmfValue, Accessors) {
  Value obj = make_object({{"n", Integer{4}}, {"s", "t"}, {"n", 9.0}});
  EXPECT_EQ(obj.number_at("n"), 4.0); // first occurrence wins
  EXPECT_EQ(obj.string_at("s"), "t");
  EXPECT_EQ(obj.string_at("n"), std::nullopt);
  EXPECT_EQ(obj.find("missing"), nullptr);
  EXPECT_EQ(Value(1.0).find("x"), nullptr);
  EXPECT_EQ(Value(true).as_number(), std::nullopt);
  EXPECT_EQ(Value(1.0).as_bool(), std::nullopt);
  Value arr = Value(Array{{1.0}, {{"k", "v"}}});
  EXPECT_EQ(arr.string_at("k"), "v");
  EXPECT_NE(make_object({{"a", 1.0}}), make_ecma_array({{"a", 1.0}}));
  Object a, b;
  b.sealed_count = 1;
  EXPECT_NE(Value(a), Value(b));
}

TEST(AmfValue, DebugStringIsBounded) {
  EXPECT_EQ(to_debug_string(make_object({{"a", 1.0}, {"b", "x\"y"}})),
            "{\"a\": 1, \"b\": \"x\\\"y\"}");
  EXPECT_EQ(to_debug_string(Value(Array{{1.0, Null{}}, {{"k", true}}})), "[1, null, \"k\": true]");
  std::string s = to_debug_string(Value(std::string(100000, 'q')), 100);
  EXPECT_LE(s.size(), 103u);
  EXPECT_EQ(s.substr(s.size() - 3), "...");
}

} // namespace
