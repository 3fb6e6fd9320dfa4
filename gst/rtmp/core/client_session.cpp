#include "core/client_session.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <utility>

#include "core/secure_token.hpp"
#include "core/shared_object.hpp"

namespace rtmp {
namespace {

// Transaction ids are AMF numbers (doubles); we only ever send integers that fit 32 bits.
std::optional<std::uint32_t> txn_of(double d) {
  if (!(d >= 0 && d <= 4294967295.0) || std::floor(d) != d)
    return std::nullopt;
  return static_cast<std::uint32_t>(d);
}

bool is_media_type(MessageType t) {
  return t == MessageType::audio || t == MessageType::video || t == MessageType::data_amf0 ||
         t == MessageType::data_amf3;
}

} // namespace

ClientSession::ClientSession(ClientConfig cfg)
    : Connection(Role::client, cfg.handshake, cfg.limits), cfg_(std::move(cfg)) {
  set_amf_limits(&cfg_.amf_limits);
}

ClientSession::~ClientSession() = default;

void ClientSession::start(Millis now) {
  if (state_ != State::idle)
    return;
  state_ = State::handshaking;
  handshake_deadline_ = deadline_from(now);
  start_handshake();
}

std::error_code ClientSession::receive(ByteView bytes, Millis now) {
  if (state_ == State::idle)
    return make_error_code(Errc::invalid_state);
  auto ec = receive_bytes(bytes, now);
  if (closed())
    state_ = State::closed;
  return ec;
}

void ClientSession::on_peer_closed() {
  state_ = State::closed;
}

void ClientSession::on_handshake_done(Millis now) {
  handshake_deadline_.reset();
  // Our chunk size first, so that connect already uses it (OBS and FMLE do the same).
  if (cfg_.chunk_size != chunk::kDefaultChunkSize)
    send_chunk_size(std::clamp<std::uint32_t>(cfg_.chunk_size, 1, chunk::kMaxChunkSize));

  ConnectParams p = cfg_.publishing ? ConnectParams::for_publish(cfg_.app, cfg_.tc_url)
                                    : ConnectParams::for_play(cfg_.app, cfg_.tc_url);
  p.flash_ver = cfg_.flash_ver;
  if (!cfg_.swf_url.empty())
    p.swf_url = cfg_.swf_url;
  if (!cfg_.page_url.empty())
    p.page_url = cfg_.page_url;
  p.extra_properties = cfg_.extra_connect_args;
  p.extra_arguments = cfg_.extra_connect_arguments;
  Command connect = make_connect(p, 1);
  if (auto *props = connect.command_object.properties(); props && !cfg_.capabilities.empty())
    add_enhanced_capabilities(*props, cfg_.capabilities);
  send_command(connect);
  pending_[1] = PendingCall{Pending::connect, deadline_from(now)};
  txn_counter_ = 1;
  state_ = State::connecting;
}

std::optional<Millis> ClientSession::next_deadline() const {
  if (state_ == State::closed || state_ == State::idle)
    return std::nullopt;
  std::optional<Millis> d = handshake_deadline_;
  auto consider = [&d](Millis m) {
    if (!d || m < *d)
      d = m;
  };
  for (const auto &[txn, p] : pending_)
    if (p.deadline)
      consider(*p.deadline);
  for (const auto &[id, w] : stream_waits_)
    if (w.deadline)
      consider(*w.deadline);
  return d;
}

void ClientSession::on_timer(Millis now) {
  if (state_ == State::closed || state_ == State::idle)
    return;
  if (handshake_deadline_ && now >= *handshake_deadline_) {
    fail(make_error_code(Errc::timeout), "timed out during the RTMP handshake");
    state_ = State::closed;
    return;
  }
  for (const auto &[txn, p] : pending_) {
    if (p.deadline && now >= *p.deadline) {
      std::string what = p.kind == Pending::connect         ? "the answer to connect"
                         : p.kind == Pending::create_stream ? "the answer to createStream"
                                                            : "the answer to a call";
      fail(make_error_code(Errc::timeout), "timed out waiting for " + what);
      state_ = State::closed;
      return;
    }
  }
  for (const auto &[id, w] : stream_waits_) {
    if (w.deadline && now >= *w.deadline) {
      fail(make_error_code(Errc::timeout),
           std::string("timed out waiting for ") +
               (w.kind == StreamWait::Kind::publish ? "NetStream.Publish.Start"
                                                    : "NetStream.Play.Start") +
               " on stream " + std::to_string(id));
      state_ = State::closed;
      return;
    }
  }
}

std::uint32_t ClientSession::next_txn(Pending kind, std::optional<Millis> deadline) {
  const std::uint32_t txn = ++txn_counter_;
  if (kind != Pending::ignored)
    pending_[txn] = PendingCall{kind, deadline};
  return txn;
}

std::error_code ClientSession::require_connected() const {
  if (state_ != State::connected || closed())
    return make_error_code(Errc::invalid_state);
  return {};
}

// ---- Incoming ---------------------------------------------------------------------------

std::error_code ClientSession::handle_message(Message &&msg, Millis now) {
  const MessageType t = msg.kind();
  if (t == MessageType::command_amf0 || t == MessageType::command_amf3) {
    auto cmd = decode_command(msg, cfg_.amf_limits);
    if (!cmd)
      return fail(cmd.error(), "invalid command from server: " + cmd.error().message());
    return handle_command(std::move(*cmd), msg.stream_id, now);
  }
  if (is_media_type(t)) {
    ++mutable_stats().media_messages_in;
    push_event(Media{std::move(msg)});
    return {};
  }
  if (t == MessageType::shared_object_amf0 || t == MessageType::shared_object_amf3) {
    auto so = decode_shared_object(msg, cfg_.amf_limits);
    if (!so) {
      note("invalid shared object message ignored: " + so.error().message());
      return {};
    }
    push_event(SharedObject{msg.stream_id, std::move(*so)});
    return {};
  }
  note("message of unknown type " + std::to_string(msg.type) + " ignored");
  return {};
}

std::error_code ClientSession::handle_command(Command &&cmd, std::uint32_t stream_id, Millis now) {
  if (cmd.name == cmd::result || cmd.name == cmd::error)
    return handle_result(std::move(cmd), cmd.name == cmd::result, now);
  if (cmd.name == cmd::on_status)
    return handle_on_status(std::move(cmd), stream_id);
  if (cmd.name == cmd::on_bw_done) {
    // FMS / nginx-rtmp send onBWDone after connect; FFmpeg and librtmp answer with _checkbw,
    // whose answer nobody waits for.
    if (state_ == State::connected)
      send_command(make_check_bw(next_txn(Pending::ignored, std::nullopt)));
    return {};
  }
  if (cmd.name == "_onbwcheck") {
    // FMS bandwidth check (librtmp answers with _result and the same payload).
    send_command(make_result(cmd.transaction_id, amf::Null{}, amf::Null{}));
    return {};
  }
  if (cmd.name == "_onbwdone")
    return {};
  if (cmd.name == cmd::on_fc_publish || cmd.name == cmd::on_fc_unpublish ||
      cmd.name == cmd::on_fc_subscribe) {
    if (auto *arg = cmd.argument(0)) {
      if (auto info = status_from(*arg)) {
        push_event(Status{stream_id, std::move(*info)});
        return {};
      }
    }
    note(cmd.name + " without an information object");
    return {};
  }
  if (cmd.name == cmd::close) {
    close("server sent close");
    state_ = State::closed;
    return {};
  }
  push_event(IncomingCall{std::move(cmd), stream_id});
  return {};
}

std::error_code ClientSession::handle_result(Command &&cmd, bool ok, Millis now) {
  const auto txn = txn_of(cmd.transaction_id);
  auto it = txn ? pending_.find(*txn) : pending_.end();
  if (it == pending_.end()) {
    note(std::string("unmatched ") + cmd.name + " for transaction " +
         std::to_string(cmd.transaction_id) + " ignored");
    return {};
  }
  const Pending kind = it->second.kind;
  pending_.erase(it);
  switch (kind) {
  case Pending::connect: {
    if (!ok) {
      const amf::Value *info_obj = cmd.argument(0);
      StatusInfo info;
      if (info_obj) {
        if (auto s = status_from(*info_obj))
          info = std::move(*s);
      }
      return handle_connect_error(info);
    }
    if (auto ec = answer_secure_token(cmd.argument(0)))
      return ec;
    state_ = State::connected;
    Connected c;
    c.properties = cmd.command_object;
    if (auto *info = cmd.argument(0))
      c.information = *info;
    c.capabilities = parse_enhanced_capabilities(c.properties);
    // Tell the server how often we want acknowledgements (librtmp does so after connect),
    // unless its Set Peer Bandwidth already made us send one (section 5.4.5).
    if (stats().ack_window_out == 0 && cfg_.window_ack_size != 0)
      send_window_ack_size(cfg_.window_ack_size);
    push_event(std::move(c));
    (void)now;
    return {};
  }
  case Pending::create_stream: {
    if (!ok) {
      std::string code, desc = "createStream failed";
      if (auto *a = cmd.argument(0))
        if (auto s = status_from(*a)) {
          code = s->code;
          desc = s->description.empty() ? desc : s->description;
        }
      push_event(Error{make_error_code(Errc::command_failed), desc, code, false});
      return {};
    }
    auto id = created_stream_id(cmd);
    if (!id || *id == 0) {
      push_event(Error{make_error_code(Errc::malformed),
                       "createStream answer carries no valid stream id",
                       {},
                       false});
      return {};
    }
    push_event(StreamCreated{*id});
    return {};
  }
  case Pending::call: {
    CommandResult r;
    r.txn = *txn;
    r.ok = ok;
    r.values.reserve(cmd.arguments.size() + 1);
    r.values.push_back(std::move(cmd.command_object));
    for (auto &a : cmd.arguments)
      r.values.push_back(std::move(a));
    push_event(std::move(r));
    return {};
  }
  case Pending::ignored:
    return {};
  }
  return {};
}

std::error_code ClientSession::handle_connect_error(const StatusInfo &info) {
  const std::string code = info.code.empty() ? std::string(status::connect_rejected) : info.code;
  auto finish = [&](Errc e, std::string description) {
    auto ec = fail(make_error_code(e), std::move(description), code);
    state_ = State::closed;
    return ec;
  };
  auto challenge = auth::parse_rejection(info.description);
  if (!challenge) {
    const Errc e = challenge.error() == make_error_code(Errc::auth_failed) ? Errc::auth_failed
                                                                           : Errc::connect_rejected;
    return finish(e, info.description.empty() ? "server rejected connect" : info.description);
  }
  // An authentication challenge (auth.hpp). Without credentials, or when the configured method
  // is another one, or when we already answered (the server rejecting our response means the
  // password is wrong), it ends here; otherwise the caller reconnects with AuthRetry's app.
  const auto app = auth::split_app_query(cfg_.app);
  const bool method_ok =
      cfg_.auth_method == auth::Method::automatic || cfg_.auth_method == challenge->method;
  if (cfg_.username.empty() || !method_ok || cfg_.auth_method == auth::Method::none)
    return finish(Errc::auth_failed, "server requires authentication (" +
                                         std::string(auth::to_string(challenge->method)) +
                                         "): " + info.description);
  std::string query;
  if (challenge->kind == auth::Challenge::Kind::need_user) {
    if (app.query.find("authmod=") != std::string::npos)
      return finish(Errc::auth_failed, "server asked for credentials again: " + info.description);
    query = auth::initial_query(challenge->method, cfg_.username);
  } else {
    if (app.query.find("response=") != std::string::npos)
      return finish(Errc::auth_failed, "authentication failed: " + info.description);
    // A fresh client nonce: 8 hex digits as FFmpeg sends.
    std::array<std::uint8_t, 4> rnd{};
    if (cfg_.handshake.random_fill) {
      cfg_.handshake.random_fill(rnd);
    } else {
      std::random_device dev;
      for (auto &b : rnd)
        b = static_cast<std::uint8_t>(dev());
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string nonce;
    for (auto b : rnd) {
      nonce.push_back(kHex[b >> 4]);
      nonce.push_back(kHex[b & 15]);
    }
    query = auth::response_query(*challenge, cfg_.password, nonce, app.app);
  }
  push_event(AuthRetry{app.app + query, query});
  close("authentication challenge: reconnect with credentials");
  state_ = State::closed;
  return {};
}

std::error_code ClientSession::answer_secure_token(const amf::Value *information) {
  const amf::Value *token = information ? information->find("secureToken") : nullptr;
  if (!token)
    return {};
  auto finish = [&](Errc e, std::string description) {
    auto ec = fail(make_error_code(e), std::move(description));
    state_ = State::closed;
    return ec;
  };
  if (!token->as_string())
    return finish(Errc::malformed, "the server's secureToken is not a string");
  if (cfg_.secure_token.empty())
    return finish(Errc::auth_failed,
                  "server requires secure token authentication (set the secure-token key)");
  auto plaintext = decrypt_secure_token(cfg_.secure_token, *token->as_string());
  if (!plaintext)
    return finish(plaintext.error() == make_error_code(Errc::limit_exceeded) ? Errc::limit_exceeded
                                                                             : Errc::malformed,
                  "invalid secureToken from the server: " + plaintext.error().message());
  // librtmp and rtmp2: a call with transaction id 0 (no answer expected), null, the plaintext.
  send_command(make_call("secureTokenResponse", 0, {std::move(*plaintext)}));
  note("answered the server's secureToken");
  return {};
}

std::error_code ClientSession::handle_on_status(Command &&cmd, std::uint32_t stream_id) {
  const amf::Value *arg = cmd.argument(0);
  std::optional<StatusInfo> parsed = arg ? status_from(*arg) : std::nullopt;
  if (!parsed) {
    note("onStatus without an information object ignored");
    return {};
  }
  StatusInfo info = std::move(*parsed);
  // Some servers send a stream's onStatus on message stream 0: attribute it to the stream we
  // are waiting for when there is exactly one.
  if (stream_id == 0 && stream_waits_.size() == 1)
    stream_id = stream_waits_.begin()->first;
  auto wait = stream_waits_.find(stream_id);
  const std::string code = info.code;
  const bool error = info.is_error();
  const std::string description = info.description;
  push_event(Status{stream_id, std::move(info)});

  if (code == status::publish_start) {
    stream_waits_.erase(stream_id);
    start_streaming();
    push_event(PublishStarted{stream_id});
  } else if (code == status::play_start) {
    stream_waits_.erase(stream_id);
    // What follows may be onMetaData with a keyframe index: beyond the setup bound.
    start_streaming();
    push_event(PlayStarted{stream_id});
  } else if (code == status::play_stop || code == status::play_complete ||
             code == status::play_unpublish_notify) {
    push_event(PlayStopped{stream_id, code});
  } else if (code == status::unpublish_success) {
    push_event(Unpublished{stream_id});
  } else if (error) {
    Errc e = Errc::command_failed;
    if (wait != stream_waits_.end())
      e = wait->second.kind == StreamWait::Kind::publish ? Errc::publish_rejected
                                                         : Errc::play_failed;
    else if (code.starts_with("NetStream.Publish"))
      e = Errc::publish_rejected;
    else if (code.starts_with("NetStream.Play"))
      e = Errc::play_failed;
    stream_waits_.erase(stream_id);
    push_event(Error{make_error_code(e), description.empty() ? code : description, code, false});
  }
  return {};
}

// ---- Commands ---------------------------------------------------------------------------

std::error_code ClientSession::create_stream(Millis now) {
  if (auto ec = require_connected())
    return ec;
  if (pending_.size() >= kMaxPendingCalls)
    return make_error_code(Errc::limit_exceeded);
  send_command(make_create_stream(next_txn(Pending::create_stream, deadline_from(now))));
  return {};
}

std::error_code ClientSession::publish(std::uint32_t stream_id, std::string name, std::string type,
                                       Millis now) {
  if (auto ec = require_connected())
    return ec;
  auto t = publish_type_from(type.empty() ? "live" : type);
  if (!t || stream_id == 0 || name.empty())
    return make_error_code(Errc::invalid_argument);
  // FFmpeg / OBS order: releaseStream and FCPublish (answers ignored), then publish whose
  // answer is an onStatus on the stream (RTMP 1.0 section 7.2.2.6).
  send_command(make_release_stream(next_txn(Pending::ignored, std::nullopt), name));
  send_command(make_fc_publish(next_txn(Pending::ignored, std::nullopt), name));
  send_command(make_publish(0, name, *t), stream_id);
  stream_waits_[stream_id] = StreamWait{StreamWait::Kind::publish, deadline_from(now)};
  return {};
}

std::error_code ClientSession::play(std::uint32_t stream_id, std::string name, double start,
                                    double duration, bool reset, Millis now) {
  if (auto ec = require_connected())
    return ec;
  if (stream_id == 0 || name.empty())
    return make_error_code(Errc::invalid_argument);
  PlayParams p;
  p.stream_name = std::move(name);
  p.start = start;
  p.duration = duration;
  p.reset = reset;
  send_command(make_play(0, p), stream_id);
  // FFmpeg and Flash tell the server their buffer right after play; some servers (FMS, Wowza)
  // pace the start of a recorded stream by it.
  if (cfg_.buffer_length.count() > 0)
    send_user_control(UserControl{static_cast<std::uint16_t>(UserControlEvent::set_buffer_length),
                                  stream_id,
                                  static_cast<std::uint32_t>(cfg_.buffer_length.count())});
  stream_waits_[stream_id] = StreamWait{StreamWait::Kind::play, deadline_from(now)};
  return {};
}

std::error_code ClientSession::play2(std::uint32_t stream_id, amf::Value parameters) {
  if (auto ec = require_connected())
    return ec;
  send_command(make_play2(0, std::move(parameters)), stream_id);
  return {};
}

std::error_code ClientSession::seek(std::uint32_t stream_id, double ms) {
  if (auto ec = require_connected())
    return ec;
  send_command(make_seek(0, ms), stream_id);
  return {};
}

std::error_code ClientSession::pause(std::uint32_t stream_id, bool paused, double ms) {
  if (auto ec = require_connected())
    return ec;
  send_command(make_pause(0, paused, ms), stream_id);
  return {};
}

std::error_code ClientSession::receive_audio(std::uint32_t stream_id, bool enabled) {
  if (auto ec = require_connected())
    return ec;
  send_command(make_receive_audio(enabled), stream_id);
  return {};
}

std::error_code ClientSession::receive_video(std::uint32_t stream_id, bool enabled) {
  if (auto ec = require_connected())
    return ec;
  send_command(make_receive_video(enabled), stream_id);
  return {};
}

std::error_code ClientSession::set_buffer_length(std::uint32_t stream_id, std::uint32_t ms) {
  if (auto ec = require_connected())
    return ec;
  send_user_control(
      UserControl{static_cast<std::uint16_t>(UserControlEvent::set_buffer_length), stream_id, ms});
  return {};
}

std::error_code ClientSession::send_media(std::uint32_t stream_id, MessageType type,
                                          std::uint32_t timestamp, ByteView payload) {
  if (state_ != State::connected || closed())
    return make_error_code(Errc::invalid_state);
  if (!is_media_type(type) || stream_id == 0 || payload.size() > chunk::kMaxMessageLength)
    return make_error_code(Errc::invalid_argument);
  send_media_message(stream_id, type, timestamp, payload);
  return {};
}

std::error_code ClientSession::unpublish(std::uint32_t stream_id, std::string name) {
  if (auto ec = require_connected())
    return ec;
  (void)stream_id;
  send_command(make_fc_unpublish(next_txn(Pending::ignored, std::nullopt), name));
  return {};
}

std::error_code ClientSession::delete_stream(std::uint32_t stream_id) {
  if (auto ec = require_connected())
    return ec;
  stream_waits_.erase(stream_id);
  // FFmpeg sends deleteStream on message stream 0 with transaction id 0 (no answer expected).
  send_command(make_delete_stream(0, stream_id));
  return {};
}

std::error_code ClientSession::close_stream(std::uint32_t stream_id) {
  if (auto ec = require_connected())
    return ec;
  stream_waits_.erase(stream_id);
  send_command(make_close_stream(0), stream_id);
  return {};
}

std::uint32_t ClientSession::call(std::string name, std::vector<amf::Value> args,
                                  std::optional<Millis> now) {
  if (state_ != State::connected || closed() || pending_.size() >= kMaxPendingCalls || name.empty())
    return 0;
  std::optional<Millis> deadline;
  if (now)
    deadline = deadline_from(*now);
  const std::uint32_t txn = next_txn(Pending::call, deadline);
  send_command(make_call(name, txn, std::move(args)));
  return txn;
}

std::error_code ClientSession::set_chunk_size(std::uint32_t size) {
  if (size < 1 || size > chunk::kMaxChunkSize)
    return make_error_code(Errc::invalid_argument);
  if (state_ == State::idle || state_ == State::closed || closed())
    return make_error_code(Errc::invalid_state);
  cfg_.chunk_size = size;
  if (state_ != State::handshaking && size != stats().chunk_size_out)
    send_chunk_size(size);
  return {};
}

} // namespace rtmp
