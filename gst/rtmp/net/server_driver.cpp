#include "net/server_driver.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>

#include <cerrno>
#include <ctime>

#include <algorithm>
#include <atomic>
#include <utility>

#include "net/transport.hpp"

namespace rtmp::net {

// One accepted connection: its socket (and TLS wrapper), the session, and the sources that
// wake the listener thread for it.
struct ServerConn {
  Listener *owner = nullptr;
  std::uint64_t id = 0;
  ClientInfo client;
  GSocketConnection *tcp = nullptr;
  GIOStream *stream = nullptr; // tcp or the GTlsServerConnection wrapping it
  GPollableInputStream *in = nullptr;
  GPollableOutputStream *out = nullptr;
  GSource *read_source = nullptr;
  GSource *write_source = nullptr;
  GSource *timer = nullptr;
  GCancellable *cancellable = nullptr; // of the TLS handshake
  std::unique_ptr<ServerSession> session;
  Bytes pending;
  std::size_t pending_pos = 0;
  bool ready = false;       // TCP accepted and TLS (if any) done: bytes flow
  bool read_paused = false; // the endpoint's queue is full
  bool closing = false;     // the session is over; flush what is left, then close
  // Handed over to its endpoint's thread (Endpoint::adopt): until PublisherDriver gives it
  // back, the listener thread touches nothing of it but `id` and `endpoint` (which it does not
  // change meanwhile), and destroys it only in remove_endpoint() / stop().
  bool adopted = false;
  bool no_adopt = false;     // the endpoint declined: stays on the listener thread
  std::size_t low_water = 1; // SO_RCVLOWAT set by the PublisherDriver (1 = the kernel default)
  std::optional<Millis> linger_until;
  // Routing.
  std::string app, tc_url, flash_ver;
  Endpoint *endpoint = nullptr; // the endpoint it publishes to
  std::uint32_t stream_id = 0;
  PublishInfo publish;
  const char *drop_reason = nullptr; // first reason it was dropped for, counted once
};

namespace {

GMutex registry_lock;
std::map<std::string, Listener *> &registry() {
  static auto *r = new std::map<std::string, Listener *>(); // never destroyed: process-wide
  return *r;
}
std::atomic<Listener::LogFunction> log_function{nullptr};

std::string registry_key(const std::string &host, std::uint16_t port) {
  return (host.empty() ? std::string("*") : host) + "|" + std::to_string(port);
}

gboolean deadline_dispatch(GSource *, GSourceFunc callback, gpointer data) {
  return callback ? callback(data) : G_SOURCE_CONTINUE;
}
GSourceFuncs deadline_funcs = {nullptr, nullptr, deadline_dispatch, nullptr, nullptr, nullptr};

// The peer's IP address: "?" when unknown. IPv4-mapped IPv6 addresses (a client of IPv4 on the
// dual-stack socket) are written as IPv4, so that the per-address limit sees one address.
std::string ip_string(GSocketAddress *addr) {
  if (!G_IS_INET_SOCKET_ADDRESS(addr))
    return "?";
  gchar *ip =
      g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr)));
  std::string s = ip;
  g_free(ip);
  if (s.rfind("::ffff:", 0) == 0 && s.find('.') != std::string::npos)
    s.erase(0, 7);
  return s;
}

std::string address_string(GSocketAddress *addr, const std::string &ip) {
  if (!G_IS_INET_SOCKET_ADDRESS(addr))
    return "?";
  const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  return host + ":" + std::to_string(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr)));
}

Millis now_ms() {
  return Millis(monotonic_us() / 1000);
}

const char *drop_reason_for(const std::error_code &ec, bool handshake_done) {
  if (ec == make_error_code(Errc::timeout))
    return handshake_done ? "idle-timeout" : "handshake-timeout";
  if (ec == make_error_code(Errc::limit_exceeded))
    return "limit-exceeded";
  return "protocol-error";
}

} // namespace

// Trampolines from GLib callbacks to the listener (all on the listener thread).
struct ConnCallbacks {
  static gboolean readable(GObject *, gpointer data) {
    auto *c = static_cast<Listener::Conn *>(data);
    c->owner->on_readable(c);
    return G_SOURCE_CONTINUE; // sources are destroyed explicitly
  }
  static gboolean writable(GObject *, gpointer data) {
    auto *c = static_cast<Listener::Conn *>(data);
    c->owner->on_writable(c);
    return G_SOURCE_CONTINUE;
  }
  static gboolean timer(gpointer data) {
    auto *c = static_cast<Listener::Conn *>(data);
    c->owner->on_timer(c);
    return G_SOURCE_CONTINUE;
  }
  static void tls_done(GObject *source, GAsyncResult *res, gpointer data) {
    GError *err = nullptr;
    const gboolean ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), res, &err);
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_error_free(err);
      return; // the connection is being destroyed; `data` may be gone
    }
    auto *c = static_cast<Listener::Conn *>(data);
    if (!ok) {
      Listener::log(2, "client " + c->client.address +
                           ": TLS handshake failed: " + (err ? err->message : "?"));
      g_clear_error(&err);
      c->owner->drop(c, "tls-error");
      return;
    }
    c->owner->start_session(c);
  }
};

Listener::Listener() : read_buf_(kReadBufferSize) {
  g_mutex_init(&stats_lock_);
}

Listener::~Listener() {
  if (certificate_)
    g_object_unref(certificate_);
  g_mutex_clear(&stats_lock_);
}

void Listener::set_log_function(LogFunction fn) {
  log_function.store(fn);
}

void Listener::log(int level, const std::string &text) {
  if (auto fn = log_function.load())
    fn(level, text.c_str());
}

Listener *Listener::acquire(const ListenerConfig &cfg, GError **error) {
  g_mutex_lock(&registry_lock);
  if (cfg.port != 0) {
    auto it = registry().find(registry_key(cfg.host, cfg.port));
    if (it != registry().end()) {
      Listener *l = it->second;
      if (l->tls() != (cfg.certificate != nullptr)) {
        g_mutex_unlock(&registry_lock);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                    "port %u is already used by another rtmpserversrc %s TLS", cfg.port,
                    l->tls() ? "with" : "without");
        return nullptr;
      }
      ++l->refs_;
      g_mutex_unlock(&registry_lock);
      return l;
    }
  }
  auto *l = new Listener();
  if (!l->start(cfg, error)) {
    g_mutex_unlock(&registry_lock);
    delete l;
    return nullptr;
  }
  l->refs_ = 1;
  l->key_ = registry_key(cfg.host, l->port_);
  registry()[l->key_] = l;
  g_mutex_unlock(&registry_lock);
  return l;
}

void Listener::release(Listener *l) {
  if (!l)
    return;
  // Stopping under the registry lock: an acquire() of the same address right after must not
  // find the port still bound by a listener on its way out.
  g_mutex_lock(&registry_lock);
  if (--l->refs_ > 0) {
    g_mutex_unlock(&registry_lock);
    return;
  }
  registry().erase(l->key_);
  l->stop();
  g_mutex_unlock(&registry_lock);
  delete l;
}

bool Listener::start(const ListenerConfig &cfg, GError **error) {
  cfg_ = cfg;
  admission_ = Admission(cfg.admission);
  cfg_.certificate = nullptr;
  if (cfg.certificate)
    certificate_ = G_TLS_CERTIFICATE(g_object_ref(cfg.certificate));
  if (cfg_.session.auth.enabled()) {
    // Credentials come from the endpoints (elements) attached now, not from whoever created
    // the listener: the creator may go while others keep the port.
    cfg_.session.auth.lookup = [this](std::string_view user) -> std::optional<std::string> {
      for (Endpoint *ep : endpoints_)
        if (auto p = ep->password_for(user))
          return p;
      return std::nullopt;
    };
    // Challenges must be unpredictable (auth.hpp): the kernel CSPRNG.
    cfg_.session.auth.random = [](std::span<std::uint8_t> out) {
      std::size_t done = 0;
      while (done < out.size()) {
        const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
        if (n > 0)
          done += static_cast<std::size_t>(n);
      }
    };
  }

  // Bind: a literal address, a name resolved once, or every interface (IPv6 any with IPv4
  // mapped addresses, else IPv4 any).
  std::vector<GInetAddress *> addrs;
  if (cfg.host.empty() || cfg.host == "0.0.0.0" || cfg.host == "::") {
    if (cfg.host != "0.0.0.0")
      addrs.push_back(g_inet_address_new_any(G_SOCKET_FAMILY_IPV6));
    addrs.push_back(g_inet_address_new_any(G_SOCKET_FAMILY_IPV4));
  } else if (GInetAddress *a = g_inet_address_new_from_string(cfg.host.c_str())) {
    addrs.push_back(a);
  } else {
    GList *list =
        g_resolver_lookup_by_name(g_resolver_get_default(), cfg.host.c_str(), nullptr, error);
    if (!list)
      return false;
    addrs.push_back(G_INET_ADDRESS(g_object_ref(list->data)));
    g_resolver_free_addresses(list);
  }
  std::uint16_t port = cfg.port;
  GError *last_error = nullptr;
  for (GInetAddress *a : addrs) {
    if (!sockets_.empty() && g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV4 &&
        (cfg.host.empty() || cfg.host == "::"))
      break; // the IPv6 any socket accepts IPv4 too
    GSocket *s = g_socket_new(g_inet_address_get_family(a), G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_TCP, &last_error);
    if (!s)
      continue;
    if (g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV6)
      g_socket_set_option(s, IPPROTO_IPV6, IPV6_V6ONLY, cfg.host == "::" ? 1 : 0, nullptr);
    g_socket_set_blocking(s, FALSE);
    g_socket_set_listen_backlog(s, kListenBacklog);
    GSocketAddress *sa = g_inet_socket_address_new(a, port);
    const bool ok = g_socket_bind(s, sa, TRUE, &last_error) && g_socket_listen(s, &last_error);
    g_object_unref(sa);
    if (!ok) {
      g_object_unref(s);
      continue;
    }
    if (port == 0) {
      if (GSocketAddress *local = g_socket_get_local_address(s, nullptr)) {
        port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
        g_object_unref(local);
      }
    }
    sockets_.push_back(s);
    g_clear_error(&last_error);
  }
  for (GInetAddress *a : addrs)
    g_object_unref(a);
  if (sockets_.empty()) {
    if (last_error)
      g_propagate_error(error, last_error);
    else
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not listen on %s:%u",
                  cfg.host.c_str(), cfg.port);
    return false;
  }
  g_clear_error(&last_error);
  port_ = port;

  context_ = g_main_context_new();
  loop_ = g_main_loop_new(context_, FALSE);
  for (GSocket *s : sockets_) {
    GSource *src = g_socket_create_source(s, G_IO_IN, nullptr);
    g_source_set_callback(src, G_SOURCE_FUNC(on_incoming), this, nullptr);
    g_source_attach(src, context_);
    accept_sources_.push_back(src);
  }
  thread_ = g_thread_new("rtmp-listener", thread_main, this);
  log(2, "listening on " + (cfg.host.empty() ? std::string("*") : cfg.host) + ":" +
             std::to_string(port_) + (certificate_ ? " (rtmps)" : ""));
  return true;
}

gpointer Listener::thread_main(gpointer data) {
  auto *self = static_cast<Listener *>(data);
  g_main_context_push_thread_default(self->context_);
  g_main_loop_run(self->loop_);
  g_main_context_pop_thread_default(self->context_);
  return nullptr;
}

void Listener::run_sync(const std::function<void()> &fn) {
  if (g_main_context_is_owner(context_)) {
    fn();
    return;
  }
  struct Call {
    const std::function<void()> *fn;
    GMutex lock;
    GCond cond;
    bool done = false;
  } call{&fn, {}, {}, false};
  g_mutex_init(&call.lock);
  g_cond_init(&call.cond);
  g_main_context_invoke(
      context_,
      [](gpointer data) -> gboolean {
        auto *c = static_cast<Call *>(data);
        (*c->fn)();
        g_mutex_lock(&c->lock);
        c->done = true;
        g_cond_signal(&c->cond);
        g_mutex_unlock(&c->lock);
        return G_SOURCE_REMOVE;
      },
      &call);
  g_mutex_lock(&call.lock);
  while (!call.done)
    g_cond_wait(&call.cond, &call.lock);
  g_mutex_unlock(&call.lock);
  g_mutex_clear(&call.lock);
  g_cond_clear(&call.cond);
}

void Listener::stop() {
  run_sync([this] {
    while (!conns_.empty())
      destroy(conns_.begin()->second);
    for (GSource *s : accept_sources_) {
      g_source_destroy(s);
      g_source_unref(s);
    }
    accept_sources_.clear();
    g_main_loop_quit(loop_);
  });
  g_thread_join(thread_);
  thread_ = nullptr;
  for (GSocket *s : sockets_) {
    g_socket_close(s, nullptr);
    g_object_unref(s);
  }
  sockets_.clear();
  // Sources still pending (e.g. a cancelled TLS handshake's callback) are dispatched or freed
  // with the context.
  while (g_main_context_iteration(context_, FALSE)) {
  }
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
  log(2, "stopped listening on port " + std::to_string(port_));
}

void Listener::add_endpoint(Endpoint *e) {
  run_sync([&] { endpoints_.push_back(e); });
}

void Listener::remove_endpoint(Endpoint *e) {
  run_sync([&] {
    endpoints_.erase(std::remove(endpoints_.begin(), endpoints_.end(), e), endpoints_.end());
    std::vector<Conn *> victims;
    for (auto &[id, c] : conns_)
      if (c->endpoint == e)
        victims.push_back(c);
    for (Conn *c : victims) {
      c->endpoint = nullptr; // its publisher ends with the element: no callback into it
      destroy(c);
    }
    publishing_.erase(e);
  });
}

void Listener::resume_reading(std::uint64_t conn_id) {
  struct Resume {
    Listener *self;
    std::uint64_t id;
  };
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *r = static_cast<Resume *>(data);
        auto it = r->self->conns_.find(r->id);
        if (it != r->self->conns_.end() && !it->second->adopted && it->second->read_paused) {
          it->second->read_paused = false;
          r->self->update_sources(it->second);
        }
        return G_SOURCE_REMOVE;
      },
      new Resume{this, conn_id}, [](gpointer data) { delete static_cast<Resume *>(data); });
}

ListenerStats Listener::stats() const {
  g_mutex_lock(&stats_lock_);
  ListenerStats s = stats_;
  g_mutex_unlock(&stats_lock_);
  return s;
}

void Listener::count_drop(const char *reason) {
  g_mutex_lock(&stats_lock_);
  ++stats_.dropped[reason];
  g_mutex_unlock(&stats_lock_);
}

void Listener::warn_limited(const char *kind, const std::string &text) {
  auto it = warnings_.find(kind);
  if (it == warnings_.end())
    it = warnings_.emplace(kind, WarningLimiter()).first;
  const auto left_out = it->second.allow(now_ms());
  if (!left_out)
    return;
  log(1, *left_out ? text + " (and " + std::to_string(*left_out) + " more " + kind +
                         " since the last such warning)"
                   : text);
}

std::optional<Millis> Listener::next_deadline(const Conn *c) const {
  std::optional<Millis> d = c->session->next_deadline();
  if (const auto role = admission_.deadline(c->id); role && (!d || *role < *d))
    d = role;
  return d;
}

// ---- Accepting ----------------------------------------------------------------------------

gboolean Listener::on_incoming(GSocket *socket, GIOCondition, gpointer data) {
  auto *self = static_cast<Listener *>(data);
  // Empty the accept queue (up to a bound) rather than taking one connection per main loop
  // iteration: between two iterations every readable connection is serviced, and a burst of
  // connections would otherwise wait in (and overflow) the kernel's backlog.
  for (int i = 0; i < kMaxAcceptsPerWakeup && self->accept_one(socket); ++i) {
  }
  return G_SOURCE_CONTINUE;
}

bool Listener::accept_one(GSocket *listening) {
  GError *err = nullptr;
  GSocket *s = g_socket_accept(listening, nullptr, &err);
  if (!s) {
    if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      log(1, std::string("accept failed: ") + err->message);
    g_error_free(err);
    return false;
  }
  g_mutex_lock(&stats_lock_);
  ++stats_.accepted;
  g_mutex_unlock(&stats_lock_);
  std::string address = "?", ip = "?";
  if (GSocketAddress *remote = g_socket_get_remote_address(s, nullptr)) {
    ip = ip_string(remote);
    address = address_string(remote, ip);
    g_object_unref(remote);
  }
  // Make room by evicting a connection that neither publishes nor plays, so that a flood of
  // connections doing nothing cannot lock out a real publisher until their timeouts free the
  // places (core/admission.hpp).
  const Admission::Verdict verdict = admission_.admit(ip);
  if (verdict.evict) {
    Conn *old = conns_.at(*verdict.evict);
    warn_limited(verdict.reason, "client " + old->client.address + " dropped for " + address +
                                     " (" + verdict.reason + "): it neither publishes nor plays");
    drop(old, verdict.reason);
  }
  if (!verdict.admit) {
    // Accept-and-close rather than leaving it in the backlog: the peer learns at once, and a
    // flood of sockets costs us nothing beyond this call.
    warn_limited(verdict.reason, "client " + address +
                                     " refused: " + std::to_string(conns_.size()) +
                                     " connections open, " + std::to_string(admission_.count(ip)) +
                                     " from " + ip + " (" + verdict.reason + ")");
    count_drop(verdict.reason);
    g_socket_close(s, nullptr);
    g_object_unref(s);
    return true;
  }
  g_socket_set_blocking(s, FALSE);
  // Small command answers must not wait for Nagle (the client waits for each).
  g_socket_set_option(s, IPPROTO_TCP, TCP_NODELAY, 1, nullptr);

  auto *c = new Conn();
  c->owner = this;
  c->id = next_id_++;
  c->client = ClientInfo{c->id, address};
  c->tcp = g_socket_connection_factory_create_connection(s);
  g_object_unref(s);
  c->session = std::make_unique<ServerSession>(cfg_.session);
  // The handshake timeout runs from accept, so it bounds a stalled TLS handshake too.
  c->session->start(now_ms());
  conns_[c->id] = c;
  admission_.add(c->id, ip, now_ms());
  g_mutex_lock(&stats_lock_);
  stats_.open = conns_.size();
  g_mutex_unlock(&stats_lock_);
  log(3, "client " + address + " connected (connection " + std::to_string(c->id) + ")");

  c->timer = g_source_new(&deadline_funcs, sizeof(GSource));
  g_source_set_callback(c->timer, ConnCallbacks::timer, c, nullptr);
  g_source_attach(c->timer, context_);

  if (certificate_) {
    GIOStream *tls = g_tls_server_connection_new(G_IO_STREAM(c->tcp), certificate_, &err);
    if (!tls) {
      log(1, std::string("TLS setup failed: ") + err->message);
      g_error_free(err);
      drop(c, "tls-error");
      return true;
    }
    c->stream = tls;
    c->cancellable = g_cancellable_new();
    g_tls_connection_handshake_async(G_TLS_CONNECTION(tls), G_PRIORITY_DEFAULT, c->cancellable,
                                     ConnCallbacks::tls_done, c);
    update_sources(c); // the timer
    return true;
  }
  c->stream = G_IO_STREAM(g_object_ref(c->tcp));
  start_session(c);
  return true;
}

void Listener::start_session(Conn *c) {
  c->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(c->stream));
  c->out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(c->stream));
  c->ready = true;
  update_sources(c);
}

// ---- Moving bytes -------------------------------------------------------------------------

void Listener::update_sources(Conn *c) {
  const bool want_read = c->ready && !c->adopted && !c->read_paused && !c->closing;
  if (want_read && !c->read_source) {
    c->read_source = g_pollable_input_stream_create_source(c->in, nullptr);
    g_source_set_callback(c->read_source, G_SOURCE_FUNC(ConnCallbacks::readable), c, nullptr);
    g_source_attach(c->read_source, context_);
  } else if (!want_read && c->read_source) {
    g_source_destroy(c->read_source);
    g_source_unref(c->read_source);
    c->read_source = nullptr;
  }
  const bool want_write = c->ready && !c->adopted && c->pending.size() > c->pending_pos;
  if (want_write && !c->write_source) {
    c->write_source = g_pollable_output_stream_create_source(c->out, nullptr);
    g_source_set_callback(c->write_source, G_SOURCE_FUNC(ConnCallbacks::writable), c, nullptr);
    g_source_attach(c->write_source, context_);
  } else if (!want_write && c->write_source) {
    g_source_destroy(c->write_source);
    g_source_unref(c->write_source);
    c->write_source = nullptr;
  }
  std::optional<Millis> deadline = c->adopted   ? std::nullopt
                                   : c->closing ? c->linger_until
                                                : next_deadline(c);
  g_source_set_ready_time(c->timer, deadline ? deadline->count() * 1000 : -1);
}

void Listener::on_readable(Conn *c) {
  for (int i = 0; i < kMaxReadsPerWakeup && !c->closing && !c->read_paused && !c->adopted; ++i) {
    if (c->endpoint) {
      for (Bytes &spare : c->endpoint->take_spare_storage())
        c->session->give_storage(std::move(spare));
    }
    GError *err = nullptr;
    gssize n = g_pollable_input_stream_read_nonblocking(c->in, read_buf_.data(), read_buf_.size(),
                                                        nullptr, &err);
    if (n < 0) {
      if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(err);
        break;
      }
      log(3, "client " + c->client.address + ": read failed: " + err->message);
      g_error_free(err);
      if (!c->drop_reason)
        c->drop_reason = "io-error";
      c->session->peer_closed("read error");
    } else if (n == 0) {
      c->session->peer_closed();
    } else {
      // A protocol error is queued as a fatal Error event and handled in pump().
      (void)c->session->receive(ByteView(read_buf_.data(), static_cast<std::size_t>(n)), now_ms());
    }
    const std::uint64_t id = c->id;
    pump(c);
    if (!conns_.count(id) || c->adopted)
      return; // destroyed, or now read by its endpoint's thread
  }
  update_sources(c);
}

void Listener::on_writable(Conn *c) {
  pump(c);
}

void Listener::on_timer(Conn *c) {
  if (c->closing) {
    destroy(c); // lingered long enough
    return;
  }
  const Millis now = now_ms();
  if (admission_.expired(c->id, now)) {
    warn_limited("role-timeout", "client " + c->client.address + " dropped: connected for " +
                                     std::to_string(admission_.config().role_timeout.count()) +
                                     " ms without publishing or playing (role-timeout)");
    drop(c, "role-timeout");
    return;
  }
  c->session->on_timer(now);
  pump(c);
}

void Listener::take_session_output(Conn *c, Bytes &scratch) {
  c->session->take_output(scratch);
  if (c->pending_pos == c->pending.size()) {
    c->pending.swap(scratch);
    c->pending_pos = 0;
  } else {
    c->pending.insert(c->pending.end(), scratch.begin(), scratch.end());
  }
}

const char *Listener::write_pending(Conn *c) {
  while (c->ready && c->pending_pos < c->pending.size()) {
    GError *err = nullptr;
    gssize n = g_pollable_output_stream_write_nonblocking(
        c->out, c->pending.data() + c->pending_pos, c->pending.size() - c->pending_pos, nullptr,
        &err);
    if (n < 0) {
      if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(err);
        break;
      }
      log(3, "client " + c->client.address + ": write failed: " + err->message);
      g_error_free(err);
      return "io-error";
    }
    c->pending_pos += static_cast<std::size_t>(n);
  }
  if (c->pending_pos == c->pending.size()) {
    c->pending.clear();
    c->pending_pos = 0;
  } else if (c->pending.size() - c->pending_pos > kMaxPendingOutput) {
    log(1, "client " + c->client.address + " does not read what we send: dropped");
    return "not-reading";
  }
  return nullptr;
}

// Delivers the session's events, then writes what it produced. May destroy `c`.
void Listener::pump(Conn *c) {
  const std::uint64_t id = c->id;
  // Once it publishes to an endpoint that takes it, the rest of the events (media sent right
  // behind publish) are for the endpoint's thread.
  while (!wants_hand_over(c)) {
    auto e = c->session->poll_event();
    if (!e)
      break;
    handle_event(c, *e);
    if (!conns_.count(id))
      return;
  }
  if (c->session->wants_write())
    take_session_output(c, scratch_);
  if (const char *why = write_pending(c)) {
    drop(c, why);
    return;
  }
  if (c->session->closed() && !c->closing) {
    c->closing = true;
    admission_.set_closing(c->id);
    c->linger_until = now_ms() + kCloseLinger;
  }
  if (c->closing && c->pending.empty()) {
    destroy(c);
    return;
  }
  if (wants_hand_over(c)) {
    if (!hand_over(c))
      pump(c); // declined: the events left in the session are the listener's after all
    return;
  }
  update_sources(c);
}

// ---- Hand-over to the endpoint's thread ---------------------------------------------------

bool Listener::wants_hand_over(const Conn *c) const {
  // TLS stays here: GTlsConnection's pollable streams (a write that waits for a read, records
  // decrypted ahead) do not map onto one ppoll() of the socket.
  return c->endpoint && c->ready && !c->adopted && !c->no_adopt && !c->closing && !certificate_ &&
         !c->session->closed();
}

bool Listener::hand_over(Conn *c) {
  // Everything the listener thread would do for it stops before the endpoint sees it: after a
  // successful adopt() another thread owns `c`.
  c->adopted = true;
  update_sources(c); // no read/write source, no timer
  const std::string address = c->client.address;
  const std::uint64_t id = c->id;
  if (!c->endpoint->adopt(c)) {
    c->adopted = false;
    c->no_adopt = true;
    return false;
  }
  log(3, "client " + address + " (connection " + std::to_string(id) +
             ") handed to its endpoint's thread");
  return true;
}

bool Listener::listener_event(const Event &e) {
  return std::holds_alternative<ConnectRequest>(e) || std::holds_alternative<PublishRequest>(e) ||
         std::holds_alternative<PlayRequest>(e) || std::holds_alternative<Unpublished>(e) ||
         std::holds_alternative<Error>(e) || std::holds_alternative<Closed>(e);
}

// Called on the endpoint's thread: the connection goes back to the listener thread, which
// handles `event` first (or drops the connection for `drop_reason`) and then carries on as for
// any other connection (and hands it over again if it still publishes).
void Listener::give_back(Conn *c, std::optional<Event> event, const char *drop_reason) {
  struct GiveBack {
    Listener *self;
    std::uint64_t id;
    std::optional<Event> event;
    const char *drop_reason;
  };
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *g = static_cast<GiveBack *>(data);
        Listener *self = g->self;
        auto it = self->conns_.find(g->id);
        if (it == self->conns_.end() || !it->second->adopted)
          return G_SOURCE_REMOVE; // remove_endpoint() closed it meanwhile
        Conn *back = it->second;
        back->adopted = false;
        if (g->drop_reason) {
          self->drop(back, g->drop_reason);
          return G_SOURCE_REMOVE;
        }
        if (g->event) {
          self->handle_event(back, *g->event);
          if (!self->conns_.count(g->id))
            return G_SOURCE_REMOVE;
        }
        self->pump(back);
        return G_SOURCE_REMOVE;
      },
      new GiveBack{this, c->id, std::move(event), drop_reason},
      [](gpointer data) { delete static_cast<GiveBack *>(data); });
}

PublisherDriver::PublisherDriver() : cancellable_(g_cancellable_new()), read_buf_(kReadBufferSize) {
  if (!g_cancellable_make_pollfd(cancellable_, &cancel_fd_))
    cancel_fd_.fd = -1;
}

PublisherDriver::~PublisherDriver() {
  if (cancel_fd_.fd >= 0)
    g_cancellable_release_fd(cancellable_);
  g_object_unref(cancellable_);
}

void PublisherDriver::attach(ServerConn *conn) {
  conn_ = conn;
}

void PublisherDriver::cancel() {
  g_cancellable_cancel(cancellable_);
}

void PublisherDriver::reset_cancel() {
  g_cancellable_reset(cancellable_);
}

void PublisherDriver::release(std::optional<Event> event, const char *drop_reason) {
  ServerConn *c = conn_;
  conn_ = nullptr;
  if (c->low_water != 1) {
    // The listener's readiness sources wait for any byte again.
    set_socket_receive_low_water(g_socket_connection_get_socket(c->tcp), 1);
    c->low_water = 1;
  }
  c->owner->give_back(c, std::move(event), drop_reason);
}

PublisherDriver::Next PublisherDriver::next_media(Message &out) {
  ServerConn *c = conn_;
  ServerSession &session = *c->session;
  GSocket *socket = g_socket_connection_get_socket(c->tcp);
  for (;;) {
    if (g_cancellable_is_cancelled(cancellable_))
      return Next::cancelled;
    // What the last read produced, in wire order.
    while (auto e = session.poll_event()) {
      if (auto *m = std::get_if<Media>(&*e)) {
        if (m->msg.stream_id != c->stream_id)
          continue; // not the published stream (as on the listener thread)
        out = std::move(m->msg);
        return Next::media;
      }
      if (auto *n = std::get_if<Note>(&*e)) {
        Listener::log(3, "client " + c->client.address + ": " + n->text);
        continue;
      }
      if (Listener::listener_event(*e)) {
        release(std::move(*e), nullptr);
        return Next::released;
      }
    }
    // Acknowledgements, ping answers: written as far as the socket takes them now.
    if (session.wants_write())
      Listener::take_session_output(c, scratch_);
    if (const char *why = Listener::write_pending(c)) {
      release(std::nullopt, why);
      return Next::released;
    }
    if (session.closed()) {
      release(std::nullopt, nullptr); // the listener flushes and closes it
      return Next::released;
    }
    for (Bytes &spare : c->endpoint->take_spare_storage())
      session.give_storage(std::move(spare));
    GError *err = nullptr;
    const gssize n =
        g_socket_receive_with_blocking(socket, reinterpret_cast<gchar *>(read_buf_.data()),
                                       read_buf_.size(), FALSE, nullptr, &err);
    if (n > 0) {
      // A protocol error is queued as a fatal Error event: given back above.
      (void)session.receive(ByteView(read_buf_.data(), static_cast<std::size_t>(n)), now_ms());
    } else if (n == 0) {
      session.peer_closed();
    } else if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(err);
      // Timers only once the socket is drained: a streaming thread that was held up downstream
      // for longer than the idle timeout finds the publisher's bytes waiting, not silence.
      const Millis now = now_ms();
      if (auto d = session.next_deadline(); d && *d <= now) {
        session.on_timer(now);
        continue;
      }
      // Sleep until the message in progress can complete, not on every TCP segment of it
      // (Connection::receive_low_water says why this adds no latency).
      if (const std::size_t mark = session.receive_low_water(); mark != c->low_water)
        c->low_water = set_socket_receive_low_water(socket, mark) ? mark : 1;
      if (wait(c->pending_pos < c->pending.size(), session.next_deadline()) == Wait::cancelled)
        return Next::cancelled;
    } else {
      Listener::log(3, "client " + c->client.address + ": read failed: " + err->message);
      g_error_free(err);
      if (!c->drop_reason)
        c->drop_reason = "io-error";
      session.peer_closed("read error");
    }
  }
}

// One ppoll() of the socket and the cancellable's fd, until the session's next deadline.
PublisherDriver::Wait PublisherDriver::wait(bool want_write, std::optional<Millis> deadline) {
  const int fd = g_socket_get_fd(g_socket_connection_get_socket(conn_->tcp));
  for (;;) {
    pollfd fds[2] = {{fd, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0},
                     {cancel_fd_.fd, POLLIN, 0}};
    const nfds_t n = cancel_fd_.fd >= 0 ? 2 : 1;
    timespec timeout{};
    timespec *t = nullptr;
    if (deadline) {
      const std::int64_t left_us = deadline->count() * 1000 - monotonic_us();
      if (left_us <= 0)
        return Wait::ready;
      timeout.tv_sec = static_cast<time_t>(left_us / G_USEC_PER_SEC);
      timeout.tv_nsec = static_cast<long>(left_us % G_USEC_PER_SEC) * 1000;
      t = &timeout;
    } else if (n == 1) {
      // No cancellable fd (out of descriptors): poll in slices so that cancel() is seen.
      timeout.tv_nsec = 100 * 1000 * 1000;
      t = &timeout;
    }
    const int r = ppoll(fds, n, t, nullptr);
    if (r < 0 && errno == EINTR)
      continue;
    if (g_cancellable_is_cancelled(cancellable_))
      return Wait::cancelled;
    if (r < 0 || fds[0].revents != 0 || r == 0)
      return Wait::ready; // the next read/write reports an error; a deadline fires the timer
    // Only the cancellable's fd, yet not cancelled: a stale wakeup from before reset_cancel().
  }
}

void Listener::handle_event(Conn *c, Event &e) {
  if (auto *m = std::get_if<Media>(&e)) {
    if (c->endpoint && m->msg.stream_id == c->stream_id) {
      if (!c->endpoint->on_media(c->id, std::move(m->msg)))
        c->read_paused = true;
    }
    return;
  }
  if (auto *req = std::get_if<ConnectRequest>(&e)) {
    handle_connect(c, *req);
    return;
  }
  if (auto *req = std::get_if<PublishRequest>(&e)) {
    handle_publish(c, *req);
    return;
  }
  if (auto *req = std::get_if<PlayRequest>(&e)) {
    // This server only ingests: nothing serves players yet.
    log(2, "client " + c->client.address + " asked to play " + req->name + ": StreamNotFound");
    (void)c->session->reject_play(req->stream_id, std::string(status::play_stream_not_found),
                                  std::string(status::play_stream_not_found) +
                                      ": this server only accepts publishers");
    return;
  }
  if (auto *u = std::get_if<Unpublished>(&e)) {
    if (c->endpoint && u->stream_id == c->stream_id)
      stop_publishing(c, "unpublished");
    return;
  }
  if (auto *err = std::get_if<Error>(&e)) {
    log(err->fatal ? 1 : 2,
        "client " + c->client.address + ": " + err->code.message() + ": " + err->description);
    if (err->fatal && !c->drop_reason)
      // The session is already closed when it reports its timeout: whether the connect was
      // answered is what tells an idle publisher from a handshake that never finished.
      c->drop_reason = drop_reason_for(err->code, c->session->connected() || !c->app.empty());
    if (!err->fatal && err->code == make_error_code(Errc::auth_failed)) {
      // The session refuses a failed answer before it hands us the connect request; it still
      // names the application asked for. Only when even that is unknown is every endpoint of
      // the listener told.
      const std::string &app = c->app.empty() ? c->session->app() : c->app;
      for (Endpoint *ep : endpoints_)
        if (app.empty() || ep->serves_app(auth::split_app_query(app).app))
          ep->on_client_rejected(c->client, "connect", err->description);
    }
    return;
  }
  if (auto *cl = std::get_if<Closed>(&e)) {
    log(3, "client " + c->client.address + " closed: " + cl->reason);
    if (c->endpoint)
      stop_publishing(c, cl->reason);
    return;
  }
  if (auto *n = std::get_if<Note>(&e)) {
    log(3, "client " + c->client.address + ": " + n->text);
    return;
  }
}

void Listener::handle_connect(Conn *c, ConnectRequest &req) {
  c->app = req.app;
  c->tc_url = req.tc_url;
  c->flash_ver = req.flash_ver;
  ConnectInfo info{c->client, req.app, req.tc_url, req.flash_ver};
  std::vector<Endpoint *> candidates;
  for (Endpoint *ep : endpoints_)
    if (ep->serves_app(req.app))
      candidates.push_back(ep);
  std::string why;
  if (candidates.empty()) {
    why = "no application '" + req.app + "' here";
    for (Endpoint *ep : endpoints_)
      ep->on_client_rejected(c->client, "connect", why);
  } else {
    for (Endpoint *ep : candidates) {
      if (!ep->on_connect(info)) {
        why = "connection rejected by the application";
        ep->on_client_rejected(c->client, "connect", why);
        break;
      }
    }
  }
  if (!why.empty()) {
    log(2, "client " + c->client.address + " connect to '" + req.app + "' rejected: " + why);
    if (!c->drop_reason)
      c->drop_reason = "rejected";
    (void)c->session->reject_connect(std::string(status::connect_rejected),
                                     std::string(status::connect_rejected) + ": " + why);
    return;
  }
  (void)c->session->accept_connect(now_ms());
  admission_.set_stage(c->id, Admission::Stage::connected, now_ms());
  log(2, "client " + c->client.address + " connected to '" + req.app + "' (" + req.flash_ver + ")");
  for (Endpoint *ep : candidates)
    ep->on_client_connected(info);
}

void Listener::handle_publish(Conn *c, PublishRequest &req) {
  PublishInfo info{c->client, c->app, req.name, req.query, req.type};
  Endpoint *target = nullptr;
  for (Endpoint *ep : endpoints_)
    if (ep->serves_stream(c->app, req.name)) {
      target = ep;
      break;
    }
  std::string why;
  if (c->endpoint)
    why = "this connection already publishes a stream";
  else if (!target)
    why = "no stream '" + req.name + "' in application '" + c->app + "'";
  else if (publishing_.count(target))
    why = "stream '" + req.name + "' is already being published";
  else if (!target->on_publish(info))
    why = "publish rejected by the application";
  if (!why.empty()) {
    log(2, "client " + c->client.address + " publish '" + req.name + "' rejected: " + why);
    // The code is repeated in the description: FFmpeg and OBS show only the description.
    (void)c->session->reject_publish(req.stream_id, std::string(status::publish_bad_name),
                                     std::string(status::publish_bad_name) + ": " + why);
    Endpoint *notify = target ? target : nullptr;
    if (notify)
      notify->on_client_rejected(c->client, "publish", why);
    else
      for (Endpoint *ep : endpoints_)
        if (ep->serves_app(c->app))
          ep->on_client_rejected(c->client, "publish", why);
    return;
  }
  (void)c->session->accept_publish(req.stream_id);
  // One ping request as the publish starts gives the round-trip time shown in the element's
  // stats (FFmpeg, OBS/librtmp and rtmp2 all answer User Control 6).
  (void)c->session->ping(now_ms());
  c->endpoint = target;
  c->stream_id = req.stream_id;
  c->publish = info;
  publishing_[target] = c->id;
  admission_.set_stage(c->id, Admission::Stage::role, now_ms());
  log(2, "client " + c->client.address + " publishes '" + req.name + "' (" + req.type + ")");
  target->on_publish_start(info);
}

void Listener::stop_publishing(Conn *c, const std::string &reason) {
  Endpoint *ep = c->endpoint;
  if (!ep)
    return;
  c->endpoint = nullptr;
  publishing_.erase(ep);
  admission_.set_stage(c->id, Admission::Stage::connected, now_ms());
  log(2,
      "client " + c->client.address + " stopped publishing '" + c->publish.stream + "': " + reason);
  ep->on_publish_stop(c->id, reason, c->session->stats());
}

void Listener::drop(Conn *c, const char *reason) {
  if (!c->drop_reason)
    c->drop_reason = reason;
  destroy(c);
}

void Listener::destroy(Conn *c) {
  if (c->endpoint)
    stop_publishing(c, c->drop_reason ? c->drop_reason : "connection closed");
  if (c->drop_reason)
    count_drop(c->drop_reason);
  for (GSource **s : {&c->read_source, &c->write_source, &c->timer}) {
    if (*s) {
      g_source_destroy(*s);
      g_source_unref(*s);
      *s = nullptr;
    }
  }
  if (c->cancellable) {
    // The pending TLS handshake callback sees CANCELLED and does not touch `c`.
    g_cancellable_cancel(c->cancellable);
    g_object_unref(c->cancellable);
  }
  // Closing the socket never blocks; a TLS close_notify exchange could.
  if (c->tcp)
    g_socket_close(g_socket_connection_get_socket(c->tcp), nullptr);
  if (c->stream)
    g_object_unref(c->stream);
  if (c->tcp)
    g_object_unref(c->tcp);
  conns_.erase(c->id);
  admission_.remove(c->id);
  g_mutex_lock(&stats_lock_);
  stats_.open = conns_.size();
  g_mutex_unlock(&stats_lock_);
  log(3, "connection " + std::to_string(c->id) + " (" + c->client.address + ") closed");
  delete c;
}

} // namespace rtmp::net
