#include "core/server_session.hpp"

#include <algorithm>
#include <utility>

#include "core/shared_object.hpp"

namespace rtmp {
namespace {

bool is_media_type(MessageType t) {
  return t == MessageType::audio || t == MessageType::video || t == MessageType::data_amf0 ||
         t == MessageType::data_amf3;
}

std::string string_arg(const Command &c, std::size_t i) {
  if (auto *v = c.argument(i))
    if (auto *s = v->as_string())
      return *s;
  return {};
}

std::optional<double> number_arg(const Command &c, std::size_t i) {
  if (auto *v = c.argument(i))
    return v->as_number();
  return std::nullopt;
}

// "name?key=value" -> {"name", "key=value"}.
std::pair<std::string, std::string> split_name_query(const std::string &s) {
  const auto q = s.find('?');
  if (q == std::string::npos)
    return {s, {}};
  return {s.substr(0, q), s.substr(q + 1)};
}

} // namespace

ServerSession::ServerSession(ServerConfig cfg)
    : Connection(Role::server, cfg.handshake, cfg.limits), cfg_(std::move(cfg)) {
  set_amf_limits(&cfg_.amf_limits);
}

ServerSession::~ServerSession() = default;

void ServerSession::start(Millis now) {
  started_ = now;
  if (cfg_.handshake_timeout.count() > 0)
    connect_deadline_ = now + cfg_.handshake_timeout;
}

std::error_code ServerSession::receive(ByteView bytes, Millis now) {
  if (state_ == State::closed || closed())
    return make_error_code(Errc::invalid_state);
  auto ec = receive_bytes(bytes, now);
  if (closed())
    state_ = State::closed;
  return ec;
}

void ServerSession::on_handshake_done(Millis) {
  state_ = State::awaiting_connect;
}

std::optional<Millis> ServerSession::next_deadline() const {
  if (state_ == State::closed || closed())
    return std::nullopt;
  std::optional<Millis> d = connect_deadline_;
  if (cfg_.idle_timeout.count() > 0) {
    const Millis idle = std::max(started_, last_receive()) + cfg_.idle_timeout;
    if (!d || idle < *d)
      d = idle;
  }
  return d;
}

void ServerSession::on_timer(Millis now) {
  if (state_ == State::closed || closed())
    return;
  if (connect_deadline_ && now >= *connect_deadline_) {
    fail(make_error_code(Errc::timeout), state_ == State::handshaking
                                             ? "timed out during the RTMP handshake"
                                             : "timed out waiting for connect");
    state_ = State::closed;
    return;
  }
  if (cfg_.idle_timeout.count() > 0 &&
      now >= std::max(started_, last_receive()) + cfg_.idle_timeout) {
    fail(make_error_code(Errc::timeout), "no data received from the client for " +
                                             std::to_string(cfg_.idle_timeout.count()) + " ms");
    state_ = State::closed;
  }
}

void ServerSession::on_peer_closed() {
  for (auto &[id, s] : streams_)
    if (s.state == StreamState::publishing)
      push_event(Unpublished{id});
  state_ = State::closed;
}

ServerSession::Stream *ServerSession::find_stream(std::uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : &it->second;
}

void ServerSession::send_stream_status(std::uint32_t stream_id, std::string_view level,
                                       std::string_view code, std::string_view description) {
  Connection::send_command(make_on_status(make_status_object(level, code, description)), stream_id);
}

// ---- Incoming ---------------------------------------------------------------------------

std::error_code ServerSession::handle_message(Message &&msg, Millis now) {
  const MessageType t = msg.kind();
  if (t == MessageType::command_amf0 || t == MessageType::command_amf3) {
    auto cmd = decode_command(msg, cfg_.amf_limits);
    if (!cmd)
      return fail(cmd.error(), "invalid command from client: " + cmd.error().message());
    return handle_command(std::move(*cmd), msg.stream_id, now);
  }
  if (is_media_type(t)) {
    Stream *s = find_stream(msg.stream_id);
    // Media on a stream nobody accepted is dropped (counted, not an error: a publisher may
    // still be sending while we reject or close the stream).
    if (state_ != State::connected || !s || s->state != StreamState::publishing) {
      ++mutable_stats().media_dropped;
      return {};
    }
    ++mutable_stats().media_messages_in;
    push_event(Media{std::move(msg)});
    return {};
  }
  if (t == MessageType::shared_object_amf0 || t == MessageType::shared_object_amf3) {
    if (state_ != State::connected)
      return fail(make_error_code(Errc::protocol_violation),
                  "shared object message before connect");
    return handle_shared_object(msg);
  }
  note("message of unknown type " + std::to_string(msg.type) + " ignored");
  return {};
}

std::error_code ServerSession::handle_shared_object(const Message &msg) {
  auto so = decode_shared_object(msg, cfg_.amf_limits);
  if (!so)
    return fail(so.error(), "invalid shared object message: " + so.error().message());
  const bool use = std::any_of(so->events.begin(), so->events.end(),
                               [](const auto &e) { return e.type == SharedObjectEventType::use; });
  if (use) {
    // We keep no shared object state: answer Use with Use Success and an empty object
    // (Clear), as FMS does for a new object (RTMP 1.0 section 7.1.3).
    SharedObjectMessage reply;
    reply.name = so->name;
    reply.persistent = so->persistent;
    reply.events.push_back(SharedObjectEvent{SharedObjectEventType::use_success});
    reply.events.push_back(SharedObjectEvent{SharedObjectEventType::clear});
    send_message(
        encode_shared_object(reply, msg.stream_id, msg.kind() == MessageType::shared_object_amf3));
  }
  push_event(SharedObject{msg.stream_id, std::move(*so)});
  return {};
}

std::error_code ServerSession::handle_command(Command &&cmd, std::uint32_t stream_id, Millis now) {
  switch (state_) {
  case State::handshaking:
  case State::closed:
    return {};
  case State::awaiting_connect:
    if (cmd.name != cmd::connect)
      return fail(make_error_code(Errc::protocol_violation),
                  "command '" + cmd.name + "' before connect");
    return handle_connect(std::move(cmd), now);
  case State::connect_pending:
    // Input is paused until the answer (pause_input()); nothing arrives here.
    return fail(make_error_code(Errc::protocol_violation), "command before connect was answered");
  case State::connected:
    break;
  }
  const std::string &name = cmd.name;
  const double txn = cmd.transaction_id;
  if (name == cmd::connect)
    return fail(make_error_code(Errc::protocol_violation), "second connect");
  if (name == cmd::create_stream) {
    if (streams_.size() >= cfg_.max_streams) {
      Connection::send_command(
          make_error(txn, amf::Null{},
                     make_status_object(status::level_error, "NetConnection.CreateStream.Failed",
                                        "too many streams")));
      note("createStream refused: " + std::to_string(cfg_.max_streams) + " streams open");
      return {};
    }
    // Stream ids count up from 1 (0 is the NetConnection); skip ids still in use after wrap.
    while (next_stream_id_ == 0 || streams_.count(next_stream_id_))
      ++next_stream_id_;
    const std::uint32_t id = next_stream_id_++;
    streams_[id] = Stream{};
    Connection::send_command(make_create_stream_result(txn, id));
    return {};
  }
  if (name == cmd::release_stream) {
    push_event(ReleaseStream{string_arg(cmd, 0)});
    return {};
  }
  if (name == cmd::fc_publish) {
    std::string stream = string_arg(cmd, 0);
    Connection::send_command(make_on_fc_publish(stream));
    push_event(FCPublish{std::move(stream)});
    return {};
  }
  if (name == cmd::fc_unpublish) {
    std::string stream = string_arg(cmd, 0);
    Connection::send_command(make_on_fc_unpublish(stream));
    push_event(FCUnpublish{std::move(stream)});
    return {};
  }
  if (name == cmd::delete_stream) {
    auto id = number_arg(cmd, 0);
    if (!id || *id < 1 || *id > 4294967295.0) {
      note("deleteStream without a valid stream id ignored");
      return {};
    }
    drop_stream(static_cast<std::uint32_t>(*id));
    return {};
  }
  if (name == cmd::check_bw) {
    Connection::send_command(make_result(txn, amf::Null{}, amf::Null{}));
    return {};
  }
  if (name == cmd::result || name == cmd::error) {
    note("client sent " + name + " for transaction " + std::to_string(txn) + ", ignored");
    return {};
  }
  if (name == cmd::close) {
    close("client sent close");
    state_ = State::closed;
    return {};
  }
  if (name == cmd::publish || name == cmd::play || name == cmd::play2 || name == cmd::seek ||
      name == cmd::pause || name == cmd::receive_audio || name == cmd::receive_video ||
      name == cmd::close_stream)
    return handle_stream_command(std::move(cmd), stream_id);
  push_event(IncomingCall{std::move(cmd), stream_id});
  return {};
}

std::error_code ServerSession::handle_connect(Command &&cmd, Millis now) {
  auto params = parse_connect(cmd);
  if (!params)
    return fail(params.error(), "invalid connect command: " + params.error().message());
  connect_txn_ = cmd.transaction_id;
  object_encoding_ = params->object_encoding.value_or(0);

  ConnectRequest req;
  req.txn = cmd.transaction_id >= 0 && cmd.transaction_id < 4294967296.0
                ? static_cast<std::uint32_t>(cmd.transaction_id)
                : 0;
  req.app = params->app;
  req.tc_url = params->tc_url;
  req.flash_ver = params->flash_ver;
  req.object_encoding = object_encoding_;
  req.capabilities = parse_enhanced_capabilities(cmd.command_object);
  offered_ = req.capabilities;

  if (cfg_.auth.enabled()) {
    auth::ServerDecision d = auth::check_connect(cfg_.auth, params->app, params->tc_url, now);
    if (!d.accepted) {
      // A challenge step or a failure: the client reconnects (auth.hpp), nothing for the app.
      // app() still names the application asked for, so that a server hosting several can
      // tell the right one about the failure.
      app_ = auth::split_app_query(params->app).app;
      Connection::send_command(make_connect_rejected(connect_txn_, d.description));
      if (d.error)
        push_event(Error{d.error, "client authentication failed: " + d.description,
                         std::string(status::connect_rejected), false});
      else
        note("authentication challenge sent: " + d.description);
      close("connect rejected (authentication)");
      state_ = State::closed;
      return {};
    }
    req.app = d.app;
  } else {
    req.app = auth::split_app_query(params->app).app;
  }
  app_ = req.app;
  req.command_object = std::move(cmd.command_object);
  req.args = std::move(cmd.arguments);
  state_ = State::connect_pending;
  push_event(std::move(req));
  // Whatever the client pipelined waits for the answer (accept_connect / reject_connect).
  pause_input();
  return {};
}

std::error_code ServerSession::handle_stream_command(Command &&cmd, std::uint32_t stream_id) {
  const std::string &name = cmd.name;
  Stream *s = find_stream(stream_id);
  if (!s) {
    // A NetStream command on a stream we never created: refuse it on that stream.
    if (name == cmd::publish)
      send_stream_status(stream_id, status::level_error, status::publish_bad_name,
                         "publish on a stream that was not created");
    else if (name == cmd::play)
      send_stream_status(stream_id, status::level_error, status::play_failed,
                         "play on a stream that was not created");
    note(name + " on unknown stream " + std::to_string(stream_id) + " ignored");
    return {};
  }
  if (name == cmd::publish) {
    if (s->state != StreamState::created) {
      send_stream_status(stream_id, status::level_error, status::publish_bad_name,
                         "stream is busy");
      return {};
    }
    auto [stream_name, query] = split_name_query(string_arg(cmd, 0));
    if (stream_name.empty()) {
      send_stream_status(stream_id, status::level_error, status::publish_bad_name,
                         "no stream name");
      return {};
    }
    std::string type = string_arg(cmd, 1);
    if (type.empty())
      type = "live";
    s->state = StreamState::publish_pending;
    s->name = stream_name;
    push_event(
        PublishRequest{stream_id, std::move(stream_name), std::move(type), std::move(query)});
    // Metadata and media follow without waiting for our answer (FFmpeg): hold them until it.
    pause_input();
    return {};
  }
  if (name == cmd::play) {
    if (s->state != StreamState::created) {
      send_stream_status(stream_id, status::level_error, status::play_failed, "stream is busy");
      return {};
    }
    auto p = parse_play(cmd);
    if (!p || p->stream_name.empty()) {
      send_stream_status(stream_id, status::level_error, status::play_stream_not_found,
                         "no stream name");
      return {};
    }
    auto [stream_name, query] = split_name_query(p->stream_name);
    PlayRequest req{
        stream_id, stream_name, query, p->start, p->duration.value_or(-1), p->reset.value_or(true)};
    s->state = StreamState::play_pending;
    s->name = stream_name;
    s->reset = req.reset;
    push_event(std::move(req));
    pause_input();
    return {};
  }
  if (name == cmd::close_stream) {
    if (s->state == StreamState::publishing)
      push_event(Unpublished{stream_id});
    s->state = StreamState::created;
    push_event(CloseStream{stream_id});
    return {};
  }
  if (name == cmd::play2) {
    push_event(Play2Request{stream_id, cmd.argument(0) ? *cmd.argument(0) : amf::Value{}});
    return {};
  }
  if (name == cmd::seek) {
    push_event(Seek{stream_id, number_arg(cmd, 0).value_or(0)});
    return {};
  }
  if (name == cmd::pause) {
    bool paused = false;
    if (auto *v = cmd.argument(0))
      paused = v->as_bool().value_or(false);
    push_event(Pause{stream_id, paused, number_arg(cmd, 1).value_or(0)});
    return {};
  }
  bool enabled = true;
  if (auto *v = cmd.argument(0))
    enabled = v->as_bool().value_or(true);
  if (name == cmd::receive_audio)
    push_event(ReceiveAudio{stream_id, enabled});
  else
    push_event(ReceiveVideo{stream_id, enabled});
  return {};
}

void ServerSession::drop_stream(std::uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    note("deleteStream of unknown stream " + std::to_string(stream_id) + " ignored");
    return;
  }
  if (it->second.state == StreamState::publishing)
    push_event(Unpublished{stream_id});
  streams_.erase(it);
  push_event(DeleteStream{stream_id});
}

// ---- Answers ----------------------------------------------------------------------------

std::error_code ServerSession::accept_connect(Millis now) {
  if (state_ != State::connect_pending)
    return make_error_code(Errc::invalid_state);
  // What FMS and nginx-rtmp send (RTMP 1.0 section 7.2.1.1 figure): Window Acknowledgement
  // Size, Set Peer Bandwidth (dynamic), our chunk size, then the _result.
  send_window_ack_size(cfg_.window_ack_size);
  send_peer_bandwidth(cfg_.peer_bandwidth, PeerBandwidthLimit::dynamic);
  if (cfg_.chunk_size != chunk::kDefaultChunkSize)
    send_chunk_size(std::clamp<std::uint32_t>(cfg_.chunk_size, 1, chunk::kMaxChunkSize));
  ConnectResult r;
  r.fms_ver = cfg_.fms_ver;
  r.object_encoding = object_encoding_;
  Command result = make_connect_result(connect_txn_, r);
  if (!cfg_.secure_token.empty() && !result.arguments.empty())
    if (auto *info = result.arguments[0].properties())
      info->emplace_back("secureToken", cfg_.secure_token);
  // Enhanced RTMP v2: answer a client that offered capabilities with what we accept.
  if (auto *props = result.command_object.properties();
      props && !offered_.empty() && !cfg_.accepted_capabilities.empty())
    add_enhanced_capabilities(*props, cfg_.accepted_capabilities);
  Connection::send_command(result);
  Connection::send_command(make_on_bw_done());
  state_ = State::connected;
  connect_deadline_.reset();
  (void)now;
  // What the client pipelined behind connect.
  resume_input();
  return {};
}

std::error_code ServerSession::reject_connect(std::string code, std::string description) {
  if (state_ != State::connect_pending)
    return make_error_code(Errc::invalid_state);
  if (code.empty())
    code = status::connect_rejected;
  Connection::send_command(make_error(connect_txn_, amf::Null{},
                                      make_status_object(status::level_error, code, description)));
  close("connect rejected: " + code);
  state_ = State::closed;
  return {};
}

std::error_code ServerSession::accept_publish(std::uint32_t stream_id) {
  Stream *s = find_stream(stream_id);
  if (state_ != State::connected || !s || s->state != StreamState::publish_pending)
    return make_error_code(Errc::invalid_state);
  send_user_control(
      UserControl{static_cast<std::uint16_t>(UserControlEvent::stream_begin), stream_id, 0});
  send_stream_status(stream_id, status::level_status, status::publish_start,
                     s->name + " is now published.");
  s->state = StreamState::publishing;
  // @setDataFrame may carry a large onMetaData from now on. What the client sent before this
  // answer was read under the setup bound (the clients we know wait for Publish.Start).
  start_streaming();
  resume_input();
  return {};
}

std::error_code ServerSession::reject_publish(std::uint32_t stream_id, std::string code,
                                              std::string description) {
  Stream *s = find_stream(stream_id);
  if (state_ != State::connected || !s || s->state != StreamState::publish_pending)
    return make_error_code(Errc::invalid_state);
  if (code.empty())
    code = status::publish_bad_name;
  send_stream_status(stream_id, status::level_error, code, description);
  s->state = StreamState::created;
  resume_input();
  return {};
}

std::error_code ServerSession::accept_play(std::uint32_t stream_id) {
  Stream *s = find_stream(stream_id);
  if (state_ != State::connected || !s || s->state != StreamState::play_pending)
    return make_error_code(Errc::invalid_state);
  send_user_control(
      UserControl{static_cast<std::uint16_t>(UserControlEvent::stream_begin), stream_id, 0});
  if (s->reset)
    send_stream_status(stream_id, status::level_status, status::play_reset,
                       "Playing and resetting " + s->name + ".");
  send_stream_status(stream_id, status::level_status, status::play_start,
                     "Started playing " + s->name + ".");
  // Lets Flash players access the raw audio and video (FMS and nginx-rtmp send it).
  send_message(encode_data(DataMessage{std::string(handler::rtmp_sample_access), {true, true}},
                           stream_id, 0));
  s->state = StreamState::playing;
  start_streaming();
  resume_input();
  return {};
}

std::error_code ServerSession::reject_play(std::uint32_t stream_id, std::string code,
                                           std::string description) {
  Stream *s = find_stream(stream_id);
  if (state_ != State::connected || !s || s->state != StreamState::play_pending)
    return make_error_code(Errc::invalid_state);
  if (code.empty())
    code = status::play_stream_not_found;
  send_stream_status(stream_id, status::level_error, code, description);
  s->state = StreamState::created;
  resume_input();
  return {};
}

std::error_code ServerSession::send_media(std::uint32_t stream_id, MessageType type,
                                          std::uint32_t timestamp, ByteView payload) {
  if (state_ != State::connected || closed())
    return make_error_code(Errc::invalid_state);
  if (!is_media_type(type) || payload.size() > chunk::kMaxMessageLength)
    return make_error_code(Errc::invalid_argument);
  Stream *s = find_stream(stream_id);
  if (!s || s->state != StreamState::playing)
    return make_error_code(Errc::invalid_state);
  send_media_message(stream_id, type, timestamp, payload);
  return {};
}

std::error_code ServerSession::send_status(std::uint32_t stream_id, const StatusInfo &info) {
  if (state_ != State::connected)
    return make_error_code(Errc::invalid_state);
  Connection::send_command(make_on_status(info), stream_id);
  return {};
}

std::error_code ServerSession::end_stream(std::uint32_t stream_id) {
  Stream *s = find_stream(stream_id);
  if (state_ != State::connected || !s || s->state != StreamState::playing)
    return make_error_code(Errc::invalid_state);
  send_stream_status(stream_id, status::level_status, status::play_unpublish_notify,
                     s->name + " is now unpublished.");
  send_user_control(
      UserControl{static_cast<std::uint16_t>(UserControlEvent::stream_eof), stream_id, 0});
  send_stream_status(stream_id, status::level_status, status::play_stop,
                     "Stopped playing " + s->name + ".");
  s->state = StreamState::created;
  return {};
}

std::error_code ServerSession::send_call(const Command &cmd, std::uint32_t stream_id) {
  if (state_ != State::connected)
    return make_error_code(Errc::invalid_state);
  Connection::send_command(cmd, stream_id);
  return {};
}

} // namespace rtmp
