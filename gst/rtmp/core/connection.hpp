// What the client and the server session share: the handshake, the chunk reader and writer,
// protocol control (RTMP 1.0 section 5.4), User Control events (section 7.1.7),
// acknowledgements, ping answers, window / peer bandwidth, aggregate splitting, byte counters
// and the event queue.
//
// Sans-IO: the owner feeds bytes with receive_bytes() and collects what to send with
// take_output(); time only comes in as `now`. Messages above the control layer (commands,
// data, media, shared objects) go to the role's handle_message(), one by one and in wire order,
// so that events keep the order of the bytes that caused them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/control.hpp"
#include "core/error.hpp"
#include "core/handshake.hpp"
#include "core/message.hpp"
#include "core/session_events.hpp"

namespace rtmp {

// Events waiting in a session's queue. The caller is expected to drain it after each receive();
// a peer that makes us produce this many events from one receive() without the caller draining
// (e.g. a flood of tiny media messages fed in one call) is refused rather than buffered without
// bound.
inline constexpr std::size_t kMaxQueuedEvents = 1 << 16;
// While a request waits for the application's answer (a server's ConnectRequest,
// PublishRequest, PlayRequest), later messages are held, not dispatched, so that what depends
// on the answer sees it. A peer that sends more than this in the meantime is refused.
inline constexpr std::size_t kMaxHeldMessages = 4096;
inline constexpr std::size_t kMaxHeldBytes = 16u << 20;
// A Window Acknowledgement Size below this is raised to it: a peer asking for an
// acknowledgement every few bytes would make us send more than it sends (RTMP 1.0 section
// 5.4.4 sets no minimum; FMS and nginx-rtmp use millions).
inline constexpr std::uint32_t kMinAckWindow = 4096;

// Cap of receive_low_water(): a driver sleeps until at most this many bytes arrived, so a
// wakeup never has to wait for more than a few reads' worth (and stays well below what a
// socket receive buffer holds: Linux grows it to twice the low-water mark).
inline constexpr std::size_t kMaxReceiveLowWater = 256u << 10;

struct Stats {
  std::uint64_t bytes_in = 0;  // every byte received, handshake included (section 5.4.3)
  std::uint64_t bytes_out = 0; // every byte queued for sending
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t media_messages_in = 0;
  std::uint64_t media_messages_out = 0;
  std::uint64_t media_dropped = 0;   // media on a stream that is not publishing / playing
  std::uint32_t chunk_size_in = 128; // what the peer sends with (section 5.4.1)
  std::uint32_t chunk_size_out = 128;
  std::uint32_t ack_window_in = 0;  // the peer's Window Acknowledgement Size: we ack this often
  std::uint32_t ack_window_out = 0; // the last Window Acknowledgement Size we sent
  std::uint64_t acks_sent = 0;
  std::uint64_t acks_received = 0;
  std::uint32_t last_ack_received = 0; // sequence number of the peer's last acknowledgement
  std::uint32_t peer_bandwidth = 0;    // output limit the peer set (0: none), section 5.4.5
  PeerBandwidthLimit peer_bandwidth_type = PeerBandwidthLimit::hard;
  std::optional<Millis> rtt; // of the last answered ping
};

// Output bytes not yet acknowledged by the peer relative to its Set Peer Bandwidth: callers that
// want to honour the limit (section 5.4.5) can hold media while this is true. The session never
// blocks on it because many servers never acknowledge.
bool over_peer_bandwidth(const Stats &s);

class Connection {
public:
  enum class Role { client, server };

  Connection(Role role, const HandshakeOptions &handshake, const ChunkLimits &limits);
  virtual ~Connection();
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

  std::optional<Event> poll_event();
  bool has_events() const { return events_head_ < events_.size(); }
  // Bytes to write to the socket; empty when there are none. The session keeps no reference.
  Bytes take_output();
  // Same, swapping into `into` (cleared first) so that a driver can reuse its buffers.
  void take_output(Bytes &into);
  bool wants_write() const { return !out_.empty(); }
  Stats stats() const { return stats_; }
  bool handshake_done() const { return handshake_done_; }
  bool closed() const { return closed_; }

  // How many bytes a driver may wait for before feeding receive() again without delaying any
  // event (SO_RCVLOWAT, net/transport.hpp): at least 1, at most kMaxReceiveLowWater, never past
  // the point where we owe the peer an acknowledgement (5.4.3; a peer may stop sending until
  // it gets one). 1 during the handshake, after close, and whenever a message could complete
  // with the next byte. See connection.cpp for why this adds no latency.
  std::size_t receive_low_water() const;

  // Payload storage for later messages (ChunkReader::give_storage).
  void give_storage(Bytes &&spare) { reader_.give_storage(std::move(spare)); }

  // Sends a ping request (User Control 6) with `now` as its timestamp; the answer yields
  // PingRtt. Errc::invalid_state before the handshake is done or after close.
  std::error_code ping(Millis now);

  // The transport closed (EOF or error reported by the driver): emits what the role needs
  // (e.g. Unpublished for streams being published) and Closed{reason}.
  void peer_closed(std::string reason = "connection closed by peer");

protected:
  // Feeds bytes from the peer. Control messages are handled here; everything else reaches
  // handle_message(). A returned error has already been reported as a fatal Error event.
  std::error_code receive_bytes(ByteView in, Millis now);
  // Called for command, data, media and shared object messages, in order. An error return is
  // fatal: it is reported (fail()) by the caller.
  virtual std::error_code handle_message(Message &&msg, Millis now) = 0;
  // Called once when the handshake finished (after HandshakeDone is queued).
  virtual void on_handshake_done(Millis now) = 0;
  // Role hook for peer_closed() before Closed is emitted.
  virtual void on_peer_closed() {}

  // Holds incoming messages (after the current one) until resume_input(), which dispatches the
  // held ones in order (with the time of the last receive()).
  void pause_input() { paused_ = true; }
  void resume_input();
  bool input_paused() const { return paused_; }

  // Media flows from now on (the role's publish or play started): commands, data and shared
  // objects from the peer are bounded by ChunkLimits::max_message_size instead of the setup
  // bound max_command_message_size, from the next message header on (ChunkReader).
  void start_streaming() { reader_.start_streaming(); }

  // Client only: queues C0 + C1.
  void start_handshake();

  // Sending (all chunked into the output buffer with the current outgoing chunk size).
  void send_message(const Message &msg);
  void send_command(const Command &cmd, std::uint32_t stream_id = 0);
  void send_media_message(std::uint32_t stream_id, MessageType type, std::uint32_t timestamp,
                          ByteView payload);
  void send_user_control(const UserControl &uc);
  void send_chunk_size(std::uint32_t size);      // and switch the writer to it
  void send_window_ack_size(std::uint32_t size); // remembered in stats().ack_window_out
  void send_peer_bandwidth(std::uint32_t size, PeerBandwidthLimit type);

  void push_event(Event e);
  void note(std::string text) { push_event(Note{std::move(text)}); }
  // Reports a fatal error: Error{code, description, status_code} then Closed. Returns `code`.
  std::error_code fail(std::error_code code, std::string description, std::string status_code = {});
  // Marks the session closed with Closed{reason} (no Error).
  void close(std::string reason);

  Millis last_receive() const { return last_receive_; }
  const amf::DecodeLimits *amf_limits() const { return amf_limits_; }
  void set_amf_limits(const amf::DecodeLimits *limits) { amf_limits_ = limits; }
  Role role() const { return role_; }
  Stats &mutable_stats() { return stats_; }

private:
  std::error_code receive_chunks(ByteView in, Millis now);
  std::error_code deliver(Message &&msg, Millis now);
  std::error_code dispatch(Message &&msg, Millis now);
  std::error_code handle_control(const Message &msg, Millis now);
  std::error_code handle_user_control(const Message &msg, Millis now);
  void send_chunks(const MessageHeader &header, ByteView payload);
  std::size_t queued_events() const { return events_.size() - events_head_; }

  Role role_;
  std::unique_ptr<HandshakeClient> hs_client_;
  std::unique_ptr<HandshakeServer> hs_server_;
  bool handshake_done_ = false;
  bool closed_ = false;
  ChunkReader reader_;
  ChunkWriter writer_;
  AckTracker acks_;
  PeerBandwidthState bandwidth_;
  std::optional<std::uint32_t> ping_sent_; // timestamp of our outstanding ping request
  Bytes out_;
  std::vector<Message> incoming_; // reused between receive() calls
  std::deque<Message> held_;      // while paused_
  std::size_t held_bytes_ = 0;
  bool paused_ = false;
  // The event queue: events_[events_head_..] are pending. A vector reused across drains rather
  // than a deque, whose libstdc++ nodes (512 bytes) hold a single Event, so that every queued
  // Media event would cost an allocation.
  std::vector<Event> events_;
  std::size_t events_head_ = 0;
  static constexpr std::size_t kEventCompactThreshold = 64;
  static constexpr std::size_t kRetainedEventCapacity = 1024;
  Stats stats_;
  Millis last_receive_{0};
  const amf::DecodeLimits *amf_limits_ = nullptr;
};

} // namespace rtmp
