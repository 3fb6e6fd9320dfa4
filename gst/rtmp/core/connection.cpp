#include "core/connection.hpp"

#include <iterator>
#include <type_traits>
#include <utility>

#include "core/aggregate.hpp"

namespace rtmp {

const char *event_name(const Event &e) {
  // Same order as the Event variant (session_events.hpp).
  static constexpr const char *kNames[] = {"HandshakeDone",
                                           "Status",
                                           "Media",
                                           "StreamBegin",
                                           "StreamEof",
                                           "StreamDry",
                                           "StreamIsRecorded",
                                           "PingRtt",
                                           "PeerChunkSize",
                                           "SharedObject",
                                           "Error",
                                           "Closed",
                                           "Note",
                                           "Connected",
                                           "StreamCreated",
                                           "PublishStarted",
                                           "PlayStarted",
                                           "PlayStopped",
                                           "Unpublished",
                                           "CommandResult",
                                           "IncomingCall",
                                           "AuthRetry",
                                           "ConnectRequest",
                                           "PublishRequest",
                                           "PlayRequest",
                                           "Play2Request",
                                           "ReleaseStream",
                                           "FCPublish",
                                           "FCUnpublish",
                                           "DeleteStream",
                                           "CloseStream",
                                           "Seek",
                                           "Pause",
                                           "ReceiveAudio",
                                           "ReceiveVideo",
                                           "SetBufferLength"};
  static_assert(std::size(kNames) == std::variant_size_v<Event>,
                "event_name() must name every Event alternative");
  return kNames[e.index()];
}

bool over_peer_bandwidth(const Stats &s) {
  if (s.peer_bandwidth == 0)
    return false;
  // Acknowledgement sequence numbers wrap at 2^32 (RTMP 1.0 section 5.4.3): compare modulo.
  const auto unacked = static_cast<std::uint32_t>(s.bytes_out) - s.last_ack_received;
  return unacked > s.peer_bandwidth;
}

Connection::Connection(Role role, const HandshakeOptions &handshake, const ChunkLimits &limits)
    : role_(role), reader_(limits) {
  if (role == Role::client)
    hs_client_ = std::make_unique<HandshakeClient>(handshake);
  else
    hs_server_ = std::make_unique<HandshakeServer>(handshake);
}

Connection::~Connection() = default;

// The queue relocates events when it grows: a throwing move would make std::vector copy them
// (payloads included) instead.
static_assert(std::is_nothrow_move_constructible_v<Event>);

std::optional<Event> Connection::poll_event() {
  if (events_head_ == events_.size())
    return std::nullopt;
  Event e = std::move(events_[events_head_++]);
  if (events_head_ == events_.size()) {
    // Drained: start again at the front, keeping a modest capacity (a burst up to
    // kMaxQueuedEvents must not stay allocated for the rest of the connection).
    if (events_.capacity() > kRetainedEventCapacity)
      std::vector<Event>().swap(events_);
    else
      events_.clear();
    events_head_ = 0;
  } else if (events_head_ >= kEventCompactThreshold && 2 * events_head_ >= events_.size()) {
    // A caller that never drains completely: drop the polled half (amortised O(1) per event).
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(events_head_));
    events_head_ = 0;
  }
  return e;
}

Bytes Connection::take_output() {
  Bytes b;
  b.swap(out_);
  return b;
}

void Connection::take_output(Bytes &into) {
  into.clear();
  into.swap(out_);
}

void Connection::push_event(Event e) {
  events_.push_back(std::move(e));
}

std::error_code Connection::fail(std::error_code code, std::string description,
                                 std::string status_code) {
  if (closed_)
    return code;
  push_event(Error{code, std::move(description), std::move(status_code), true});
  close(code.message());
  return code;
}

void Connection::close(std::string reason) {
  if (closed_)
    return;
  closed_ = true;
  push_event(Closed{std::move(reason)});
}

void Connection::peer_closed(std::string reason) {
  if (closed_)
    return;
  on_peer_closed();
  close(std::move(reason));
}

// Why waiting for receive_low_water() bytes adds no latency:
//
// - From a peer that does not interleave chunk streams, the next message begins after the last
//   byte of the one in progress, so nothing can be output before
//   ChunkReader::bytes_to_complete_message() more bytes arrived; waking earlier only feeds a
//   partial message. If the peer pauses in the middle, nothing could be output meanwhile either.
// - "An interleaved message waits at most as long as the message in progress takes to arrive,
//   which a non-interleaving sender would have made it wait anyway" holds in bytes, not in time:
//   it compares with a different sender. Interleaving exists so that small messages overtake
//   large ones (RTMP 1.0 section 5.3: "to prevent large low-priority messages (such as video)
//   from blocking smaller high-priority messages (such as audio or control)"): a server that
//   feeds a keyframe at the link rate, or a relay that forwards chunks as they come, interleaves
//   audio that would then be held until the keyframe is complete, and a peer that pauses after an
//   interleaved message would have it held for the pause. So once the peer has interleaved
//   (ChunkReader::peer_interleaves()) the wait is only for the rest of the chunk being read:
//   inside one chunk's payload nothing of another chunk stream can come, whatever the peer.
//   The first interleaved message of a connection (seen only once it happened) can be held until
//   the message in progress completes or kMaxReceiveLowWater bytes arrived, once.
// - Acknowledgements: the wait ends at the latest when we owe one (5.4.3), as it did without it,
//   so a peer that stops at its window until acknowledged is acknowledged as before.
// - Everything else wakes the driver regardless: end of stream and socket errors, writability,
//   timers and cancellation (net/transport.hpp).
std::size_t Connection::receive_low_water() const {
  if (!handshake_done_ || closed_)
    return 1;
  std::size_t need = reader_.peer_interleaves() ? reader_.bytes_to_complete_chunk()
                                                : reader_.bytes_to_complete_message();
  if (auto until_ack = acks_.bytes_until_ack(stats_.bytes_in))
    need = static_cast<std::size_t>(std::min<std::uint64_t>(need, *until_ack));
  return std::clamp<std::size_t>(need, 1, kMaxReceiveLowWater);
}

void Connection::start_handshake() {
  if (!hs_client_)
    return;
  const auto before = out_.size();
  Bytes c0c1 = hs_client_->start();
  out_.insert(out_.end(), c0c1.begin(), c0c1.end());
  stats_.bytes_out += out_.size() - before;
}

std::error_code Connection::receive_bytes(ByteView in, Millis now) {
  if (closed_)
    return make_error_code(Errc::invalid_state);
  stats_.bytes_in += in.size();
  last_receive_ = now;
  if (!handshake_done_) {
    const auto before = out_.size();
    Result<std::size_t> used =
        hs_client_ ? hs_client_->receive(in, out_) : hs_server_->receive(in, out_);
    stats_.bytes_out += out_.size() - before;
    if (!used) {
      const HandshakeBase &hs = hs_client_ ? static_cast<const HandshakeBase &>(*hs_client_)
                                           : static_cast<const HandshakeBase &>(*hs_server_);
      return fail(used.error(), "handshake failed: " + (hs.error_detail().empty()
                                                            ? used.error().message()
                                                            : std::string(hs.error_detail())));
    }
    const bool done = hs_client_ ? hs_client_->done() : hs_server_->done();
    if (!done)
      return {};
    handshake_done_ = true;
    const HandshakeBase &hs = hs_client_ ? static_cast<const HandshakeBase &>(*hs_client_)
                                         : static_cast<const HandshakeBase &>(*hs_server_);
    push_event(HandshakeDone{hs.peer_version(), hs.peer_epoch(), hs.peer_software_version(),
                             hs.peer_used_digest()});
    on_handshake_done(now);
    in = in.subspan(std::min(*used, in.size()));
    if (closed_)
      return {};
  }
  return receive_chunks(in, now);
}

std::error_code Connection::receive_chunks(ByteView in, Millis now) {
  if (in.empty())
    return {};
  while (!in.empty()) {
    incoming_.clear();
    // Until the role starts streaming, the reader stops after each message and the message is
    // dispatched before the next header is read, so that NetStream.Play.Start lifts the setup
    // bound for a large onMetaData right behind it in the same read. Then all at once.
    std::error_code read_error;
    if (reader_.streaming()) {
      read_error = reader_.read(in, incoming_);
      in = {};
    } else if (auto used = reader_.read_some(in, incoming_)) {
      in = in.subspan(*used);
    } else {
      read_error = used.error();
      in = {};
    }
    stats_.messages_in += incoming_.size();
    // On a chunk error, what was complete before the bad bytes is still delivered, then we fail.
    for (auto &m : incoming_) {
      if (closed_)
        break;
      std::error_code ec = deliver(std::move(m), now);
      if (!ec && queued_events() > kMaxQueuedEvents)
        ec = fail(make_error_code(Errc::limit_exceeded),
                  "too many events queued (caller not draining poll_event())");
      if (ec) {
        incoming_.clear();
        return ec;
      }
    }
    incoming_.clear();
    if (read_error)
      return fail(read_error, reader_.error_detail().empty()
                                  ? "invalid chunk stream: " + read_error.message()
                                  : reader_.error_detail());
    if (closed_)
      return {};
  }
  // Acknowledge every window of received bytes (RTMP 1.0 section 5.4.3), counting all bytes
  // including the handshake as FFmpeg and librtmp do.
  if (auto seq = acks_.on_bytes_received(stats_.bytes_in)) {
    send_message(make_acknowledgement(*seq));
    ++stats_.acks_sent;
  }
  return {};
}

std::error_code Connection::deliver(Message &&msg, Millis now) {
  if (!paused_)
    return dispatch(std::move(msg), now);
  held_bytes_ += msg.payload.size();
  held_.push_back(std::move(msg));
  if (held_.size() > kMaxHeldMessages || held_bytes_ > kMaxHeldBytes)
    return fail(make_error_code(Errc::limit_exceeded),
                "peer sent too much while a request awaited an answer");
  return {};
}

void Connection::resume_input() {
  paused_ = false;
  while (!paused_ && !closed_ && !held_.empty()) {
    Message m = std::move(held_.front());
    held_.pop_front();
    held_bytes_ -= m.payload.size();
    if (dispatch(std::move(m), last_receive_))
      break;
  }
}

std::error_code Connection::dispatch(Message &&msg, Millis now) {
  if (is_protocol_control(msg.kind())) {
    // Protocol control messages belong to message stream 0 / chunk stream 2 (section 5.4) but
    // peers are lax about the stream; accept them anywhere, as FFmpeg and nginx-rtmp do.
    if (auto ec = handle_control(msg, now))
      return fail(ec, "invalid protocol control message (type " + std::to_string(msg.type) +
                          "): " + ec.message());
    return {};
  }
  switch (msg.kind()) {
  case MessageType::aggregate: {
    // Section 7.1.6: the sub-messages are FLV tags; deliver them in order.
    auto parts = split_aggregate(msg);
    if (!parts)
      return fail(parts.error(), "invalid aggregate message: " + parts.error().message());
    for (auto &sub : *parts) {
      if (closed_)
        break;
      if (auto ec = deliver(std::move(sub), now))
        return ec;
    }
    return {};
  }
  default:
    return handle_message(std::move(msg), now);
  }
}

std::error_code Connection::handle_control(const Message &msg, Millis now) {
  switch (msg.kind()) {
  case MessageType::set_chunk_size: {
    // The reader already switched (section 5.4.1); parse again only to report it.
    auto size = parse_set_chunk_size(msg.payload);
    if (!size)
      return size.error();
    stats_.chunk_size_in = *size;
    push_event(PeerChunkSize{*size});
    return {};
  }
  case MessageType::abort:
    note("peer aborted a message (Abort, section 5.4.2)");
    return {};
  case MessageType::acknowledgement: {
    auto seq = parse_u32_payload(msg.payload);
    if (!seq)
      return seq.error();
    ++stats_.acks_received;
    stats_.last_ack_received = *seq;
    return {};
  }
  case MessageType::user_control:
    return handle_user_control(msg, now);
  case MessageType::window_ack_size: {
    auto window = parse_u32_payload(msg.payload);
    if (!window)
      return window.error();
    const std::uint32_t w = std::max(*window, kMinAckWindow);
    acks_.set_window(w);
    stats_.ack_window_in = w;
    return {};
  }
  case MessageType::set_peer_bandwidth: {
    auto pb = parse_set_peer_bandwidth(msg.payload);
    if (!pb)
      return pb.error();
    auto reply = bandwidth_.on_set_peer_bandwidth(*pb);
    if (auto limit = bandwidth_.limit()) {
      stats_.peer_bandwidth = *limit;
      stats_.peer_bandwidth_type = bandwidth_.limit_type().value_or(PeerBandwidthLimit::hard);
    }
    if (reply)
      send_window_ack_size(*reply);
    return {};
  }
  default:
    return {};
  }
}

std::error_code Connection::handle_user_control(const Message &msg, Millis now) {
  auto uc = parse_user_control(msg.payload);
  if (!uc)
    return uc.error();
  switch (uc->kind()) {
  case UserControlEvent::stream_begin:
    push_event(StreamBegin{uc->value});
    break;
  case UserControlEvent::stream_eof:
    push_event(StreamEof{uc->value});
    break;
  case UserControlEvent::stream_dry:
    push_event(StreamDry{uc->value});
    break;
  case UserControlEvent::set_buffer_length:
    push_event(SetBufferLength{uc->value, uc->value2});
    break;
  case UserControlEvent::stream_is_recorded:
    push_event(StreamIsRecorded{uc->value});
    break;
  case UserControlEvent::ping_request:
    // Section 7.1.7: answer with a PingResponse carrying the same timestamp.
    send_user_control(
        UserControl{static_cast<std::uint16_t>(UserControlEvent::ping_response), uc->value, 0});
    break;
  case UserControlEvent::ping_response:
    if (ping_sent_ && *ping_sent_ == uc->value) {
      const auto sent = static_cast<std::uint32_t>(now.count());
      const Millis rtt{static_cast<std::uint32_t>(sent - *ping_sent_)};
      ping_sent_.reset();
      stats_.rtt = rtt;
      push_event(PingRtt{rtt});
    } else {
      note("unsolicited ping response ignored");
    }
    break;
  case UserControlEvent::buffer_empty:
  case UserControlEvent::buffer_ready:
    // FMS/Wowza extensions (31/32): informational only.
    break;
  default:
    note("unknown user control event " + std::to_string(uc->event) + " ignored");
    break;
  }
  return {};
}

std::error_code Connection::ping(Millis now) {
  if (closed_ || !handshake_done_)
    return make_error_code(Errc::invalid_state);
  const auto ts = static_cast<std::uint32_t>(now.count());
  ping_sent_ = ts;
  send_user_control(UserControl{static_cast<std::uint16_t>(UserControlEvent::ping_request), ts, 0});
  return {};
}

void Connection::send_message(const Message &msg) {
  send_chunks(MessageHeader{msg.type, msg.timestamp, msg.stream_id, msg.chunk_stream_id},
              msg.payload);
}

void Connection::send_chunks(const MessageHeader &header, ByteView payload) {
  // The writer grows out_ geometrically, so queuing many messages before take_output() costs
  // amortised O(1) per byte.
  const auto before = out_.size();
  writer_.write(header, payload, out_);
  stats_.bytes_out += out_.size() - before;
  ++stats_.messages_out;
}

void Connection::send_command(const Command &cmd, std::uint32_t stream_id) {
  send_message(encode_command(cmd, stream_id));
}

void Connection::send_media_message(std::uint32_t stream_id, MessageType type,
                                    std::uint32_t timestamp, ByteView payload) {
  // Straight from the caller's buffer into the chunks: the payload is copied once.
  send_chunks(MessageHeader{static_cast<std::uint8_t>(type), timestamp, stream_id, 0}, payload);
  ++stats_.media_messages_out;
}

void Connection::send_user_control(const UserControl &uc) {
  send_message(make_user_control(uc));
}

void Connection::send_chunk_size(std::uint32_t size) {
  send_message(make_set_chunk_size(size));
  writer_.set_chunk_size(size);
  stats_.chunk_size_out = size;
}

void Connection::send_window_ack_size(std::uint32_t size) {
  send_message(make_window_ack_size(size));
  bandwidth_.note_window_ack_size_sent(size);
  stats_.ack_window_out = size;
}

void Connection::send_peer_bandwidth(std::uint32_t size, PeerBandwidthLimit type) {
  send_message(make_set_peer_bandwidth(size, type));
}

} // namespace rtmp
