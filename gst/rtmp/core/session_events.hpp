// Events produced by ClientSession and ServerSession (h11-style: the caller pulls them with
// poll_event() after feeding bytes with receive() or after on_timer()).
//
// Every struct carries what an element needs to act without looking at the wire. Events are
// plain values: copying one never refers back into the session.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "core/amf_value.hpp"
#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "core/message.hpp"
#include "core/shared_object.hpp"

namespace rtmp {

// ---- Both roles ---------------------------------------------------------------------------

// The RTMP handshake completed (RTMP 1.0 section 5.2).
struct HandshakeDone {
  std::uint8_t peer_version = 0;                       // the version byte of the peer's C0/S0 (3)
  std::uint32_t peer_epoch = 0;                        // the 4-byte time field of the peer's C1/S1
  std::array<std::uint8_t, 4> peer_software_version{}; // bytes 4..7 of C1/S1 (0 when plain)
  bool peer_used_digest = false; // the peer used the Flash Player 9 digest scheme
};

// Any onStatus the peer sent (NetStream.*, NetConnection.*), on the message stream it came on.
struct Status {
  std::uint32_t stream_id = 0;
  StatusInfo info;
};

// Audio (8), video (9) or data (15/18) message as received. Aggregates (22) are already split
// into their sub-messages, in order, with the timestamps the aggregate rules give (RTMP 1.0
// section 7.1.6). The timestamp is the absolute one of the chunk stream, as received.
struct Media {
  Message msg;
};

// The peer's User Control events about a stream (RTMP 1.0 section 7.1.7).
struct StreamBegin {
  std::uint32_t stream_id = 0;
};
struct StreamEof {
  std::uint32_t stream_id = 0;
};
struct StreamDry {
  std::uint32_t stream_id = 0;
};
struct StreamIsRecorded {
  std::uint32_t stream_id = 0;
};

// The answer to our ping() arrived (User Control 6/7, RTMP 1.0 section 7.1.7).
struct PingRtt {
  Millis rtt{0};
};

// The peer changed the chunk size it sends with (Set Chunk Size, RTMP 1.0 section 5.4.1).
struct PeerChunkSize {
  std::uint32_t size = 0;
};

// A shared object message (RTMP 1.0 section 7.1.3), decoded. The server answers Use with Use
// Success itself; this event is informational there.
struct SharedObject {
  std::uint32_t stream_id = 0;
  SharedObjectMessage message;
};

// Something went wrong. `code` is the typed error (error_origin() tells who was wrong);
// `description` is human-readable; `status_code` is the peer's own code when it sent one, e.g.
// "NetStream.Publish.BadName" or "NetConnection.Connect.Rejected". `fatal` errors close the
// session (a Closed event follows); others (a rejected publish or a failed call) leave the
// connection usable.
struct Error {
  std::error_code code;
  std::string description;
  std::string status_code;
  bool fatal = true;
};

// The session is over: after a fatal error, after peer_closed(), after a rejected connect was
// flushed. The caller should close the socket once take_output() is empty.
struct Closed {
  std::string reason;
};

// Diagnostic information that needs no action (an unmatched _result, an ignored User Control
// event 31/32, ...). Elements log it at debug level.
struct Note {
  std::string text;
};

// ---- Client side --------------------------------------------------------------------------

// The answer to connect: _result with the server's properties and information objects.
struct Connected {
  amf::Value properties;
  amf::Value information;
  EnhancedCapabilities capabilities; // what the server echoed (Enhanced RTMP v2), if anything
};

struct StreamCreated {
  std::uint32_t stream_id = 0;
};

// NetStream.Publish.Start arrived for the stream.
struct PublishStarted {
  std::uint32_t stream_id = 0;
};

// NetStream.Play.Start arrived for the stream.
struct PlayStarted {
  std::uint32_t stream_id = 0;
};

// NetStream.Play.Stop, NetStream.Play.Complete or NetStream.Play.UnpublishNotify.
struct PlayStopped {
  std::uint32_t stream_id = 0;
  std::string status_code;
};

// Client: NetStream.Unpublish.Success; server: the publisher unpublished (FCUnpublish, then
// deleteStream / closeStream, or the connection closed while publishing).
struct Unpublished {
  std::uint32_t stream_id = 0;
};

// The answer to call(): `ok` is true for _result, false for _error. `values` holds the command
// object followed by the arguments.
struct CommandResult {
  std::uint32_t txn = 0;
  bool ok = false;
  std::vector<amf::Value> values;
};

// A command from the peer that the session does not handle itself (e.g. a custom server call).
struct IncomingCall {
  Command command;
  std::uint32_t stream_id = 0;
};

// The server answered connect with an authentication challenge (Adobe or Limelight, see
// auth.hpp) and credentials are configured: the caller must close this connection and connect
// again with a new session whose ClientConfig::app is `app_with_auth_query`.
struct AuthRetry {
  std::string app_with_auth_query;
  std::string query; // the part appended ("?authmod=..."): append it to the tcUrl too
};

// ---- Server side: requests the application must answer ------------------------------------

// connect (RTMP 1.0 section 7.2.1.1). Answer with accept_connect() or reject_connect().
struct ConnectRequest {
  std::uint32_t txn = 1;
  amf::Value command_object;
  std::vector<amf::Value> args; // optional user arguments after the command object
  std::string app;
  std::string tc_url;
  std::string flash_ver;
  double object_encoding = 0;
  EnhancedCapabilities capabilities; // what the client offered (Enhanced RTMP v2)
};

// publish (RTMP 1.0 section 7.2.2.6). Answer with accept_publish() or reject_publish().
struct PublishRequest {
  std::uint32_t stream_id = 0;
  std::string name;  // without the query
  std::string type;  // "live", "record" or "append"
  std::string query; // after '?', without it ("" when none)
};

// play (RTMP 1.0 section 7.2.2.1). Answer with accept_play() or reject_play().
struct PlayRequest {
  std::uint32_t stream_id = 0;
  std::string name;
  std::string query;
  double start = -2;    // -2 live or recorded, -1 live only, >= 0 recorded from that position
  double duration = -1; // -1 until the end
  bool reset = true;
};

// play2 (RTMP 1.0 section 7.2.2.2): switch to another stream/bitrate.
struct Play2Request {
  std::uint32_t stream_id = 0;
  amf::Value parameters;
};

struct ReleaseStream {
  std::string name;
};
struct FCPublish {
  std::string name;
};
struct FCUnpublish {
  std::string name;
};
struct DeleteStream {
  std::uint32_t stream_id = 0;
};
struct CloseStream {
  std::uint32_t stream_id = 0;
};
struct Seek {
  std::uint32_t stream_id = 0;
  double ms = 0;
};
struct Pause {
  std::uint32_t stream_id = 0;
  bool paused = false;
  double ms = 0;
};
struct ReceiveAudio {
  std::uint32_t stream_id = 0;
  bool enabled = true;
};
struct ReceiveVideo {
  std::uint32_t stream_id = 0;
  bool enabled = true;
};
// The client told us its buffer length (User Control 3, RTMP 1.0 section 7.1.7).
struct SetBufferLength {
  std::uint32_t stream_id = 0;
  std::uint32_t ms = 0;
};

using Event =
    std::variant<HandshakeDone, Status, Media, StreamBegin, StreamEof, StreamDry, StreamIsRecorded,
                 PingRtt, PeerChunkSize, SharedObject, Error, Closed, Note, Connected,
                 StreamCreated, PublishStarted, PlayStarted, PlayStopped, Unpublished,
                 CommandResult, IncomingCall, AuthRetry, ConnectRequest, PublishRequest,
                 PlayRequest, Play2Request, ReleaseStream, FCPublish, FCUnpublish, DeleteStream,
                 CloseStream, Seek, Pause, ReceiveAudio, ReceiveVideo, SetBufferLength>;

// Short name of an event type, for logs ("Media", "PublishRequest", ...).
const char *event_name(const Event &e);

} // namespace rtmp
