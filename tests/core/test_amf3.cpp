// AMF3 codec tests. Byte tables follow the AMF3 specification (Adobe, January 2013); each names
// the section it comes from.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf0.hpp"
#include "core/amf3.hpp"

#include "amf_test_helpers.hpp"
#include "test_hex.hpp"

using namespace rtmp;
using rtmp::test::cat;
using rtmp::test::hex;
using namespace rtmp::amf;

namespace {

// AMF3 1.3.2 UTF-8-vr, inline, for strings shorter than 64 bytes (one-byte U29).
Bytes vr(std::string_view s) {
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(s.size() << 1 | 1));
  for (char c : s)
    out.push_back(static_cast<std::uint8_t>(c));
  return out;
}

Result<Value> decode_one(const Bytes &b, DecodeLimits limits = {}) {
  return test::decode_one<Amf3Reader>(b, limits);
}
Value decode_ok(const Bytes &b) {
  return test::decode_ok<Amf3Reader>(b);
}
std::error_code decode_err(const Bytes &b, DecodeLimits limits = {}) {
  return test::decode_err<Amf3Reader>(b, limits);
}

std::vector<Value> decode_all(const Bytes &b) {
  auto v = decode_amf3_sequence(b);
  EXPECT_TRUE(v.ok()) << v.error().message();
  return v.ok() ? *v : std::vector<Value>{};
}

Bytes encode_one(const Value &v) {
  return encode_amf3({v});
}

// ---------------------------------------------------------------------------------------------
// Every marker, from the spec

TEST(Amf3Spec, Simple) { // 3.2 to 3.5
  EXPECT_EQ(decode_all(hex("00 01 02 03")), (std::vector<Value>{Undefined{}, Null{}, false, true}));
  EXPECT_EQ(encode_amf3({Undefined{}, Null{}, false, true}), hex("00 01 02 03"));
}

TEST(Amf3Spec, IntegerU29) { // 1.3.1 and 3.6: 1 to 4 bytes, 29-bit two's complement
  struct Case {
    const char *wire;
    std::int32_t value;
  } cases[] = {
      {"04 00", 0},
      {"04 7F", 127},
      {"04 81 00", 128},
      {"04 FF 7F", 0x3FFF},
      {"04 81 80 00", 0x4000},
      {"04 FF FF 7F", 0x1FFFFF},
      {"04 80 C0 80 00", 0x200000},
      {"04 BF FF FF FF", kAmf3IntegerMax},
      {"04 FF FF FF FF", -1},
      {"04 C0 80 80 00", kAmf3IntegerMin},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(decode_ok(hex(c.wire)), Value(Integer{c.value})) << c.wire;
    EXPECT_EQ(encode_one(Integer{c.value}), hex(c.wire)) << c.wire;
  }
}

TEST(Amf3Spec, IntegerOutOfRangeIsWrittenAsDouble) { // 3.6: "...serialized as a double"
  EXPECT_EQ(encode_one(Integer{1 << 28}), hex("05 41 B0 00 00 00 00 00 00"));
  EXPECT_EQ(decode_ok(hex("05 41 B0 00 00 00 00 00 00")), Value(268435456.0));
}

TEST(Amf3Spec, Double) { // 3.7
  EXPECT_EQ(decode_ok(hex("05 3F F8 00 00 00 00 00 00")), Value(1.5));
  EXPECT_EQ(encode_one(1.5), hex("05 3F F8 00 00 00 00 00 00"));
}

TEST(Amf3Spec, StringAndStringReferences) { // 3.8, 1.3.2
  EXPECT_EQ(decode_ok(hex("06 07 61 62 63")), Value("abc"));
  EXPECT_EQ(decode_ok(hex("06 01")), Value(""));
  // Second occurrence by reference to string 0.
  EXPECT_EQ(decode_all(hex("06 07 61 62 63 06 00")), (std::vector<Value>{"abc", "abc"}));
  // The empty string never enters the table: index 0 is still "abc".
  EXPECT_EQ(decode_all(hex("06 01 06 07 61 62 63 06 01 06 00")),
            (std::vector<Value>{"", "abc", "", "abc"}));
  // The writer emits the same references.
  EXPECT_EQ(encode_amf3({"", "abc", "", "abc"}), hex("06 01 06 07 61 62 63 06 01 06 00"));
  // Object keys share the table with string values.
  EXPECT_EQ(encode_amf3({"k", make_object({{"k", "k"}})}), hex("06 03 6B  0A 0B 01 00 06 00 01"));
  EXPECT_EQ(decode_err(hex("06 02")), Errc::amf_bad_reference);
}

TEST(Amf3Spec, XmlDocumentAndXml) { // 3.9, 3.13: not in the string table
  Value doc = decode_ok(hex("07 07 3C 61 3E"));
  EXPECT_EQ(doc, Value(Xml{"<a>", false}));
  EXPECT_EQ(decode_ok(hex("0B 07 3C 61 3E")), Value(Xml{"<a>", true}));
  EXPECT_EQ(encode_one(doc), hex("07 07 3C 61 3E"));
  // A later string reference 0 does not see the XML text.
  EXPECT_EQ(decode_err(hex("09 05 01 07 07 3C 61 3E 06 00")), Errc::amf_bad_reference);
}

TEST(Amf3Spec, Date) { // 3.10: U29O-ref (1 = inline) then DOUBLE, no time zone
  Value v = decode_ok(hex("08 01 42 76 F5 E6 6E 80 00 00"));
  EXPECT_EQ(v, Value(Date{1577836800000.0, 0}));
  EXPECT_EQ(encode_one(v), hex("08 01 42 76 F5 E6 6E 80 00 00"));
}

TEST(Amf3Spec, ArrayDenseAndAssociative) { // 3.11
  Value dense = decode_ok(hex("09 05 01 04 01 04 02"));
  EXPECT_EQ(dense, Value(Array{{Integer{1}, Integer{2}}, {}}));
  EXPECT_EQ(encode_one(dense), hex("09 05 01 04 01 04 02"));
  Value mixed = decode_ok(hex("09 03 03 61 04 01 01 06 03 78"));
  EXPECT_EQ(mixed, Value(Array{{"x"}, {{"a", Integer{1}}}}));
  EXPECT_EQ(encode_one(mixed), hex("09 03 03 61 04 01 01 06 03 78"));
}

TEST(Amf3Spec, AnonymousDynamicObject) { // 3.12: U29O-traits 0x0B = dynamic, no sealed
  Value v = decode_ok(hex("0A 0B 01 03 61 04 01 01"));
  ASSERT_TRUE(v.is<Object>());
  EXPECT_EQ(v, make_object({{"a", Integer{1}}}));
  EXPECT_EQ(encode_one(v), hex("0A 0B 01 03 61 04 01 01"));
}

TEST(Amf3Spec, SealedTypedObjectAndTraitsReference) { // 3.12
  // 0x13: one sealed member, not dynamic; class "Foo", member "x". Then traits reference 0.
  Bytes wire = hex("0A 13 07 46 6F 6F 03 78 04 05  0A 01 04 06");
  auto values = decode_all(wire);
  ASSERT_EQ(values.size(), 2u);
  Object expect;
  expect.class_name = "Foo";
  expect.properties = {{"x", Integer{5}}};
  expect.sealed_count = 1;
  expect.dynamic = false;
  EXPECT_EQ(values[0], Value(expect));
  expect.properties[0].second = Integer{6};
  EXPECT_EQ(values[1], Value(expect));
  EXPECT_EQ(encode_amf3(values), wire); // the writer references repeated traits too
  EXPECT_EQ(decode_err(hex("0A 05")), Errc::amf_bad_reference); // traits 1 of none
}

TEST(Amf3Spec, SealedAndDynamicMembers) { // 3.12: sealed values, then dynamic pairs
  Value v = decode_ok(hex("0A 1B 03 50 03 78 04 01 03 79 04 02 01"));
  const Object *o = v.get_if<Object>();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->class_name, "P");
  EXPECT_EQ(o->sealed_count, 1u);
  EXPECT_TRUE(o->dynamic);
  EXPECT_EQ(v.find("y")->as_number(), 2.0);
  EXPECT_EQ(encode_one(v), hex("0A 1B 03 50 03 78 04 01 03 79 04 02 01"));
}

TEST(Amf3Spec, ObjectReferencesAndCycles) { // 2.2, 3.12
  // [ {a: 1}, ref 1 ]: the array is object 0, the object 1.
  Value v = decode_ok(hex("09 05 01  0A 0B 01 03 61 04 01 01  0A 02"));
  const auto &dense = v.get_if<Array>()->dense;
  ASSERT_EQ(dense.size(), 2u);
  EXPECT_EQ(dense[0], dense[1]);
  // An array that contains itself.
  EXPECT_EQ(decode_err(hex("09 03 01 09 00")), Errc::amf_bad_reference);
  // An object whose member refers to it.
  EXPECT_EQ(decode_err(hex("0A 0B 01 03 61 0A 00 01")), Errc::amf_bad_reference);
  EXPECT_EQ(decode_err(hex("0A 04")), Errc::amf_bad_reference); // object 2 of none
  // References reach every object-table kind: date, byte array, xml.
  auto seq =
      decode_all(hex("08 01 3F F0 00 00 00 00 00 00  0C 03 07  0B 03 78  08 00 0C 02 0B 04"));
  ASSERT_EQ(seq.size(), 6u);
  EXPECT_EQ(seq[3], seq[0]);
  EXPECT_EQ(seq[4], seq[1]);
  EXPECT_EQ(seq[5], seq[2]);
}

TEST(Amf3Spec, TablesAreSharedAcrossReads) {
  Bytes wire = hex("0A 13 07 46 6F 6F 03 78 04 05  06 07 61 62 63  0A 01 04 06  06 00  0A 00");
  Amf3Reader r(wire);
  std::vector<Value> got;
  while (!r.at_end()) {
    auto v = r.read();
    ASSERT_TRUE(v.ok()) << v.error().message();
    got.push_back(*v);
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[3], Value("Foo")); // string 0 is the class name read by the first value
  EXPECT_EQ(got[4], got[0]);       // object 0 from the first read
}

TEST(Amf3Spec, ByteArray) { // 3.14
  Value v = decode_ok(hex("0C 07 01 02 03"));
  EXPECT_EQ(v, Value(ByteArray{{1, 2, 3}}));
  EXPECT_EQ(encode_one(v), hex("0C 07 01 02 03"));
}

TEST(Amf3Spec, Vectors) { // 3.15
  Value vi = decode_ok(hex("0D 05 00 00 00 00 01 FF FF FF FF"));
  EXPECT_EQ(vi, Value(VectorInt{false, {1, -1}}));
  Value vu = decode_ok(hex("0E 03 01 FF FF FF FF"));
  EXPECT_EQ(vu, Value(VectorUint{true, {0xFFFFFFFFu}}));
  Value vd = decode_ok(hex("0F 03 00 3F F8 00 00 00 00 00 00"));
  EXPECT_EQ(vd, Value(VectorDouble{false, {1.5}}));
  Value vo = decode_ok(hex("10 05 00 03 2A 04 01 06 03 62"));
  EXPECT_EQ(vo, Value(VectorObject{false, "*", {Integer{1}, "b"}}));
  EXPECT_EQ(encode_one(vi), hex("0D 05 00 00 00 00 01 FF FF FF FF"));
  EXPECT_EQ(encode_one(vu), hex("0E 03 01 FF FF FF FF"));
  EXPECT_EQ(encode_one(vd), hex("0F 03 00 3F F8 00 00 00 00 00 00"));
  EXPECT_EQ(encode_one(vo), hex("10 05 00 03 2A 04 01 06 03 62"));
}

TEST(Amf3Spec, Dictionary) { // 3.16
  Value d = decode_ok(hex("11 05 01 06 03 6B 04 01 04 02 01"));
  Dictionary expect;
  expect.weak_keys = true;
  expect.entries = {{Value("k"), Value(Integer{1})}, {Value(Integer{2}), Value(Null{})}};
  EXPECT_EQ(d, Value(expect));
  EXPECT_EQ(encode_one(d), hex("11 05 01 06 03 6B 04 01 04 02 01"));
}

TEST(Amf3Spec, ExternalizableUnknownClassIsRejected) { // 3.12: U29O-traits-ext 0x07
  auto err = decode_err(cat({hex("0A 07"), vr("com.example.Custom"), hex("00 01 02")}));
  EXPECT_EQ(err, Errc::amf_externalizable);
  EXPECT_NE(err.message().find("externalizable"), std::string::npos);
}

TEST(Amf3Spec, ArrayCollectionAndObjectProxy) { // Flex externalizables with one AMF3 body
  Bytes wire = cat({hex("0A 07"), vr(kArrayCollectionClass), hex("09 05 01 04 01 04 02")});
  Value v = decode_ok(wire);
  const Object *o = v.get_if<Object>();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->class_name, kArrayCollectionClass);
  EXPECT_EQ(*v.find("source"), Value(Array{{Integer{1}, Integer{2}}, {}}));
  EXPECT_EQ(encode_one(v), wire);

  Bytes proxy = cat({hex("0A 07"), vr(kObjectProxyClass), hex("0A 0B 01 03 61 02 01")});
  Value p = decode_ok(proxy);
  EXPECT_EQ(*p.find("object"), make_object({{"a", false}}));
  EXPECT_EQ(encode_one(p), proxy);

  // A second ArrayCollection references the externalizable traits.
  auto two = decode_all(cat({wire, hex("0A 01 09 01 01")}));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(*two[1].find("source"), Value(Array{}));
}

TEST(Amf3Spec, UnknownMarkers) {
  for (std::uint8_t m : {0x12, 0x40, 0xFF})
    EXPECT_EQ(decode_err(Bytes{m}), Errc::amf_bad_marker) << int(m);
}

TEST(Amf3Spec, InsideAmf0) { // AMF0 3.1: the avmplus marker, and the AMF0 writer using it
  Value sealed = decode_ok(hex("0A 13 07 46 6F 6F 03 78 04 05"));
  Bytes amf0 = encode_amf0({sealed});
  EXPECT_EQ(amf0, hex("11 0A 13 07 46 6F 6F 03 78 04 05"));
  auto back = decode_amf0_sequence(amf0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->at(0), sealed);
}

// ---------------------------------------------------------------------------------------------
// Round trips and truncation

std::vector<Value> every_kind() {
  Object sealed;
  sealed.class_name = "com.example.Point";
  sealed.properties = {{"x", Integer{1}}, {"y", -2.5}, {"extra", "dyn"}};
  sealed.sealed_count = 2;
  sealed.dynamic = true;
  Object ac;
  ac.class_name = std::string(kArrayCollectionClass);
  ac.properties = {{"source", Value(Array{{"a", "b"}, {}})}};
  ac.sealed_count = 1;
  ac.dynamic = false;
  Dictionary dict;
  dict.entries = {{make_object({{"k", 1.0}}), Value("v")}, {Value(1.5), Value(Null{})}};
  return {
      Value(Undefined{}),
      Value(Null{}),
      Value(true),
      Value(false),
      Value(Integer{0}),
      Value(Integer{-123456}),
      Value(Integer{kAmf3IntegerMax}),
      Value(3.25),
      Value(""),
      Value("text"),
      Value(std::string(300, 's')), // two-byte U29 length
      Value(Xml{"<x/>", false}),
      Value(Xml{"<y/>", true}),
      Value(Date{1.5e12, 0}),
      Value(Array{}),
      Value(Array{{1.0, "two", Null{}}, {{"k", "v"}, {"k2", Integer{2}}}}),
      make_object({}),
      make_object({{"a", make_object({{"b", make_object({{"c", "deep"}})}})}}),
      Value(sealed),
      Value(ac),
      Value(ByteArray{}),
      Value(ByteArray{{0, 0xFF, 0x80}}),
      Value(VectorInt{true, {1, -1, 0x7FFFFFFF}}),
      Value(VectorUint{false, {}}),
      Value(VectorDouble{false, {-0.0, 1e300}}),
      Value(VectorObject{true, "com.example.T", {Value("x"), make_object({})}}),
      Value(dict),
  };
}

TEST(Amf3RoundTrip, EveryKind) {
  for (const Value &v : every_kind()) {
    Bytes enc = encode_one(v);
    auto back = decode_one(enc);
    ASSERT_TRUE(back.ok()) << to_debug_string(v) << ": " << back.error().message();
    EXPECT_EQ(*back, v) << to_debug_string(v) << " != " << to_debug_string(*back);
  }
  // All in one message: later values use string and traits references.
  std::vector<Value> twice = every_kind();
  for (const Value &v : every_kind())
    twice.push_back(v);
  Bytes enc = encode_amf3(twice);
  EXPECT_LT(enc.size(), 2 * encode_amf3(every_kind()).size());
  auto back = decode_amf3_sequence(enc);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, twice);
}

TEST(Amf3RoundTrip, AmfZeroOnlyKindsAreMapped) {
  EXPECT_EQ(decode_ok(encode_one(make_ecma_array({{"a", 1.0}}))), Value(Array{{}, {{"a", 1.0}}}));
  EXPECT_EQ(decode_ok(encode_one(Unsupported{})), Value(Undefined{}));
  EXPECT_EQ(decode_ok(encode_one(Date{5.0, 60})), Value(Date{5.0, 0}));
}

TEST(Amf3RoundTrip, InconsistentHandBuiltObjectsStillEncodeWellFormed) {
  // More sealed members claimed than there are properties: only the real ones are sealed.
  Object o;
  o.class_name = "C";
  o.properties = {{"a", 1.0}};
  o.sealed_count = 5;
  o.dynamic = false;
  Object expect = o;
  expect.sealed_count = 1;
  EXPECT_EQ(decode_ok(encode_one(o)), Value(expect));
  // Properties past the sealed ones on a non-dynamic object travel as dynamic members.
  o.properties.push_back({"b", 2.0});
  o.sealed_count = 1;
  expect = o;
  expect.dynamic = true;
  EXPECT_EQ(decode_ok(encode_one(o)), Value(expect));
  // A dynamic member with an empty name cannot be expressed (it ends the list): dropped.
  EXPECT_EQ(decode_ok(encode_one(make_object({{"", 1.0}, {"x", 2.0}}))), make_object({{"x", 2.0}}));
}

TEST(Amf3RoundTrip, ReaderAdvancesValueByValue) {
  Bytes all;
  std::vector<std::size_t> ends;
  for (const Value &v : every_kind()) {
    Bytes enc = encode_one(v); // each with fresh tables: no references between them
    all.insert(all.end(), enc.begin(), enc.end());
    ends.push_back(all.size());
  }
  Amf3Reader r(all);
  std::vector<Value> expect = every_kind();
  for (std::size_t i = 0; i < expect.size(); ++i) {
    auto v = r.read();
    ASSERT_TRUE(v.ok()) << i << ": " << v.error().message();
    EXPECT_EQ(r.position(), ends[i]);
    EXPECT_EQ(*v, expect[i]);
  }
  EXPECT_TRUE(r.at_end());
}

TEST(Amf3Truncated, EveryPrefixOfEveryValue) {
  std::vector<Bytes> inputs;
  for (const Value &v : every_kind())
    inputs.push_back(encode_one(v));
  inputs.push_back(hex("09 05 01  0A 0B 01 03 61 04 01 01  0A 02"));
  inputs.push_back(cat({hex("0A 07"), vr(kObjectProxyClass), hex("0A 0B 01 03 61 02 01")}));
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

// ---------------------------------------------------------------------------------------------
// Hostile input and limits

TEST(Amf3Hostile, DeepNestingIsALimitNotACrash) {
  for (const char *level : {"09 03 01", "0A 0B 01 03 61", "10 03 00 01", "11 03 00 04 01"}) {
    Bytes one = hex(level), b;
    for (int i = 0; i < 10000; ++i)
      b.insert(b.end(), one.begin(), one.end());
    EXPECT_EQ(decode_err(b), Errc::limit_exceeded) << level;
  }
}

TEST(Amf3Hostile, DepthCeilingHoldsWhateverTheCallerAsks) {
  Bytes b;
  for (int i = 0; i < 100000; ++i)
    b.insert(b.end(), {0x09, 0x03, 0x01});
  DecodeLimits limits;
  limits.max_depth = static_cast<std::size_t>(-1);
  EXPECT_EQ(decode_err(b, limits), Errc::limit_exceeded);
}

TEST(Amf3Hostile, DepthLimitAppliesToCopies) {
  // [ [ [ null ] ], ref 1 ] at max_depth 3 is fine; the same copy one level deeper is not.
  DecodeLimits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(decode_one(hex("09 05 01  09 03 01 09 03 01 01  09 02"), limits).ok());
  EXPECT_EQ(decode_err(hex("09 05 01  09 03 01 09 03 01 01  09 03 01 09 02"), limits),
            Errc::limit_exceeded);
}

TEST(Amf3Hostile, ReferenceAmplificationIsCounted) {
  // Level k is an array of 16 references to level k-1: 16^8 nodes from ~150 bytes.
  Bytes b = hex("09 13 01  09 01 01"); // outer array (object 0) of 9; level 0 = [] (object 1)
  for (int level = 1; level <= 8; ++level) {
    b.insert(b.end(), {0x09, 0x21, 0x01}); // 16 dense, no associative part
    for (int i = 0; i < 16; ++i)
      b.insert(b.end(), {0x09, static_cast<std::uint8_t>(level << 1)});
  }
  EXPECT_LT(b.size(), 300u);
  EXPECT_EQ(decode_err(b), Errc::limit_exceeded);
}

TEST(Amf3Hostile, StringReferenceAmplificationIsCounted) {
  // A 1 MiB string then 100 references to it: 100 MiB of copies from ~1 MiB of input.
  std::size_t len = 1 << 20;
  std::uint32_t u = static_cast<std::uint32_t>(len << 1 | 1);
  Bytes b = hex("09 81 4B 01"); // array of 101 (U29 0x81 0x4B = 203 = 101 << 1 | 1)
  b.insert(b.end(), {0x06, static_cast<std::uint8_t>(u >> 22 | 0x80),
                     static_cast<std::uint8_t>(u >> 15 | 0x80),
                     static_cast<std::uint8_t>(u >> 8 | 0x80), static_cast<std::uint8_t>(u)});
  b.insert(b.end(), len, 'x');
  for (int i = 0; i < 100; ++i)
    b.insert(b.end(), {0x06, 0x00});
  EXPECT_EQ(decode_err(b), Errc::limit_exceeded);
  DecodeLimits roomy;
  roomy.max_total_bytes = 101u << 20;
  EXPECT_TRUE(decode_one(b, roomy).ok());
}

TEST(Amf3Hostile, VectorCopiesCountAsNodes) {
  // [ Vector.<int> of 4, ref 1, ref 1 ]: 1 + 3 x (1 + 4) = 16 nodes.
  Bytes b = hex("09 07 01  0D 09 00 00000001 00000002 00000003 00000004  0D 02  0D 02");
  test::expect_exact_limit<Amf3Reader>(b, &DecodeLimits::max_nodes, 16);
}

TEST(Amf3Hostile, HugeCountsFailBeforeAllocating) {
  // Beyond our limits (2^28 - 1 is the largest U29 count).
  EXPECT_EQ(decode_err(hex("09 FF FF FF FF 01")), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("06 FF FF FF FF 61")), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0D FF FF FF FF 00")), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0A FF FF FF FB 01")), Errc::limit_exceeded); // 2^25-1 sealed
  // Within limits but longer than the input: truncated, at once.
  DecodeLimits big;
  big.max_items = 1u << 30;
  big.max_string_bytes = 1u << 30;
  EXPECT_EQ(decode_err(hex("09 FF FF FF FF 01"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("06 FF FF FF FF 61"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("0C FF FF FF FF 61"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("0D FF FF FF FF 00 00 00 00 01"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("0F 81 01 00"), big), Errc::truncated); // 64 doubles, none there
  EXPECT_EQ(decode_err(hex("11 FF FF FF FF 00 01 01"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("10 FF FF FF FF 00 01 01"), big), Errc::truncated);
  EXPECT_EQ(decode_err(hex("0A FF FF FF FB 01"), big), Errc::truncated);
}

TEST(Amf3Hostile, ItemLimits) {
  DecodeLimits limits;
  limits.max_items = 2;
  EXPECT_TRUE(decode_one(hex("09 05 01 01 01"), limits).ok());
  EXPECT_EQ(decode_err(hex("09 07 01 01 01 01"), limits), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("09 01 03 61 01 03 62 01 03 63 01 01"), limits), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0A 0B 01 03 61 01 03 62 01 03 63 01 01"), limits),
            Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0D 07 00 00000001 00000002 00000003"), limits), Errc::limit_exceeded);
}

TEST(Amf3Hostile, StringLimit) {
  DecodeLimits limits;
  limits.max_string_bytes = 2;
  EXPECT_TRUE(decode_one(hex("06 05 61 62"), limits).ok());
  EXPECT_EQ(decode_err(hex("06 07 61 62 63"), limits), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0C 07 61 62 63"), limits), Errc::limit_exceeded);
  EXPECT_EQ(decode_err(hex("0B 07 61 62 63"), limits), Errc::limit_exceeded);
}

TEST(Amf3Hostile, ErrorsAreSticky) {
  test::expect_sticky_error<Amf3Reader>(hex("12 01"), Errc::amf_bad_marker);
}

} // namespace
