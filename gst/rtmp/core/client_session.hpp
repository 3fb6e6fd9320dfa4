// The client side of an RTMP connection as a sans-IO state machine (h11 style).
//
//   ClientSession s(cfg);
//   s.start(now);                       // queues C0+C1
//   write(s.take_output());
//   on read:  s.receive(bytes, now); while (auto e = s.poll_event()) handle(*e); write(...)
//   on timer: s.on_timer(now) at s.next_deadline()
//
// The session runs the handshake (RTMP 1.0 section 5.2), sends Set Chunk Size and connect
// (section 7.2.1.1) as soon as it is done, and then answers everything that needs no
// application decision by itself: acknowledgements, ping requests, Set Peer Bandwidth,
// onBWDone (with _checkbw, like FFmpeg), User Control 31/32 (ignored). It turns the server's
// answers into events (Connected, StreamCreated, PublishStarted, PlayStarted, Error...).
//
// Until NetStream.Publish.Start or NetStream.Play.Start, a server's command, data and shared
// object messages are bounded by ClientConfig::limits.max_command_message_size (a header
// announcing more ends the session at once with Errc::limit_exceeded); from then on by
// max_message_size like media.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/amf_value.hpp"
#include "core/auth.hpp"
#include "core/connection.hpp"
#include "core/enhanced.hpp"

namespace rtmp {

// Concurrent calls waiting for an answer. FFmpeg and OBS have a handful outstanding; a caller
// that keeps calling without the server answering gets Errc::limit_exceeded instead of an
// ever-growing table.
inline constexpr std::size_t kMaxPendingCalls = 256;

struct ClientConfig {
  std::string app;
  std::string tc_url;
  std::string flash_ver = "FMLE/3.0 (compatible; gst-rtmp)";
  std::string swf_url;
  std::string page_url;
  amf::Properties extra_connect_args; // appended to the connect command object
  // Arguments after the connect command object (librtmp's conn=, FFmpeg's -rtmp_conn).
  std::vector<amf::Value> extra_connect_arguments;
  HandshakeOptions handshake;
  std::uint32_t chunk_size = 4096; // what we send with; sent right after the handshake
  std::uint32_t window_ack_size = 2500000;
  Millis timeout{10000}; // handshake, connect and each command reply; 0 = none
  std::string username;  // credentials for Adobe / Limelight authentication (auth.hpp)
  std::string password;
  auth::Method auth_method = auth::Method::automatic;
  // Key for a server's secureToken challenge (secure_token.hpp): when the connect _result's
  // information object carries `secureToken`, the session answers secureTokenResponse before
  // Connected. A challenge without a key configured fails the connect (Errc::auth_failed), as
  // rtmp2 does.
  std::string secure_token;
  EnhancedCapabilities capabilities; // advertised in connect (Enhanced RTMP v2)
  ChunkLimits limits;
  amf::DecodeLimits amf_limits;
  bool publishing = true; // connect shape: FMLE-like ("nonprivate") or player-like
  // Sent with play as User Control Set Buffer Length (7.1.7), like FFmpeg's -rtmp_buffer;
  // 0 = do not send.
  Millis buffer_length{3000};
};

class ClientSession : public Connection {
public:
  explicit ClientSession(ClientConfig cfg);
  ~ClientSession() override;

  // Queues C0+C1 and arms the handshake timeout.
  void start(Millis now);
  // Feeds what the socket read. Protocol errors are returned AND reported as a fatal Error event.
  std::error_code receive(ByteView bytes, Millis now);
  // Call at next_deadline(): an expired wait (handshake, connect, a command reply, publish or
  // play start) yields Error{Errc::timeout} (fatal).
  void on_timer(Millis now);
  std::optional<Millis> next_deadline() const;

  bool connected() const { return state_ == State::connected; }

  // Commands: valid once Connected, otherwise Errc::invalid_state.
  std::error_code create_stream(Millis now);
  // Sends releaseStream, FCPublish and publish, as FFmpeg and OBS do. The answer is
  // PublishStarted, or a non-fatal Error{publish_rejected, ..., "NetStream.Publish.BadName"}.
  std::error_code publish(std::uint32_t stream_id, std::string name, std::string type, Millis now);
  std::error_code play(std::uint32_t stream_id, std::string name, double start, double duration,
                       bool reset, Millis now);
  std::error_code play2(std::uint32_t stream_id, amf::Value parameters);
  std::error_code seek(std::uint32_t stream_id, double ms);
  std::error_code pause(std::uint32_t stream_id, bool paused, double ms);
  std::error_code receive_audio(std::uint32_t stream_id, bool enabled);
  std::error_code receive_video(std::uint32_t stream_id, bool enabled);
  // User Control 3 (RTMP 1.0 section 7.1.7).
  std::error_code set_buffer_length(std::uint32_t stream_id, std::uint32_t ms);
  // Audio, video or data (AMF0/AMF3) on a stream we publish. The chunk writer chooses the
  // header types; the payload is copied only while chunking.
  std::error_code send_media(std::uint32_t stream_id, MessageType type, std::uint32_t timestamp,
                             ByteView payload);
  // FCUnpublish (and nothing else: follow with delete_stream as FFmpeg does).
  std::error_code unpublish(std::uint32_t stream_id, std::string name);
  std::error_code delete_stream(std::uint32_t stream_id);
  std::error_code close_stream(std::uint32_t stream_id);
  // A NetConnection call; returns the transaction id (0 when not connected or too many calls
  // pending). The answer arrives as CommandResult{txn}.
  std::uint32_t call(std::string name, std::vector<amf::Value> args,
                     std::optional<Millis> now = std::nullopt);
  // Set Chunk Size (RTMP 1.0 section 5.4.1) at once, between two messages: what follows is
  // chunked with `size` (1..2^31-1, else Errc::invalid_argument).
  std::error_code set_chunk_size(std::uint32_t size);

private:
  enum class State { idle, handshaking, connecting, connected, closed };
  enum class Pending { connect, create_stream, call, ignored };
  struct PendingCall {
    Pending kind;
    std::optional<Millis> deadline;
  };
  // What we wait for on a stream (onStatus), with its deadline.
  struct StreamWait {
    enum class Kind { publish, play } kind;
    std::optional<Millis> deadline;
  };

  std::error_code handle_message(Message &&msg, Millis now) override;
  void on_handshake_done(Millis now) override;
  void on_peer_closed() override;
  std::error_code handle_command(Command &&cmd, std::uint32_t stream_id, Millis now);
  std::error_code handle_result(Command &&cmd, bool ok, Millis now);
  std::error_code handle_on_status(Command &&cmd, std::uint32_t stream_id);
  std::error_code handle_connect_error(const StatusInfo &info);
  std::error_code answer_secure_token(const amf::Value *information);
  std::uint32_t next_txn(Pending kind, std::optional<Millis> deadline);
  std::error_code require_connected() const;
  std::optional<Millis> deadline_from(Millis now) const {
    if (cfg_.timeout.count() <= 0)
      return std::nullopt;
    return now + cfg_.timeout;
  }

  ClientConfig cfg_;
  State state_ = State::idle;
  std::optional<Millis> handshake_deadline_;
  std::uint32_t txn_counter_ = 1; // connect is 1 (RTMP 1.0 section 7.2.1.1)
  std::map<std::uint32_t, PendingCall> pending_;
  std::map<std::uint32_t, StreamWait> stream_waits_;
};

} // namespace rtmp
