// NetConnection / NetStream commands and data messages (RTMP 1.0 sections 7.1.1, 7.1.2, 7.2).
//
// A command message (type 20 AMF0, type 17 AMF3) is a sequence of AMF values: the command
// name (string), a transaction id (number), a command object (object or null) and optional
// arguments. A data message (type 18 AMF0, type 15 AMF3) is a handler name followed by values.
// This file only turns messages into those shapes and back, and builds every command a client
// or a server sends with the shapes Flash Media Server, FFmpeg and nginx-rtmp use; which command
// is allowed when is the business of the session state machines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/amf_value.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

namespace amf {
struct DecodeLimits; // amf0.hpp
}

// A command name is a short identifier ("connect", "FCPublish", "onStatus"); anything longer is
// not a command any implementation sends and is refused rather than stored.
inline constexpr std::size_t kMaxCommandNameLength = 256;
// Values after the command object. Real commands carry at most a handful (connect with
// FFmpeg's "conn" options has the most); a bound keeps a hostile peer from building huge
// argument vectors out of one-byte null markers.
inline constexpr std::size_t kMaxCommandArguments = 64;
// Same bound for the values of a data message (handler name excluded).
inline constexpr std::size_t kMaxDataValues = 64;

// Well-known command names (RTMP 1.0 section 7.2 plus the FMS extensions every encoder uses).
namespace cmd {
inline constexpr std::string_view connect = "connect";
inline constexpr std::string_view call = "call";
inline constexpr std::string_view close = "close";
inline constexpr std::string_view result = "_result";
inline constexpr std::string_view error = "_error";
inline constexpr std::string_view create_stream = "createStream";
inline constexpr std::string_view delete_stream = "deleteStream";
inline constexpr std::string_view close_stream = "closeStream";
inline constexpr std::string_view release_stream = "releaseStream";
inline constexpr std::string_view fc_publish = "FCPublish";
inline constexpr std::string_view fc_unpublish = "FCUnpublish";
inline constexpr std::string_view on_fc_publish = "onFCPublish";
inline constexpr std::string_view on_fc_unpublish = "onFCUnpublish";
inline constexpr std::string_view fc_subscribe = "FCSubscribe";
inline constexpr std::string_view on_fc_subscribe = "onFCSubscribe";
inline constexpr std::string_view publish = "publish";
inline constexpr std::string_view play = "play";
inline constexpr std::string_view play2 = "play2";
inline constexpr std::string_view receive_audio = "receiveAudio";
inline constexpr std::string_view receive_video = "receiveVideo";
inline constexpr std::string_view seek = "seek";
inline constexpr std::string_view pause = "pause";
inline constexpr std::string_view on_status = "onStatus";
inline constexpr std::string_view on_bw_done = "onBWDone";
inline constexpr std::string_view check_bw = "_checkbw";
inline constexpr std::string_view get_stream_length = "getStreamLength";
} // namespace cmd

// Data message handler names (FLV spec 10.1 E.5 script data, FMS server-side ActionScript).
namespace handler {
inline constexpr std::string_view set_data_frame = "@setDataFrame";
inline constexpr std::string_view clear_data_frame = "@clearDataFrame";
inline constexpr std::string_view on_meta_data = "onMetaData";
inline constexpr std::string_view on_text_data = "onTextData";
inline constexpr std::string_view on_cue_point = "onCuePoint";
inline constexpr std::string_view rtmp_sample_access = "|RtmpSampleAccess";
} // namespace handler

// Levels and codes of NetConnection / NetStream information objects (RTMP 1.0 section 7.2.1.1
// and 7.2.2; the full list is the ActionScript NetStatusEvent documentation).
namespace status {
inline constexpr std::string_view level_status = "status";
inline constexpr std::string_view level_warning = "warning";
inline constexpr std::string_view level_error = "error";

inline constexpr std::string_view connect_success = "NetConnection.Connect.Success";
inline constexpr std::string_view connect_rejected = "NetConnection.Connect.Rejected";
inline constexpr std::string_view connect_failed = "NetConnection.Connect.Failed";
inline constexpr std::string_view connect_closed = "NetConnection.Connect.Closed";
inline constexpr std::string_view connect_app_shutdown = "NetConnection.Connect.AppShutdown";
inline constexpr std::string_view connect_invalid_app = "NetConnection.Connect.InvalidApp";
inline constexpr std::string_view call_failed = "NetConnection.Call.Failed";

inline constexpr std::string_view publish_start = "NetStream.Publish.Start";
inline constexpr std::string_view publish_bad_name = "NetStream.Publish.BadName";
inline constexpr std::string_view publish_denied = "NetStream.Publish.Denied";
inline constexpr std::string_view unpublish_success = "NetStream.Unpublish.Success";
inline constexpr std::string_view play_start = "NetStream.Play.Start";
inline constexpr std::string_view play_reset = "NetStream.Play.Reset";
inline constexpr std::string_view play_stop = "NetStream.Play.Stop";
inline constexpr std::string_view play_failed = "NetStream.Play.Failed";
inline constexpr std::string_view play_stream_not_found = "NetStream.Play.StreamNotFound";
inline constexpr std::string_view play_publish_notify = "NetStream.Play.PublishNotify";
inline constexpr std::string_view play_unpublish_notify = "NetStream.Play.UnpublishNotify";
inline constexpr std::string_view play_complete = "NetStream.Play.Complete";
inline constexpr std::string_view data_start = "NetStream.Data.Start";
inline constexpr std::string_view seek_notify = "NetStream.Seek.Notify";
inline constexpr std::string_view seek_failed = "NetStream.Seek.Failed";
inline constexpr std::string_view pause_notify = "NetStream.Pause.Notify";
inline constexpr std::string_view unpause_notify = "NetStream.Unpause.Notify";
inline constexpr std::string_view stream_failed = "NetStream.Failed";
} // namespace status

// ---------------------------------------------------------------------------------------------
// Command codec (RTMP 1.0 section 7.1.1, 7.2)

struct Command {
  std::string name;
  double transaction_id = 0;
  amf::Value command_object = amf::Null{}; // Null when absent
  std::vector<amf::Value> arguments;

  bool operator==(const Command &) const = default;
  // The first argument (the information object of _result/_error/onStatus, the stream name of
  // publish/play...), or nullptr.
  const amf::Value *argument(std::size_t i) const {
    return i < arguments.size() ? &arguments[i] : nullptr;
  }
};

// Decodes a type 20 (AMF0) or type 17 (AMF3) message. Type 17 payloads start with a 0x00
// format byte followed by AMF0 values any of which may switch to AMF3 with the avmplus marker
// 0x11 (AMF0 spec 3.1, 2.24); a type 17 payload without the leading 0x00 is accepted too (a
// command name is never an AMF0 number, so the two cannot be confused).
// Errors: Errc::unsupported for another message type, Errc::malformed when the name is not a
// string or the transaction id not a number, Errc::limit_exceeded past kMaxCommandNameLength /
// kMaxCommandArguments, and any AMF decoding error.
Result<Command> decode_command(const Message &msg);
Result<Command> decode_command(const Message &msg, const amf::DecodeLimits &limits);

// Encodes as type 20, or as type 17 when `amf3`: the 0x00 prefix, then AMF0 values, switching
// to AMF3 with 0x11 only for values AMF0 cannot carry (AMF3 integer, byte array, vectors,
// dictionary, E4X XML), as Flash Player does. Timestamp 0, chunk stream csid::command.
Message encode_command(const Command &cmd, std::uint32_t stream_id, bool amf3 = false);

// Appends one value as a type 17/15/16 message body carries it: AMF0, or the avmplus marker
// 0x11 and AMF3 (with fresh reference tables) for values AMF0 cannot carry, when
// `allow_amf3_switch`. Shared by the command, data and shared object encoders.
void append_message_value(Bytes &out, const amf::Value &v, bool allow_amf3_switch);

// ---------------------------------------------------------------------------------------------
// Data messages (RTMP 1.0 section 7.1.2): "@setDataFrame", "onMetaData", "onTextData"...

struct DataMessage {
  std::string handler;
  std::vector<amf::Value> values;

  bool operator==(const DataMessage &) const = default;
};

// Decodes a type 18 (AMF0) or type 15 (AMF3, same 0x00 prefix rule as type 17) message.
Result<DataMessage> decode_data(const Message &msg);
Result<DataMessage> decode_data(const Message &msg, const amf::DecodeLimits &limits);
// Encodes as type 18 (or 15 when `amf3`), chunk stream csid::data.
Message encode_data(const DataMessage &d, std::uint32_t stream_id, std::uint32_t timestamp,
                    bool amf3 = false);

// "@setDataFrame", "onMetaData", metadata: what an encoder sends before media so that the server
// stores the metadata (FMS / nginx-rtmp / FFmpeg's flv muxer over RTMP).
DataMessage make_set_data_frame(amf::Value metadata);
// Unwraps "@setDataFrame" (first value is the real handler name): returns the inner message, or
// `d` unchanged when it is not a @setDataFrame.
DataMessage unwrap_set_data_frame(const DataMessage &d);

// ---------------------------------------------------------------------------------------------
// Information objects (RTMP 1.0 section 7.2.1.1 / 7.2.2: level, code, description)

struct StatusInfo {
  std::string level;
  std::string code;
  std::string description;
  amf::Value object; // the whole information object as received (extra fields)

  bool is_error() const { return level == status::level_error; }
};

// Extracts level/code/description from an object or ECMA array; nullopt when `info_object` is
// not object-like or has no "code" string.
std::optional<StatusInfo> status_from(const amf::Value &info_object);
// {level, code, description, extra...} as an anonymous AMF object, in that order.
amf::Value make_status_object(std::string_view level, std::string_view code,
                              std::string_view description, amf::Properties extra = {});

// ---------------------------------------------------------------------------------------------
// Builders. Transaction ids: the client numbers its requests (connect is 1, FFmpeg then counts
// up); commands that expect no reply use 0 (RTMP 1.0 section 7.2.2).

// The connect command object (RTMP 1.0 section 7.2.1.1). Optional members are omitted when
// unset. Defaults give the shape FFmpeg uses when playing; for_publish() gives the shape it
// uses when publishing (type "nonprivate", no fpad/capabilities/codecs).
struct ConnectParams {
  std::string app;
  std::optional<std::string> type; // "nonprivate" (FMLE, FFmpeg when publishing)
  std::string flash_ver = "LNX 9,0,124,2";
  std::optional<std::string> swf_url;
  std::string tc_url;
  std::optional<bool> fpad = false;
  std::optional<double> capabilities = 15;
  std::optional<double> audio_codecs = 4071; // SUPPORT_SND_* bits, section 7.2.1.1
  std::optional<double> video_codecs = 252;  // SUPPORT_VID_* bits
  std::optional<double> video_function = 1;  // SUPPORT_VID_CLIENT_SEEK
  std::optional<std::string> page_url;
  std::optional<double> object_encoding; // 0 = AMF0, 3 = AMF3
  // Enhanced RTMP v2 "fourCcList" (e.g. {"av01", "vp09", "hvc1"}), omitted when empty.
  std::vector<std::string> fourcc_list;
  amf::Properties extra_properties;        // appended to the command object
  std::vector<amf::Value> extra_arguments; // after the command object (FFmpeg -rtmp_conn)

  static ConnectParams for_publish(std::string app, std::string tc_url);
  static ConnectParams for_play(std::string app, std::string tc_url);
};

Command make_connect(const ConnectParams &p, double transaction_id = 1);
// Reads back the connect command a client sent (server side). Errc::malformed when it is not a
// connect, or has no object command object, or "app" is not a string.
Result<ConnectParams> parse_connect(const Command &c);

// The server's successful answer to connect, as FMS/nginx-rtmp send it:
// properties {fmsVer, capabilities, mode}, information {level "status", code
// NetConnection.Connect.Success, description, objectEncoding, data {version}}.
struct ConnectResult {
  std::string fms_ver = "FMS/3,5,7,7009";
  double capabilities = 31;
  double mode = 1;
  std::string description = "Connection succeeded.";
  double object_encoding = 0;
  std::string version = "3,5,7,7009"; // data.version (an ECMA array as FMS sends it)
};
Command make_connect_result(double transaction_id, const ConnectResult &r = {});

// Generic _result / _error (RTMP 1.0 section 7.2.1.1): name, txn, properties, information.
Command make_result(double transaction_id, amf::Value properties, amf::Value information);
Command make_error(double transaction_id, amf::Value properties, amf::Value information);
// _error to connect with level "error", code NetConnection.Connect.Rejected and the given
// description (the carrier of authentication challenges, see auth.hpp).
Command make_connect_rejected(double transaction_id, std::string_view description);

Command make_create_stream(double transaction_id);
// _result, txn, null, stream id (RTMP 1.0 section 7.2.1.3).
Command make_create_stream_result(double transaction_id, std::uint32_t stream_id);
// The stream id of a createStream _result; nullopt when absent, not a number or out of range.
std::optional<std::uint32_t> created_stream_id(const Command &result);

Command make_release_stream(double transaction_id, std::string_view stream_name);
Command make_fc_publish(double transaction_id, std::string_view stream_name);
Command make_fc_unpublish(double transaction_id, std::string_view stream_name);
Command make_fc_subscribe(double transaction_id, std::string_view stream_name);
// onFCPublish / onFCUnpublish, 0, null, {code NetStream.Publish.Start / NetStream.Unpublish.
// Success, description stream name} as FMS sends them.
Command make_on_fc_publish(std::string_view stream_name);
Command make_on_fc_unpublish(std::string_view stream_name);

enum class PublishType { live, record, append };
std::string_view to_string(PublishType t);
std::optional<PublishType> publish_type_from(std::string_view s);
// publish, txn, null, name, type (RTMP 1.0 section 7.2.2.6).
Command make_publish(double transaction_id, std::string_view stream_name,
                     PublishType type = PublishType::live);

// play, txn, null, name, start, duration, reset (RTMP 1.0 section 7.2.2.1). start -2 = live
// then recorded, -1 = live only, >= 0 = recorded from that second; duration -1 = to the end.
// Omitted trailing arguments are left out (FFmpeg sends only name and start).
struct PlayParams {
  std::string stream_name;
  double start = -2;
  std::optional<double> duration;
  std::optional<bool> reset;
};
Command make_play(double transaction_id, const PlayParams &p);
// Server side: reads a play command back. Errc::malformed when the name is missing.
Result<PlayParams> parse_play(const Command &c);
Command make_play2(double transaction_id, amf::Value parameters);

Command make_delete_stream(double transaction_id, std::uint32_t stream_id);
Command make_close_stream(double transaction_id = 0);
Command make_receive_audio(bool enable);
Command make_receive_video(bool enable);
Command make_seek(double transaction_id, double milliseconds);
Command make_pause(double transaction_id, bool pause, double milliseconds);
Command make_get_stream_length(double transaction_id, std::string_view stream_name);

// onStatus, 0, null, info (RTMP 1.0 section 7.2.2).
Command make_on_status(const StatusInfo &info);
Command make_on_status(amf::Value info_object);
// onBWDone, 0, null (FMS after connect; FFmpeg answers with _checkbw).
Command make_on_bw_done();
Command make_check_bw(double transaction_id);
// A remote procedure call (RTMP 1.0 section 7.2.1.2): name, txn, null, args...
Command make_call(std::string_view procedure, double transaction_id,
                  std::vector<amf::Value> arguments = {});
Command make_close();

} // namespace rtmp
