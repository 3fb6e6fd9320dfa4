// Command and data message codec (RTMP 1.0 sections 7.1.1, 7.1.2, 7.2). The byte tables are
// payloads captured between FFmpeg 5.1 and nginx-rtmp (tests/data/transcripts, extracted with
// the chunk layer) and hand-built AMF3 (type 17) payloads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf0.hpp"
#include "core/command.hpp"

#include "test_hex.hpp"

namespace rtmp {
namespace {

using test::hex;

Message msg(MessageType t, Bytes payload, std::uint32_t stream_id = 0) {
  Message m;
  m.type = static_cast<std::uint8_t>(t);
  m.stream_id = stream_id;
  m.payload = std::move(payload);
  return m;
}

// RTMP 1.0 section 7.2.1.1: connect as FFmpeg 5.1 sends it when publishing to
// rtmp://127.0.0.1:40339/live/test (type "nonprivate", FMLE flashVer, no player fields).
const Bytes kFfmpegPublishConnect =
    hex("020007636f6e6e656374"                    // "connect"
        "003ff0000000000000"                      // transaction id 1
        "03"                                      // command object
        "0003617070 0200046c697665"               // app: "live"
        "000474797065 02000a6e6f6e70726976617465" // type: "nonprivate"
        "0008666c61736856657202002446 4d4c452f332e302028636f6d70617469626c653b204c61766635392e3237"
        "2e31303029" // flashVer: "FMLE/3.0 (compatible; Lavf59.27.100)"
        "0005746355726c02001b72746d703a2f2f3132372e302e302e313a34303333392f6c697665" // tcUrl
        "000009");                                                                   // object end

// RTMP 1.0 section 7.2.1.1: connect as FFmpeg sends it when playing (player capabilities).
const Bytes kFfmpegPlayConnect =
    hex("020007636f6e6e656374003ff000000000000003"
        "00036170700200046c697665"
        "0008666c61736856657202000d4c4e5820392c302c3132342c32" // "LNX 9,0,124,2"
        "0005746355726c02001b72746d703a2f2f3132372e302e302e313a34353037372f6c697665"
        "000466706164 0100"                                 // fpad: false
        "000c6361706162696c6974696573 00402e000000000000"   // capabilities: 15
        "000b617564696f436f64656373 0040afce0000000000"     // audioCodecs: 4071
        "000b766964656f436f64656373 00406f800000000000"     // videoCodecs: 252
        "000d766964656f46756e6374696f6e 003ff0000000000000" // videoFunction: 1
        "000009");

// nginx-rtmp's _result to connect (section 7.2.1.1): properties, information.
const Bytes kNginxConnectResult =
    hex("0200075f726573756c74003ff0000000000000"
        "030006666d7356657202000d464d532f332c302c312c313233"   // fmsVer
        "000c6361706162696c697469657300403f000000000000000009" // capabilities 31
        "030005"
        "6c6576656c020006737461747573" // level status
        "0004636f646502001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373"
        "000b6465736372697074696f6e020015436f6e6e656374696f6e207375636365656465642e"
        "000e6f626a656374456e636f64696e67000000000000000000" // objectEncoding 0
        "000009");

// Section 7.2.1.3: createStream, transaction 4, null; and its _result with stream id 1.
const Bytes kCreateStream = hex("02000c63726561746553747265616d 004010000000000000 05");
const Bytes kCreateStreamResult = hex("0200075f726573756c74 004010000000000000 05"
                                      "003ff0000000000000");
// FFmpeg's publish sequence (transactions 2, 3, 5) and teardown (6, 7).
const Bytes kReleaseStream =
    hex("02000d72656c6561736553747265616d 004000000000000000 05 02000474657374");
const Bytes kFcPublish = hex("02000946435075626c697368 004008000000000000 05 02000474657374");
const Bytes kPublish =
    hex("0200077075626c697368 004014000000000000 05 02000474657374 0200046c697665");
const Bytes kFcUnpublish = hex("02000b4643556e7075626c697368 004018000000000000 05 02000474657374");
const Bytes kDeleteStream =
    hex("02000c64656c65746553747265616d 00401c000000000000 05 003ff0000000000000");
// Section 7.2.2.1: FFmpeg's play: name "test", start -2000 (its "live" option times 1000).
const Bytes kPlay = hex("020004706c6179 004010000000000000 05 02000474657374 00c09f400000000000");
// Section 7.2.2: onStatus NetStream.Publish.Start from nginx-rtmp.
const Bytes kOnStatusPublishStart =
    hex("0200086f6e537461747573 000000000000000000 05 03"
        "00056c6576656c020006737461747573"
        "0004636f64650200174e657453747265616d2e5075626c6973682e5374617274"
        "000b6465736372697074696f6e0200105374617274207075626c697368696e67"
        "000009");
// Section 7.1.2 / FLV spec 10.1 E.5: "|RtmpSampleAccess" true true (nginx-rtmp, type 18).
const Bytes kSampleAccess = hex("0200117c52746d7053616d706c65416363657373 0101 0101");

TEST(Command, DecodesFfmpegPublishConnect) {
  auto c = decode_command(msg(MessageType::command_amf0, kFfmpegPublishConnect));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->name, "connect");
  EXPECT_EQ(c->transaction_id, 1);
  EXPECT_TRUE(c->arguments.empty());
  auto p = parse_connect(*c);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->app, "live");
  EXPECT_EQ(p->type, std::optional<std::string>("nonprivate"));
  EXPECT_EQ(p->flash_ver, "FMLE/3.0 (compatible; Lavf59.27.100)");
  EXPECT_EQ(p->tc_url, "rtmp://127.0.0.1:40339/live");
  EXPECT_FALSE(p->fpad);
  EXPECT_FALSE(p->capabilities);
  EXPECT_TRUE(p->extra_properties.empty());
}

TEST(Command, EncodesConnectLikeFfmpeg) {
  auto publish = ConnectParams::for_publish("live", "rtmp://127.0.0.1:40339/live");
  publish.flash_ver = "FMLE/3.0 (compatible; Lavf59.27.100)";
  EXPECT_EQ(encode_command(make_connect(publish), 0).payload, kFfmpegPublishConnect);

  auto play = ConnectParams::for_play("live", "rtmp://127.0.0.1:45077/live");
  Message m = encode_command(make_connect(play), 0);
  EXPECT_EQ(m.payload, kFfmpegPlayConnect);
  EXPECT_EQ(m.type, static_cast<std::uint8_t>(MessageType::command_amf0));
  EXPECT_EQ(m.chunk_stream_id, csid::command);
  EXPECT_EQ(m.stream_id, 0u);
}

TEST(Command, ParseConnectReadsPlayerFieldsAndExtras) {
  auto play = ConnectParams::for_play("app/inst", "rtmp://h/app/inst");
  play.page_url = "http://example.com/";
  play.object_encoding = 3;
  play.fourcc_list = {"av01", "hvc1"};
  play.extra_properties = {{"custom", amf::Value("x")}};
  play.extra_arguments = {amf::Value("token"), amf::Value(true)};
  auto decoded = decode_command(encode_command(make_connect(play), 0));
  ASSERT_TRUE(decoded);
  auto p = parse_connect(*decoded);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->app, "app/inst");
  EXPECT_EQ(p->fpad, std::optional<bool>(false));
  EXPECT_EQ(p->capabilities, std::optional<double>(15));
  EXPECT_EQ(p->audio_codecs, std::optional<double>(4071));
  EXPECT_EQ(p->video_codecs, std::optional<double>(252));
  EXPECT_EQ(p->video_function, std::optional<double>(1));
  EXPECT_EQ(p->page_url, std::optional<std::string>("http://example.com/"));
  EXPECT_EQ(p->object_encoding, std::optional<double>(3));
  EXPECT_EQ(p->fourcc_list, (std::vector<std::string>{"av01", "hvc1"}));
  ASSERT_EQ(p->extra_properties.size(), 1u);
  EXPECT_EQ(p->extra_properties[0].first, "custom");
  EXPECT_EQ(p->extra_arguments.size(), 2u);

  Command not_connect = make_create_stream(2);
  EXPECT_EQ(parse_connect(not_connect).error(), make_error_code(Errc::malformed));
  Command no_app = make_connect(play);
  no_app.command_object = amf::make_object({{"tcUrl", amf::Value("x")}});
  EXPECT_EQ(parse_connect(no_app).error(), make_error_code(Errc::malformed));
}

TEST(Command, DecodesNginxConnectResult) {
  auto c = decode_command(msg(MessageType::command_amf0, kNginxConnectResult));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "_result");
  EXPECT_EQ(c->transaction_id, 1);
  EXPECT_EQ(c->command_object.string_at("fmsVer"), "FMS/3,0,1,123");
  EXPECT_EQ(c->command_object.number_at("capabilities"), 31);
  ASSERT_EQ(c->arguments.size(), 1u);
  auto s = status_from(c->arguments[0]);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->level, "status");
  EXPECT_EQ(s->code, status::connect_success);
  EXPECT_EQ(s->description, "Connection succeeded.");
  EXPECT_FALSE(s->is_error());
  EXPECT_EQ(s->object.number_at("objectEncoding"), 0);
}

TEST(Command, ConnectResultHasFmsShape) {
  ConnectResult r;
  r.object_encoding = 3;
  auto c = decode_command(encode_command(make_connect_result(1, r), 0));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "_result");
  EXPECT_EQ(c->command_object.string_at("fmsVer"), "FMS/3,5,7,7009");
  EXPECT_EQ(c->command_object.number_at("capabilities"), 31);
  EXPECT_EQ(c->command_object.number_at("mode"), 1);
  ASSERT_EQ(c->arguments.size(), 1u);
  const amf::Value &info = c->arguments[0];
  EXPECT_EQ(info.string_at("code"), "NetConnection.Connect.Success");
  EXPECT_EQ(info.number_at("objectEncoding"), 3);
  const amf::Value *data = info.find("data");
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->is<amf::EcmaArray>());
  EXPECT_EQ(data->string_at("version"), "3,5,7,7009");
}

TEST(Command, StreamCommandsMatchFfmpegBytes) {
  EXPECT_EQ(encode_command(make_create_stream(4), 0).payload, kCreateStream);
  EXPECT_EQ(encode_command(make_create_stream_result(4, 1), 0).payload, kCreateStreamResult);
  EXPECT_EQ(encode_command(make_release_stream(2, "test"), 0).payload, kReleaseStream);
  EXPECT_EQ(encode_command(make_fc_publish(3, "test"), 0).payload, kFcPublish);
  EXPECT_EQ(encode_command(make_publish(5, "test", PublishType::live), 1).payload, kPublish);
  EXPECT_EQ(encode_command(make_fc_unpublish(6, "test"), 0).payload, kFcUnpublish);
  EXPECT_EQ(encode_command(make_delete_stream(7, 1), 0).payload, kDeleteStream);
  EXPECT_EQ(encode_command(make_play(4, {"test", -2000, {}, {}}), 1).payload, kPlay);
  EXPECT_EQ(encode_command(make_on_status(make_status_object("status", status::publish_start,
                                                             "Start publishing")),
                           1)
                .payload,
            kOnStatusPublishStart);
}

TEST(Command, CreatedStreamId) {
  auto c = decode_command(msg(MessageType::command_amf0, kCreateStreamResult));
  ASSERT_TRUE(c);
  EXPECT_EQ(created_stream_id(*c), std::optional<std::uint32_t>(1));
  EXPECT_EQ(created_stream_id(make_create_stream_result(2, 0xFFFFFFFFu)),
            std::optional<std::uint32_t>(0xFFFFFFFFu));
  for (double bad : {-1.0, 1.5, 4294967296.0, std::nan("")}) {
    Command r = make_result(2, amf::Null{}, amf::Value(bad));
    EXPECT_FALSE(created_stream_id(r)) << bad;
  }
  EXPECT_FALSE(created_stream_id(make_result(2, amf::Null{}, amf::Value("1"))));
  Command err = make_create_stream_result(2, 1);
  err.name = "_error";
  EXPECT_FALSE(created_stream_id(err));
}

TEST(Command, PlayParsesBack) {
  auto c = decode_command(msg(MessageType::command_amf0, kPlay, 1));
  ASSERT_TRUE(c);
  auto p = parse_play(*c);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stream_name, "test");
  EXPECT_EQ(p->start, -2000);
  EXPECT_FALSE(p->duration);
  EXPECT_FALSE(p->reset);

  // reset needs a duration before it: -1 is filled in (section 7.2.2.1).
  Command full = make_play(0, {"s", 0, {}, false});
  ASSERT_EQ(full.arguments.size(), 4u);
  EXPECT_EQ(full.arguments[2], amf::Value(-1.0));
  auto back = parse_play(full);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->duration, std::optional<double>(-1));
  EXPECT_EQ(back->reset, std::optional<bool>(false));
  EXPECT_FALSE(parse_play(make_play2(0, amf::Null{})));
}

TEST(Command, PublishTypeNames) {
  for (auto t : {PublishType::live, PublishType::record, PublishType::append})
    EXPECT_EQ(publish_type_from(to_string(t)), t);
  EXPECT_FALSE(publish_type_from("LIVE"));
  EXPECT_EQ(make_publish(0, "x", PublishType::append).arguments[1], amf::Value("append"));
}

TEST(Command, StatusFrom) {
  EXPECT_FALSE(status_from(amf::Value("NetStream.Play.Start")));
  EXPECT_FALSE(status_from(amf::make_object({{"level", amf::Value("status")}})));
  auto s = status_from(
      amf::make_ecma_array({{"code", amf::Value(std::string(status::play_stream_not_found))},
                            {"level", amf::Value("error")}}));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->is_error());
  EXPECT_EQ(s->description, "");

  StatusInfo info;
  info.level = "status";
  info.code = std::string(status::play_start);
  info.description = "Started playing test.";
  info.object = amf::make_object({{"code", amf::Value("old")}, {"details", amf::Value("test")}});
  Command c = make_on_status(info);
  ASSERT_EQ(c.arguments.size(), 1u);
  auto back = status_from(c.arguments[0]);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->code, status::play_start); // the fields win over the stale object
  EXPECT_EQ(back->object.string_at("details"), "test");
}

TEST(Command, OtherBuilders) {
  struct Case {
    Command c;
    std::string name;
    double txn;
    std::size_t args;
  };
  std::vector<Case> cases = {
      {make_fc_subscribe(3, "s"), "FCSubscribe", 3, 1},
      {make_on_fc_publish("s"), "onFCPublish", 0, 1},
      {make_on_fc_unpublish("s"), "onFCUnpublish", 0, 1},
      {make_close_stream(), "closeStream", 0, 0},
      {make_receive_audio(false), "receiveAudio", 0, 1},
      {make_receive_video(true), "receiveVideo", 0, 1},
      {make_seek(0, 1500), "seek", 0, 1},
      {make_pause(0, true, 1500), "pause", 0, 2},
      {make_get_stream_length(3, "s"), "getStreamLength", 3, 1},
      {make_on_bw_done(), "onBWDone", 0, 0},
      {make_check_bw(5), "_checkbw", 5, 0},
      {make_call("myMethod", 9, {amf::Value(1), amf::Value("a")}), "myMethod", 9, 2},
      {make_close(), "close", 0, 0},
      {make_play2(0, amf::make_object({{"streamName", amf::Value("s")}})), "play2", 0, 1},
      {make_connect_rejected(1, "nope"), "_error", 1, 1},
  };
  for (const auto &k : cases) {
    EXPECT_EQ(k.c.name, k.name);
    EXPECT_EQ(k.c.transaction_id, k.txn) << k.name;
    EXPECT_EQ(k.c.arguments.size(), k.args) << k.name;
    EXPECT_TRUE(k.c.command_object.is<amf::Null>()) << k.name;
    auto back = decode_command(encode_command(k.c, 1));
    ASSERT_TRUE(back) << k.name;
    EXPECT_EQ(*back, k.c) << k.name;
  }
  auto rejected = status_from(make_connect_rejected(1, "nope").arguments[0]);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->code, status::connect_rejected);
  EXPECT_TRUE(rejected->is_error());
  EXPECT_EQ(make_on_fc_publish("s").arguments[0].string_at("code"), status::publish_start);
  EXPECT_EQ(make_pause(0, true, 1500).arguments[0], amf::Value(true));
}

// Round trip of every command shape in both encodings (type 20 and type 17).
TEST(Command, RoundTripAmf0AndAmf3) {
  std::vector<Command> all = {
      make_connect(ConnectParams::for_play("a", "rtmp://h/a")),
      make_connect(ConnectParams::for_publish("a", "rtmp://h/a")),
      make_connect_result(1),
      make_create_stream(2),
      make_create_stream_result(2, 1),
      make_publish(3, "k", PublishType::record),
      make_play(3, {"k", -1, 10, true}),
      make_on_status(make_status_object("error", status::publish_bad_name, "bad",
                                        {{"details", amf::Value("k")}})),
      make_call("x", 4, {amf::Value(amf::Integer{7}), amf::Value(amf::ByteArray{{1, 2, 3}})}),
  };
  for (const auto &c : all) {
    for (bool amf3 : {false, true}) {
      Message m = encode_command(c, 5, amf3);
      EXPECT_EQ(m.type, amf3 ? 17 : 20);
      EXPECT_EQ(m.stream_id, 5u);
      if (amf3) {
        ASSERT_FALSE(m.payload.empty());
        EXPECT_EQ(m.payload[0], 0x00); // section 7.1.1 format byte
      }
      auto back = decode_command(m);
      ASSERT_TRUE(back) << c.name << " amf3=" << amf3 << ": " << back.error().message();
      if (!amf3 && c.name == "x") {
        // AMF0 has no integer or byte array: they come back as what AMF0 made of them.
        EXPECT_EQ(back->arguments.size(), 2u);
        continue;
      }
      EXPECT_EQ(*back, c) << c.name << " amf3=" << amf3;
    }
  }
}

// Section 7.1.1 type 17: 0x00 format byte, AMF0 values, 0x11 switching one value to AMF3.
TEST(Command, DecodesAmf3CommandWithAvmplusSwitch) {
  const Bytes payload = hex("00"                 // format byte
                            "0200046361 6c6c"    // AMF0 string "call"
                            "004000000000000000" // AMF0 number 2
                            "05"                 // AMF0 null
                            "11 04 7f"           // avmplus switch, AMF3 integer 127
                            "11 06 0561 62"      // avmplus switch, AMF3 string "ab"
                            "0101");             // AMF0 boolean true
  auto c = decode_command(msg(MessageType::command_amf3, payload));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->name, "call");
  EXPECT_EQ(c->transaction_id, 2);
  EXPECT_TRUE(c->command_object.is<amf::Null>());
  ASSERT_EQ(c->arguments.size(), 3u);
  EXPECT_EQ(c->arguments[0].as_number(), 127);
  EXPECT_EQ(c->arguments[1], amf::Value("ab"));
  EXPECT_EQ(c->arguments[2], amf::Value(true));

  // The same values without the format byte are accepted too.
  Bytes no_prefix(payload.begin() + 1, payload.end());
  auto c2 = decode_command(msg(MessageType::command_amf3, no_prefix));
  ASSERT_TRUE(c2);
  EXPECT_EQ(*c2, *c);
}

TEST(Command, ShortCommandsDefaultTheMissingFields) {
  // "onBWDone" alone: transaction 0, null command object.
  auto c = decode_command(msg(MessageType::command_amf0, hex("0200086f6e4257446f6e65")));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "onBWDone");
  EXPECT_EQ(c->transaction_id, 0);
  EXPECT_TRUE(c->command_object.is<amf::Null>());
}

TEST(Command, RejectsWrongShapes) {
  auto err = [](MessageType t, const Bytes &b) { return decode_command(msg(t, b)).error(); };
  EXPECT_EQ(err(MessageType::data_amf0, kCreateStream), make_error_code(Errc::unsupported));
  EXPECT_EQ(err(MessageType::video, kCreateStream), make_error_code(Errc::unsupported));
  EXPECT_EQ(err(MessageType::command_amf0, {}), make_error_code(Errc::truncated));
  EXPECT_EQ(err(MessageType::command_amf3, hex("00")), make_error_code(Errc::truncated));
  // name is a number
  EXPECT_EQ(err(MessageType::command_amf0, hex("003ff0000000000000")),
            make_error_code(Errc::malformed));
  // transaction id is a string
  EXPECT_EQ(err(MessageType::command_amf0, hex("02000161 02000162")),
            make_error_code(Errc::malformed));
  // unknown AMF0 marker 0x42 after the name
  EXPECT_FALSE(decode_command(msg(MessageType::command_amf0, hex("02000161 42"))));
}

TEST(Command, LimitsAreTypedErrors) {
  Command long_name = make_call(std::string(kMaxCommandNameLength + 1, 'x'), 1);
  EXPECT_EQ(decode_command(encode_command(long_name, 0)).error(),
            make_error_code(Errc::limit_exceeded));
  Command ok_name = make_call(std::string(kMaxCommandNameLength, 'x'), 1);
  EXPECT_TRUE(decode_command(encode_command(ok_name, 0)));

  Command many = make_call("x", 1, std::vector<amf::Value>(kMaxCommandArguments, amf::Null{}));
  EXPECT_TRUE(decode_command(encode_command(many, 0)));
  many.arguments.push_back(amf::Null{});
  EXPECT_EQ(decode_command(encode_command(many, 0)).error(), make_error_code(Errc::limit_exceeded));

  // Nesting beyond the AMF depth limit inside the command object.
  amf::Value deep = amf::make_object({});
  for (int i = 0; i < 200; ++i)
    deep = amf::make_object({{"a", deep}});
  Command nested = make_call("x", 1);
  nested.command_object = deep;
  amf::DecodeLimits limits;
  limits.max_depth = 16;
  auto r = decode_command(encode_command(nested, 0), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::limit_exceeded));
}

// Every proper prefix of a real connect fails, except the two that end exactly after a whole
// value (name; name + transaction id), which decode as shorter commands.
TEST(Command, TruncatedAtEveryOffset) {
  for (std::size_t n = 0; n < kFfmpegPublishConnect.size(); ++n) {
    Bytes cut(kFfmpegPublishConnect.begin(), kFfmpegPublishConnect.begin() + n);
    auto c = decode_command(msg(MessageType::command_amf0, cut));
    if (n == 10 || n == 19) {
      ASSERT_TRUE(c) << n;
      EXPECT_EQ(c->name, "connect");
      EXPECT_TRUE(c->command_object.is<amf::Null>());
    } else {
      ASSERT_FALSE(c) << n;
      EXPECT_EQ(c.error(), make_error_code(Errc::truncated)) << n;
    }
  }
}

// Feeding the payload one byte at a time (as a chunk reader would complete it) never yields a
// command until the last byte except at the value boundaries, and the last byte gives the full
// command.
TEST(Command, ByteAtATime) {
  Message m = msg(MessageType::command_amf0, {});
  std::size_t ok_count = 0;
  for (std::uint8_t b : kFfmpegPlayConnect) {
    m.payload.push_back(b);
    if (decode_command(m))
      ++ok_count;
  }
  EXPECT_EQ(ok_count, 3u); // after the name, after the transaction id, and complete
  auto c = decode_command(m);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->command_object.number_at("audioCodecs"), 4071);
}

// Corrupting any single byte never crashes and never reads past the payload (ASan/UBSan).
TEST(Command, GarbageAtEveryOffset) {
  for (std::size_t i = 0; i < kNginxConnectResult.size(); ++i) {
    for (std::uint8_t v : {0x00, 0x11, 0x7f, 0xff}) {
      Bytes b = kNginxConnectResult;
      b[i] = v;
      (void)decode_command(msg(MessageType::command_amf0, b));
      (void)decode_command(msg(MessageType::command_amf3, b));
    }
  }
}

// ---- Data messages (section 7.1.2) ----------------------------------------------------------

TEST(Data, DecodesSampleAccess) {
  auto d = decode_data(msg(MessageType::data_amf0, kSampleAccess));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->handler, handler::rtmp_sample_access);
  EXPECT_EQ(d->values, (std::vector<amf::Value>{amf::Value(true), amf::Value(true)}));
}

TEST(Data, SetDataFrameRoundTrip) {
  amf::Value meta = amf::make_ecma_array(
      {{"width", amf::Value(320.0)}, {"height", amf::Value(240.0)}, {"stereo", true}});
  DataMessage d = make_set_data_frame(meta);
  EXPECT_EQ(d.handler, "@setDataFrame");
  for (bool amf3 : {false, true}) {
    Message m = encode_data(d, 1, 1234, amf3);
    EXPECT_EQ(m.type, amf3 ? 15 : 18);
    EXPECT_EQ(m.timestamp, 1234u);
    EXPECT_EQ(m.stream_id, 1u);
    EXPECT_EQ(m.chunk_stream_id, csid::data);
    auto back = decode_data(m);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, d);
    DataMessage inner = unwrap_set_data_frame(*back);
    EXPECT_EQ(inner.handler, "onMetaData");
    ASSERT_EQ(inner.values.size(), 1u);
    EXPECT_EQ(inner.values[0].number_at("width"), 320);
  }
  DataMessage plain{"onTextData", {amf::make_object({{"text", amf::Value("hi")}})}};
  EXPECT_EQ(unwrap_set_data_frame(plain), plain);
}

TEST(Data, RejectsAndLimits) {
  EXPECT_EQ(decode_data(msg(MessageType::command_amf0, kSampleAccess)).error(),
            make_error_code(Errc::unsupported));
  EXPECT_EQ(decode_data(msg(MessageType::data_amf0, {})).error(), make_error_code(Errc::truncated));
  EXPECT_EQ(decode_data(msg(MessageType::data_amf0, hex("0101"))).error(),
            make_error_code(Errc::malformed));
  DataMessage many{"x", std::vector<amf::Value>(kMaxDataValues, amf::Value(1))};
  EXPECT_TRUE(decode_data(encode_data(many, 1, 0)));
  many.values.push_back(amf::Value(1));
  EXPECT_EQ(decode_data(encode_data(many, 1, 0)).error(), make_error_code(Errc::limit_exceeded));
  for (std::size_t n = 1; n < kSampleAccess.size(); ++n) {
    Bytes cut(kSampleAccess.begin(), kSampleAccess.begin() + n);
    auto d = decode_data(msg(MessageType::data_amf0, cut));
    bool boundary = n == 20 || n == 22; // after the handler name, after the first boolean
    EXPECT_EQ(static_cast<bool>(d), boundary) << n;
  }
}

} // namespace
} // namespace rtmp
