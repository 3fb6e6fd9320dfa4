// Shared object messages (RTMP 1.0 section 7.1.3), types 19 (AMF0) and 16 (AMF3).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf0.hpp"
#include "core/shared_object.hpp"

#include "test_hex.hpp"

namespace rtmp {
namespace {

using test::hex;

Message so_msg(Bytes payload, MessageType t = MessageType::shared_object_amf0) {
  Message m;
  m.type = static_cast<std::uint8_t>(t);
  m.payload = std::move(payload);
  return m;
}

// Section 7.1.3: a persistent object "chat", version 3, from the server: Use Success, Clear,
// Change {msg: "hi"}, Success "msg", SendMessage ("onMsg", 1), Status (code, level), Remove
// "old".
const Bytes kServerUpdate = hex("0004 63686174"                       // name "chat"
                                "00000003"                            // version 3
                                "00000002"                            // flags: persistent
                                "00000000"                            // reserved
                                "0b 00000000"                         // Use Success, no data
                                "08 00000000"                         // Clear
                                "04 0000000a 0003 6d7367 020002 6869" // Change msg="hi"
                                "05 00000005 0003 6d7367"             // Success "msg"
                                "06 00000011 020005 6f6e4d7367 00 3ff0000000000000" // onMsg 1
                                "07 0000000d 0004 62616421 0005 6572726f72" // "bad!" "error"
                                "09 00000005 0003 6f6c64");                 // Remove "old"

SharedObjectMessage server_update() {
  SharedObjectMessage so;
  so.name = "chat";
  so.version = 3;
  so.persistent = true;
  SharedObjectEvent e;
  e.type = SharedObjectEventType::use_success;
  so.events.push_back(e);
  e.type = SharedObjectEventType::clear;
  so.events.push_back(e);
  SharedObjectEvent change;
  change.type = SharedObjectEventType::change;
  change.changes = {{"msg", amf::Value("hi")}};
  so.events.push_back(change);
  SharedObjectEvent success;
  success.type = SharedObjectEventType::success;
  success.key = "msg";
  so.events.push_back(success);
  SharedObjectEvent send;
  send.type = SharedObjectEventType::send_message;
  send.message = {amf::Value("onMsg"), amf::Value(1.0)};
  so.events.push_back(send);
  SharedObjectEvent status;
  status.type = SharedObjectEventType::status;
  status.code = "bad!";
  status.level = "error";
  so.events.push_back(status);
  SharedObjectEvent remove;
  remove.type = SharedObjectEventType::remove;
  remove.key = "old";
  so.events.push_back(remove);
  return so;
}

TEST(SharedObject, DecodesServerUpdate) {
  auto so = decode_shared_object(so_msg(kServerUpdate));
  ASSERT_TRUE(so) << so.error().message();
  EXPECT_EQ(*so, server_update());
}

TEST(SharedObject, EncodesServerUpdate) {
  Message m = encode_shared_object(server_update(), 0);
  EXPECT_EQ(m.type, 19);
  EXPECT_EQ(m.payload, kServerUpdate);
}

TEST(SharedObject, AllElevenEventTypesRoundTrip) {
  SharedObjectMessage so;
  so.name = "room/1";
  so.version = 0xFFFFFFFFu;
  for (std::uint8_t t = 1; t <= 11; ++t) {
    SharedObjectEvent e;
    e.type = static_cast<SharedObjectEventType>(t);
    switch (e.type) {
    case SharedObjectEventType::request_change:
    case SharedObjectEventType::change:
      e.changes = {{"a", amf::Value(1.5)},
                   {"b", amf::make_object({{"x", amf::Value(true)}})},
                   {"c", amf::Null{}}};
      break;
    case SharedObjectEventType::success:
    case SharedObjectEventType::remove:
    case SharedObjectEventType::request_remove:
      e.key = "slot";
      break;
    case SharedObjectEventType::send_message:
      e.message = {amf::Value("handler"), amf::Value("arg")};
      break;
    case SharedObjectEventType::status:
      e.code = "SharedObject.BadPersistence";
      e.level = "error";
      break;
    default:
      break;
    }
    EXPECT_NE(to_string(e.type), "Unknown");
    so.events.push_back(e);
  }
  for (bool amf3 : {false, true}) {
    Message m = encode_shared_object(so, 0, amf3);
    EXPECT_EQ(m.type, amf3 ? 16 : 19);
    if (amf3) {
      EXPECT_EQ(m.payload[0], 0x00);
    }
    auto back = decode_shared_object(m);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, so) << "amf3=" << amf3;
  }
}

TEST(SharedObject, Amf3ValuesAfterAvmplusSwitch) {
  SharedObjectMessage so;
  so.name = "s";
  SharedObjectEvent e;
  e.type = SharedObjectEventType::change;
  e.changes = {{"n", amf::Value(amf::Integer{5})}, {"b", amf::Value(amf::ByteArray{{9, 8}})}};
  so.events.push_back(e);
  Message m = encode_shared_object(so, 0, true);
  auto back = decode_shared_object(m);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, so);
}

TEST(SharedObject, Rejections) {
  auto err = [](Bytes b, MessageType t = MessageType::shared_object_amf0) {
    return decode_shared_object(so_msg(std::move(b), t)).error();
  };
  EXPECT_EQ(err(kServerUpdate, MessageType::command_amf0), make_error_code(Errc::unsupported));
  // unknown event type 12 and 0
  EXPECT_EQ(err(hex("0001 61 00000000 00000000 00000000 0c 00000000")),
            make_error_code(Errc::malformed));
  EXPECT_EQ(err(hex("0001 61 00000000 00000000 00000000 00 00000000")),
            make_error_code(Errc::malformed));
  // Use with data
  EXPECT_EQ(err(hex("0001 61 00000000 00000000 00000000 01 00000001 05")),
            make_error_code(Errc::malformed));
  // Remove with bytes after the slot name
  EXPECT_EQ(err(hex("0001 61 00000000 00000000 00000000 09 00000004 0001 61 05")),
            make_error_code(Errc::malformed));
  // event length beyond the payload
  EXPECT_EQ(err(hex("0001 61 00000000 00000000 00000000 01 ffffffff")),
            make_error_code(Errc::truncated));
  // type 16 with a non-zero format byte
  EXPECT_EQ(err(hex("01 0001 61 00000000 00000000 00000000"), MessageType::shared_object_amf3),
            make_error_code(Errc::malformed));
}

TEST(SharedObject, Limits) {
  SharedObjectMessage so;
  so.name = std::string(kMaxSharedObjectNameLength, 'n');
  EXPECT_TRUE(decode_shared_object(encode_shared_object(so)));
  so.name.push_back('n');
  EXPECT_EQ(decode_shared_object(encode_shared_object(so)).error(),
            make_error_code(Errc::limit_exceeded));

  SharedObjectMessage many;
  many.name = "m";
  many.events.resize(kMaxSharedObjectEvents);
  EXPECT_TRUE(decode_shared_object(encode_shared_object(many)));
  many.events.emplace_back();
  EXPECT_EQ(decode_shared_object(encode_shared_object(many)).error(),
            make_error_code(Errc::limit_exceeded));

  SharedObjectMessage pairs;
  pairs.name = "p";
  SharedObjectEvent e;
  e.type = SharedObjectEventType::change;
  e.changes.assign(kMaxSharedObjectPairs + 1, {"k", amf::Null{}});
  pairs.events.push_back(e);
  EXPECT_EQ(decode_shared_object(encode_shared_object(pairs)).error(),
            make_error_code(Errc::limit_exceeded));

  SharedObjectMessage msgs;
  msgs.name = "s";
  SharedObjectEvent send;
  send.type = SharedObjectEventType::send_message;
  send.message.assign(kMaxSharedObjectMessageValues + 1, amf::Null{});
  msgs.events.push_back(send);
  EXPECT_EQ(decode_shared_object(encode_shared_object(msgs)).error(),
            make_error_code(Errc::limit_exceeded));

  // AMF limits reach the values.
  SharedObjectMessage deep;
  deep.name = "d";
  amf::Value v = amf::make_object({});
  for (int i = 0; i < 50; ++i)
    v = amf::make_object({{"a", v}});
  SharedObjectEvent ch;
  ch.type = SharedObjectEventType::change;
  ch.changes = {{"deep", v}};
  deep.events.push_back(ch);
  amf::DecodeLimits limits;
  limits.max_depth = 8;
  EXPECT_EQ(decode_shared_object(encode_shared_object(deep), limits).error(),
            make_error_code(Errc::limit_exceeded));
}

// Every proper prefix ends inside the header or an event: never a message.
TEST(SharedObject, TruncatedAtEveryOffset) {
  std::size_t header = 2 + 4 + 12;
  for (std::size_t n = 0; n < kServerUpdate.size(); ++n) {
    Bytes cut(kServerUpdate.begin(), kServerUpdate.begin() + n);
    auto so = decode_shared_object(so_msg(cut));
    // Prefixes ending exactly at an event boundary are complete messages with fewer events.
    bool boundary = n == header || n == header + 5 || n == header + 10 || n == header + 25 ||
                    n == header + 35 || n == header + 57 || n == header + 75;
    EXPECT_EQ(static_cast<bool>(so), boundary) << n;
    if (!boundary) {
      EXPECT_EQ(so.error(), make_error_code(Errc::truncated)) << n;
    }
  }
}

// Growing the payload one byte at a time yields a message exactly at the event boundaries,
// with one more event each time.
TEST(SharedObject, ByteAtATime) {
  Message m = so_msg({});
  std::vector<std::size_t> counts;
  for (std::uint8_t b : kServerUpdate) {
    m.payload.push_back(b);
    if (auto so = decode_shared_object(m))
      counts.push_back(so->events.size());
  }
  EXPECT_EQ(counts, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(SharedObject, GarbageAtEveryOffset) {
  for (std::size_t i = 0; i < kServerUpdate.size(); ++i)
    for (std::uint8_t v : {0x00, 0x11, 0x80, 0xff}) {
      Bytes b = kServerUpdate;
      b[i] = v;
      (void)decode_shared_object(so_msg(b));
    }
}

} // namespace
} // namespace rtmp
