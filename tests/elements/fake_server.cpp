#include "fake_server.hpp"

#include <chrono>

#include "core/command.hpp"

namespace rtmp::test {
namespace {

Millis now_ms() {
  return Millis(g_get_monotonic_time() / 1000);
}

} // namespace

bool send_all(GSocket *sock, ByteView b) {
  std::size_t off = 0;
  while (off < b.size()) {
    gssize n = g_socket_send(sock, reinterpret_cast<const gchar *>(b.data()) + off, b.size() - off,
                             nullptr, nullptr);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

FakeRtmpServer::FakeRtmpServer(FakeServerOptions opts)
    : opts_(std::move(opts)), listener_(g_socket_listener_new()), cancel_(g_cancellable_new()) {
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new(lo, 0);
  GSocketAddress *effective = nullptr;
  g_socket_listener_add_address(listener_, addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                nullptr, &effective, nullptr);
  port_ = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
  g_object_unref(effective);
  g_object_unref(addr);
  g_object_unref(lo);
  thread_ = std::thread([this] { run(); });
}

FakeRtmpServer::~FakeRtmpServer() {
  stop_ = true;
  g_cancellable_cancel(cancel_);
  thread_.join();
  g_socket_listener_close(listener_);
  g_object_unref(listener_);
  g_object_unref(cancel_);
}

std::string FakeRtmpServer::url(const std::string &app, const std::string &stream) const {
  return "rtmp://127.0.0.1:" + std::to_string(port_) + "/" + app + "/" + stream;
}

std::vector<Message> FakeRtmpServer::published() const {
  std::lock_guard<std::mutex> l(mutex_);
  return published_;
}

std::vector<std::string> FakeRtmpServer::events() const {
  std::lock_guard<std::mutex> l(mutex_);
  return events_;
}

bool FakeRtmpServer::saw(const std::string &name) const {
  std::lock_guard<std::mutex> l(mutex_);
  for (const auto &e : events_)
    if (e == name)
      return true;
  return false;
}

bool FakeRtmpServer::wait_until(const std::function<bool()> &pred, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (pred())
      return true;
    std::unique_lock<std::mutex> l(mutex_);
    if (cond_.wait_until(l, std::min(deadline, std::chrono::steady_clock::now() +
                                                   std::chrono::milliseconds(20))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      l.unlock();
      return pred();
    }
  }
}

EnhancedCapabilities FakeRtmpServer::connect_capabilities() const {
  std::lock_guard<std::mutex> l(mutex_);
  return connect_capabilities_;
}

std::optional<ConnectRequest> FakeRtmpServer::connect_request() const {
  std::lock_guard<std::mutex> l(mutex_);
  return connect_request_;
}

std::vector<Command> FakeRtmpServer::calls() const {
  std::lock_guard<std::mutex> l(mutex_);
  return calls_;
}

std::vector<amf::Value> FakeRtmpServer::play2_requests() const {
  std::lock_guard<std::mutex> l(mutex_);
  return play2_;
}

void FakeRtmpServer::record_event(const Event &e) {
  std::lock_guard<std::mutex> l(mutex_);
  events_.emplace_back(event_name(e));
  if (const auto *c = std::get_if<IncomingCall>(&e))
    calls_.push_back(c->command);
  if (const auto *p2 = std::get_if<Play2Request>(&e))
    play2_.push_back(p2->parameters);
  if (const auto *m = std::get_if<Media>(&e))
    published_.push_back(m->msg);
  if (const auto *c = std::get_if<ConnectRequest>(&e)) {
    connect_capabilities_ = c->capabilities;
    connect_request_ = *c;
  }
  cond_.notify_all();
}

void FakeRtmpServer::run() {
  while (!stop_) {
    GSocket *sock = g_socket_listener_accept_socket(listener_, nullptr, cancel_, nullptr);
    if (!sock)
      return;
    ++connections_;
    {
      std::lock_guard<std::mutex> l(mutex_);
      cond_.notify_all();
    }
    serve(sock);
    g_socket_close(sock, nullptr);
    g_object_unref(sock);
  }
}

void FakeRtmpServer::serve(GSocket *sock) {
  if (opts_.silent) {
    while (!stop_)
      g_usleep(10000);
    return;
  }
  ServerSession s(opts_.config);
  s.start(now_ms());
  std::vector<std::uint8_t> buf(64 * 1024);
  while (!stop_) {
    if (!send_all(sock, s.take_output()))
      return;
    if (s.closed())
      return;
    GError *err = nullptr;
    if (!g_socket_condition_timed_wait(sock, G_IO_IN, 20000, nullptr, &err)) {
      g_clear_error(&err);
      s.on_timer(now_ms());
      continue;
    }
    gssize n =
        g_socket_receive(sock, reinterpret_cast<gchar *>(buf.data()), buf.size(), nullptr, nullptr);
    if (n <= 0) {
      s.peer_closed();
    } else {
      (void)s.receive(ByteView(buf.data(), static_cast<std::size_t>(n)), now_ms());
      chunk_size_in_ = s.stats().chunk_size_in;
    }
    while (auto e = s.poll_event()) {
      record_event(*e);
      if (std::holds_alternative<ConnectRequest>(*e)) {
        for (int waited = 0; waited < opts_.connect_delay_ms && !stop_; waited += 10)
          g_usleep(10000);
        if (opts_.reject_connect)
          s.reject_connect(opts_.reject_connect->first, opts_.reject_connect->second);
        else
          s.accept_connect(now_ms());
      } else if (auto *p = std::get_if<PublishRequest>(&*e)) {
        if (opts_.reject_publish)
          s.reject_publish(p->stream_id, opts_.reject_publish->first, opts_.reject_publish->second);
        else
          s.accept_publish(p->stream_id);
      } else if (auto *pl = std::get_if<PlayRequest>(&*e)) {
        if (opts_.reject_play) {
          s.reject_play(pl->stream_id, opts_.reject_play->first, opts_.reject_play->second);
          continue;
        }
        s.accept_play(pl->stream_id);
        for (const Message &m : opts_.play_media)
          s.send_media(pl->stream_id, m.kind(), m.timestamp, m.payload);
        if (opts_.after_play) {
          if (!send_all(sock, s.take_output()))
            return;
          opts_.after_play(sock, s);
        }
        if (opts_.close_after_media) {
          (void)send_all(sock, s.take_output());
          return;
        }
        if (opts_.end_after_media)
          s.end_stream(pl->stream_id);
      } else if (auto *p2 = std::get_if<Play2Request>(&*e)) {
        const std::uint32_t sid = p2->stream_id;
        s.send_status(sid, StatusInfo{"status", std::string(status::play_stop), "switch", {}});
        s.send_status(sid, StatusInfo{"status", std::string(status::play_reset), "switch", {}});
        s.send_status(sid, StatusInfo{"status", std::string(status::play_start), "switch", {}});
        for (const Message &m : opts_.play2_media)
          s.send_media(sid, m.kind(), m.timestamp, m.payload);
      } else if (auto *sk = std::get_if<Seek>(&*e)) {
        if (opts_.on_seek) {
          // As nginx-rtmp: NetStream.Seek.Notify, then the media from the new position.
          (void)s.send_status(sk->stream_id, StatusInfo{std::string(status::level_status),
                                                        std::string(status::seek_notify), "seeking",
                                                        amf::Value{}});
          for (const Message &m : opts_.on_seek(sk->ms))
            s.send_media(sk->stream_id, m.kind(), m.timestamp, m.payload);
        }
      } else if (std::holds_alternative<Closed>(*e)) {
        (void)send_all(sock, s.take_output());
        return;
      }
    }
    if (n <= 0)
      return;
  }
}

Message make_media(MessageType type, std::uint32_t timestamp, Bytes payload,
                   std::uint32_t stream_id) {
  Message m;
  m.type = static_cast<std::uint8_t>(type);
  m.timestamp = timestamp;
  m.stream_id = stream_id;
  m.payload = std::move(payload);
  return m;
}

Message make_metadata(amf::Properties props, std::uint32_t stream_id) {
  DataMessage d{std::string(handler::on_meta_data), {amf::make_ecma_array(std::move(props))}};
  return encode_data(d, stream_id, 0);
}

} // namespace rtmp::test
