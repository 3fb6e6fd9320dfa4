// The server side of one accepted RTMP connection as a sans-IO state machine.
//
// The session answers by itself what needs no application decision: the handshake,
// createStream (up to ServerConfig::max_streams), releaseStream / FCPublish (onFCPublish),
// FCUnpublish, _checkbw, ping requests, acknowledgements, shared object Use (Use Success), User
// Control 31/32 (ignored). Requests that need a decision become events (ConnectRequest,
// PublishRequest, PlayRequest) answered with accept_* / reject_*. When ServerConfig::auth is
// set, the session runs the authentication challenge itself (auth.hpp) and only valid
// connects reach the application as ConnectRequest.
//
// While a ConnectRequest, PublishRequest or PlayRequest waits for its answer, the messages the
// client sent after it are held (bounded by kMaxHeldMessages / kMaxHeldBytes) and processed when
// the answer is given, so that e.g. media sent right behind publish is delivered after the
// accept. The answer may therefore produce events: poll_event() after accept_* / reject_* too.
// The driver loop is: receive(); drain poll_event() answering requests; write take_output().
//
// Until the application accepts a publish or play (accept_publish / accept_play), a client's
// command, data and shared object messages are bounded by ServerConfig::limits.
// max_command_message_size: a header announcing more ends the session at once with
// Errc::limit_exceeded. From then on they get max_message_size like media.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <system_error>

#include "core/amf_value.hpp"
#include "core/auth.hpp"
#include "core/connection.hpp"
#include "core/enhanced.hpp"

namespace rtmp {

struct ServerConfig {
  std::uint32_t chunk_size = 4096;
  std::uint32_t window_ack_size = 2500000;
  std::uint32_t peer_bandwidth = 2500000;
  Millis handshake_timeout{10000}; // from accept to the connect command
  Millis idle_timeout{0};          // no bytes received for this long closes; 0 = off
  ChunkLimits limits;
  amf::DecodeLimits amf_limits;
  std::size_t max_streams = 16; // createStream answers _error beyond this many live streams
  std::string fms_ver = "FMS/3,5,7,7009";
  EnhancedCapabilities accepted_capabilities;
  auth::ServerAuthConfig auth;
  HandshakeOptions handshake;
  // Limelight-style challenge (secure_token.hpp): when set, sent as `secureToken` in the connect
  // _result's information object (encrypt_secure_token's hex); the client's
  // secureTokenResponse call then arrives as an IncomingCall for the application to check.
  std::string secure_token;
};

class ServerSession : public Connection {
public:
  explicit ServerSession(ServerConfig cfg);
  ~ServerSession() override;

  // Arms the handshake timeout (the server speaks second: nothing is sent until C0C1).
  void start(Millis now);
  std::error_code receive(ByteView bytes, Millis now);
  void on_timer(Millis now);
  std::optional<Millis> next_deadline() const;

  // Answers to ConnectRequest. accept_connect sends Window Acknowledgement Size, Set Peer
  // Bandwidth (dynamic), Set Chunk Size, the _result and onBWDone, as FMS does.
  std::error_code accept_connect(Millis now);
  // _error with level "error", the given code (default NetConnection.Connect.Rejected) and
  // description; the session closes once that is queued.
  std::error_code reject_connect(std::string code, std::string description);

  // Answers to PublishRequest: Stream Begin + onStatus NetStream.Publish.Start, or an onStatus
  // with level "error" (e.g. code NetStream.Publish.BadName).
  std::error_code accept_publish(std::uint32_t stream_id);
  std::error_code reject_publish(std::uint32_t stream_id, std::string code,
                                 std::string description);
  // Answers to PlayRequest: Stream Begin, NetStream.Play.Reset (when asked), NetStream.Play.Start
  // and |RtmpSampleAccess; or an onStatus error (e.g. NetStream.Play.StreamNotFound).
  std::error_code accept_play(std::uint32_t stream_id);
  std::error_code reject_play(std::uint32_t stream_id, std::string code, std::string description);

  // Media on a stream being played (after accept_play).
  std::error_code send_media(std::uint32_t stream_id, MessageType type, std::uint32_t timestamp,
                             ByteView payload);
  std::error_code send_status(std::uint32_t stream_id, const StatusInfo &info);
  // The source of a played stream ended: onStatus NetStream.Play.UnpublishNotify, Stream EOF,
  // onStatus NetStream.Play.Stop.
  std::error_code end_stream(std::uint32_t stream_id);
  // Any command to the client (e.g. a custom notification, or the answer to an IncomingCall),
  // once connected.
  std::error_code send_call(const Command &cmd, std::uint32_t stream_id = 0);

  bool connected() const { return state_ == State::connected; }
  const std::string &app() const { return app_; }

private:
  enum class State { handshaking, awaiting_connect, connect_pending, connected, closed };
  enum class StreamState { created, publish_pending, publishing, play_pending, playing };
  struct Stream {
    StreamState state = StreamState::created;
    std::string name;
    bool reset = true;
  };

  std::error_code handle_message(Message &&msg, Millis now) override;
  void on_handshake_done(Millis now) override;
  void on_peer_closed() override;
  std::error_code handle_command(Command &&cmd, std::uint32_t stream_id, Millis now);
  std::error_code handle_connect(Command &&cmd, Millis now);
  std::error_code handle_stream_command(Command &&cmd, std::uint32_t stream_id);
  std::error_code handle_shared_object(const Message &msg);
  void send_stream_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                          std::string_view description);
  void drop_stream(std::uint32_t stream_id);
  Stream *find_stream(std::uint32_t stream_id);

  ServerConfig cfg_;
  State state_ = State::handshaking;
  std::optional<Millis> connect_deadline_;
  double connect_txn_ = 1;
  double object_encoding_ = 0;
  std::string app_;
  EnhancedCapabilities offered_; // by the client in connect
  std::map<std::uint32_t, Stream> streams_;
  std::uint32_t next_stream_id_ = 1;
  Millis started_{0};
};

} // namespace rtmp
