// The server side of the GIO driver: one listening socket, its accepted connections, one
// ServerSession per connection, all on one worker thread with its own GMainContext.
//
// Why this shape: rtmpserversrc's streaming thread must never block on a peer, and several
// rtmpserversrc elements may share one port (one listener, publishers routed by application and
// stream key). So the sockets live on a worker thread that only moves bytes between GIO and the
// sans-IO ServerSession (core/server_session.hpp), arms the session's next_deadline() as a
// timer, and hands the application decisions (connect, publish) and the media to an Endpoint
// (the element). Everything the worker does is non-blocking, so stopping it takes one loop
// iteration whatever the peers do.
//
// A plain (non-TLS) connection whose publish was accepted is then handed over to the endpoint's
// own thread (Endpoint::adopt, PublisherDriver), so that each media message costs one thread
// wakeup instead of two (listener, then the element's streaming thread; docs/performance.md,
// Scale). The listener keeps it in its table (counted, evicted never, closed by
// remove_endpoint()) and gets it back for every event that is not media.
//
// Limits (each peer-controlled quantity has a bound; see docs/rtmpserversrc.md):
// - connections: the admission policy of ListenerConfig::admission (core/admission.hpp):
//   max-connections and a per-address limit, a newcomer evicting the oldest connection that
//   neither publishes nor plays; a connection that neither publishes nor plays within the role
//   timeout of its connect is dropped. Publishers are never evicted;
// - time: the session's handshake timeout (from accept to the connect command, TLS handshake
//   included) and idle timeout, the role timeout above;
// - memory per connection: the session's ChunkLimits and held-message bounds, plus at most
//   kMaxPendingOutput bytes waiting to be written to a peer that does not read;
// - a closing connection lingers at most kCloseLinger to flush its last answer.
//
// Process-wide state: the registry of listeners by (host, port), so that elements that name
// the same address share one socket. It is a map under one mutex, touched only by acquire()
// and release().
#pragma once

#include <gio/gio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/admission.hpp"
#include "core/server_session.hpp"

namespace rtmp::net {

// Output we keep for one peer (acknowledgements, ping answers, status): a peer that stops
// reading while making us answer is dropped at this point instead of growing the buffer.
inline constexpr std::size_t kMaxPendingOutput = 1u << 20;
// How long a connection that the session closed (e.g. after a rejected connect) may take to
// receive its last bytes before the socket is closed anyway.
inline constexpr Millis kCloseLinger{1000};
// Reads per readiness callback before yielding to the other connections (fairness).
inline constexpr int kMaxReadsPerWakeup = 8;
// Completed TCP handshakes the kernel may queue for us before it drops new SYNs (listen(2)
// backlog; the kernel caps it at net.core.somaxconn). GSocket's default of 10 overflowed as
// soon as more than ten publishers connected in the same moment (a relay restarting, encoders
// reconnecting after a network cut): each dropped SYN costs its client a 1 s, then 3 s, 7 s...
// retransmission (docs/performance.md, Scale).
inline constexpr int kListenBacklog = 1024;
// Connections accepted per readiness callback of the listening socket before the accepted
// ones get their turn (a SYN flood must not starve the connections that publish).
inline constexpr int kMaxAcceptsPerWakeup = 64;

struct ListenerConfig {
  std::string host;                       // bind address; "" = all interfaces (IPv4 and IPv6)
  std::uint16_t port = 1935;              // 0 = a free port (see Listener::port())
  GTlsCertificate *certificate = nullptr; // rtmps when set (the listener keeps a reference)
  ServerConfig session;                   // template for every accepted connection
  AdmissionConfig admission;              // max-connections, per address, role timeout
};

struct ClientInfo {
  std::uint64_t id = 0;
  std::string address; // "ip:port" of the peer
};

struct ConnectInfo {
  ClientInfo client;
  std::string app, tc_url, flash_ver;
};

struct PublishInfo {
  ClientInfo client;
  std::string app, stream, query, type;
};

// Counters of one listener, for the element's `stats`.
struct ListenerStats {
  std::uint64_t accepted = 0;
  std::uint64_t open = 0;
  // Connections closed because of the peer, by reason ("handshake-timeout", "idle-timeout",
  // "protocol-error", "limit-exceeded", "max-connections", "io-error", "tls-error",
  // "not-reading", "rejected", "evicted", "evicted-per-address",
  // "max-connections-per-address", "role-timeout").
  std::map<std::string, std::uint64_t> dropped;
};

// What receives publishers: an element. Every call happens on the listener thread, one at a
// time; none may block for long (they hold up every connection of the listener) and none may
// change the state of an element using this listener.
class Listener;
struct ServerConn; // one accepted connection (server_driver.cpp)

class Endpoint {
public:
  virtual ~Endpoint() = default;
  virtual bool serves_app(std::string_view app) const = 0;
  virtual bool serves_stream(std::string_view app, std::string_view stream) const = 0;
  // Application decisions; false rejects (NetConnection.Connect.Rejected /
  // NetStream.Publish.BadName).
  virtual bool on_connect(const ConnectInfo &info) = 0;
  virtual bool on_publish(const PublishInfo &info) = 0;
  virtual void on_client_connected(const ConnectInfo &info) = 0;
  virtual void on_client_rejected(const ClientInfo &client, const std::string &what,
                                  const std::string &why) = 0;
  virtual void on_publish_start(const PublishInfo &info) = 0;
  // Media of the accepted publisher. Returning false asks the listener to stop reading that
  // connection until resume_reading(id) (the endpoint's queue is full); the message itself is
  // always taken.
  virtual bool on_media(std::uint64_t conn_id, Message &&msg) = 0;
  // Payload storage of earlier messages that came back (their buffers were freed downstream),
  // for the chunk reader of the publishing connection to reassemble the next messages into
  // (ChunkReader::give_storage): reused storage is not page-faulted in again. Asked before each
  // read of a connection publishing to this endpoint; thread-safe on the endpoint's side.
  virtual std::vector<Bytes> take_spare_storage() { return {}; }
  virtual void on_publish_stop(std::uint64_t conn_id, const std::string &reason,
                               const Stats &session_stats) = 0;
  // The password of `user` for server-side authentication (ServerConfig::auth), nullopt when
  // this endpoint does not know the user.
  virtual std::optional<std::string> password_for(std::string_view user) = 0;
  // Right after on_publish_start (and again whenever the listener took the connection back
  // for an event of its own and it still publishes here): the listener offers the publishing
  // connection to the endpoint's own thread, which then reads it with a PublisherDriver until
  // the driver gives it back (one thread wakeup per message instead of two: docs/performance.md,
  // Scale). While the endpoint holds it, on_media is not called for that connection. Returning
  // false keeps it on the listener thread (on_media). TLS connections are never offered.
  virtual bool adopt(ServerConn *) { return false; }
};

// Drives one publishing connection that the listener handed to an endpoint (Endpoint::adopt),
// from the endpoint's thread (rtmpserversrc's streaming thread): ppoll() of the socket and of
// the GCancellable's fd with the session's next deadline, reads until EAGAIN, feeds the
// ServerSession, writes its acknowledgements / ping answers without blocking (kMaxPendingOutput
// bounds what waits), and returns the publisher's media. Every other event (unpublish, close,
// errors, timeouts, a second publish or a play on the same connection) is the listener's: the
// driver gives the connection back with that event (asynchronously, on the listener thread),
// and the listener handles it exactly as for a connection it never handed over. The listener
// keeps counting the connection all along (max-connections, stats).
class PublisherDriver {
public:
  PublisherDriver();
  ~PublisherDriver();
  PublisherDriver(const PublisherDriver &) = delete;
  PublisherDriver &operator=(const PublisherDriver &) = delete;

  // Takes a connection offered through Endpoint::adopt (the driver must not hold one).
  void attach(ServerConn *conn);
  bool attached() const { return conn_ != nullptr; }

  enum class Next {
    media,     // `out` holds the next media message of the publisher
    released,  // the connection went back to the listener (it tells the endpoint what follows)
    cancelled, // cancel() was called
  };
  // Blocks until one of those (cancellable; no deadline of its own: the session's timeouts
  // end a silent publisher).
  Next next_media(Message &out);

  // Thread-safe: the current and every later next_media() returns Next::cancelled until
  // reset_cancel().
  void cancel();
  void reset_cancel();
  // The listener reclaimed the connection (Listener::remove_endpoint, called once the
  // endpoint's thread no longer runs): drop the pointer without touching it.
  void forget() { conn_ = nullptr; }

private:
  enum class Wait { ready, cancelled };
  Wait wait(bool want_write, std::optional<Millis> deadline);
  // Hands the connection back to the listener; `event` is handled there first, `drop_reason`
  // closes it at once.
  void release(std::optional<Event> event, const char *drop_reason);

  ServerConn *conn_ = nullptr;
  GCancellable *cancellable_ = nullptr;
  GPollFD cancel_fd_{};
  Bytes read_buf_;
  Bytes scratch_;
};

class Listener {
public:
  // The listener of cfg.host:cfg.port, shared when it already exists (its configuration is
  // the one of whoever created it; asking for TLS on a plain listener or the reverse is an
  // error), otherwise a new one bound and running. Port 0 always makes a new listener.
  // Returns nullptr with `error` set when the address cannot be bound.
  static Listener *acquire(const ListenerConfig &cfg, GError **error);
  // Drops one reference; the last one stops the thread and closes every connection.
  static void release(Listener *listener);

  std::uint16_t port() const { return port_; }
  bool tls() const { return certificate_ != nullptr; }

  // Synchronous (they run on the listener thread and return when done). remove_endpoint
  // closes the connections publishing to it; after it returns, no callback of `e` runs.
  void add_endpoint(Endpoint *e);
  void remove_endpoint(Endpoint *e);
  // Thread-safe, asynchronous: the connection may read again.
  void resume_reading(std::uint64_t conn_id);

  ListenerStats stats() const;

  // Where the listener writes its diagnostics (the plugin points it at a GStreamer debug
  // category). level: 0 error, 1 warning, 2 info, 3 debug.
  using LogFunction = void (*)(int level, const char *text);
  static void set_log_function(LogFunction fn);

  Listener(const Listener &) = delete;
  Listener &operator=(const Listener &) = delete;

  using Conn = ServerConn;

private:
  Listener();
  ~Listener();
  bool start(const ListenerConfig &cfg, GError **error);
  void stop();
  void run_sync(const std::function<void()> &fn);
  static gpointer thread_main(gpointer data);
  static gboolean on_incoming(GSocket *socket, GIOCondition cond, gpointer data);

  bool accept_one(GSocket *socket); // false when nothing was waiting
  void start_session(Conn *c);
  void on_readable(Conn *c);
  void on_writable(Conn *c);
  void on_timer(Conn *c);
  void pump(Conn *c);
  void handle_event(Conn *c, Event &e);
  void handle_connect(Conn *c, ConnectRequest &req);
  void handle_publish(Conn *c, PublishRequest &req);
  void stop_publishing(Conn *c, const std::string &reason);
  void update_sources(Conn *c);
  void drop(Conn *c, const char *reason);
  void destroy(Conn *c);
  void count_drop(const char *reason);
  // A warning that a flood would repeat for each connection: at most one line per interval
  // for each `kind`, which tells how many were left out.
  void warn_limited(const char *kind, const std::string &text);
  // The connection's next timer: the session's deadline or the end of its role timeout.
  std::optional<Millis> next_deadline(const Conn *c) const;
  static void log(int level, const std::string &text);
  // The output path of a connection, shared by the listener thread and a PublisherDriver:
  // moves what the session produced behind what is still pending for the peer (`scratch` takes
  // turns with the pending buffer), and writes as much as the socket takes now. write_pending
  // returns the reason to drop the connection ("io-error", "not-reading": more than
  // kMaxPendingOutput unsent), or nullptr.
  static void take_session_output(Conn *c, Bytes &scratch);
  static const char *write_pending(Conn *c);

  friend struct ConnCallbacks;
  friend class PublisherDriver;

  // Hand-over to the endpoint's thread (Endpoint::adopt, PublisherDriver).
  bool wants_hand_over(const Conn *c) const;
  bool hand_over(Conn *c);
  void give_back(Conn *c, std::optional<Event> event, const char *drop_reason);
  static bool listener_event(const Event &e);

  // Fixed at start().
  ListenerConfig cfg_;
  GTlsCertificate *certificate_ = nullptr;
  std::uint16_t port_ = 0;
  std::string key_; // registry key

  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;
  std::vector<GSocket *> sockets_; // listening
  std::vector<GSource *> accept_sources_;
  int refs_ = 0;

  // Listener thread only.
  std::map<std::uint64_t, Conn *> conns_;
  std::vector<Endpoint *> endpoints_;
  std::map<Endpoint *, std::uint64_t> publishing_; // endpoint -> connection id
  Admission admission_;                            // the policy's view of conns_
  std::map<std::string, WarningLimiter, std::less<>> warnings_;
  std::uint64_t next_id_ = 1;
  Bytes read_buf_;
  Bytes scratch_;

  mutable GMutex stats_lock_; // protects stats_
  ListenerStats stats_;
};

} // namespace rtmp::net
