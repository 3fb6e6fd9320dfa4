// rtmpserversrc: GstPushSrc that listens for RTMP publishers and outputs what one publishes as
// an FLV byte stream, exactly like rtmpsrc (elements/flv_output.h).
//
// Threading: the sockets and sessions live on the listener thread of net/server_driver.hpp
// (shared by every rtmpserversrc on the same address). Its callbacks (the Endpoint below) run
// there: they emit on-connect / on-publish, post the bus messages and queue items for create(),
// which runs on the streaming thread. Once a publish is accepted, the listener hands the
// publishing connection over (Endpoint::adopt, queued as an item): create() then reads it itself
// through a net::PublisherDriver, one wakeup per message, until the driver gives it back
// (unpublish, close, errors: the listener then queues the stop item as before). rtmps
// connections stay on the listener thread, which queues their media. `lock` protects the
// settings, the queue, the flags and the stats; `cond` wakes create() when the queue gets an
// item or on unlock(), which also cancels the driver's wait.
#include "elements/gstrtmpserversrc.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "core/command.hpp"
#include "core/url.hpp"
#include "elements/element_error.h"
#include "elements/elementary_output.h"
#include "elements/flv_output.h"
#include "net/server_driver.hpp"
#include "net/transport.hpp"

GST_DEBUG_CATEGORY_STATIC(rtmp_server_src_debug);
#define GST_CAT_DEFAULT rtmp_server_src_debug
GST_DEBUG_CATEGORY_STATIC(rtmp_listener_debug);

using namespace rtmp;
using namespace rtmp::gst;

namespace {

// Media queued between the listener thread and create(): above this the publisher's connection
// stops being read (TCP back-pressure) until create() has taken half of it.
constexpr std::size_t kMaxQueueBytes = 16u << 20;
constexpr guint kDefaultChunkSize = 4096;
constexpr guint kDefaultWindowAckSize = 2500000;
constexpr guint kDefaultHandshakeTimeout = 10; // s, from accept to the connect command
constexpr guint kDefaultIdleTimeout = 30;      // s without a byte from the client
// The default leaves room for a 4K keyframe and stays below the 16 MiB a hostile peer may
// announce (the 24-bit length field of RTMP 1.0 section 5.3.1.2 allows up to 16 MiB - 1).
constexpr guint kDefaultMaxMessageSize = 8u << 20;
constexpr guint kMaxMaxConnections = 4096;
constexpr guint kDefaultRoleTimeoutSeconds =
    static_cast<guint>(kDefaultRoleTimeout.count() / 1000); // s, from connect to publish/play
constexpr guint kDefaultReconnectTimeout = 10;              // s

enum class OnDisconnect { eos = 0, wait = 1 };
enum class ServerAuthMethod { none = 0, adobe = 1, llnw = 2 };

enum : guint {
  PROP_0,
  PROP_LOCATION,
  PROP_HOST,
  PROP_PORT,
  PROP_BOUND_PORT,
  PROP_APPLICATION,
  PROP_STREAM_KEY,
  PROP_CERTIFICATE,
  PROP_CERTIFICATE_FILE,
  PROP_PRIVATE_KEY_FILE,
  PROP_CHUNK_SIZE,
  PROP_WINDOW_ACK_SIZE,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_ADDRESS,
  PROP_ROLE_TIMEOUT,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_IDLE_TIMEOUT,
  PROP_MAX_MESSAGE_SIZE,
  PROP_ON_DISCONNECT,
  PROP_RECONNECT_TIMEOUT,
  PROP_AUTH,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_STATS,
  PROP_OUTPUT,
};

enum { SIGNAL_ON_CONNECT, SIGNAL_ON_PUBLISH, SIGNAL_GET_PASSWORD, SIGNAL_LAST };
guint signals[SIGNAL_LAST];

struct ServerSettings {
  bool rtmps = false; // location said rtmps://
  std::string host;   // "" = every interface
  guint port = kDefaultRtmpPort;
  std::string application; // "" or "*" = any
  std::string stream_key;  // "" or "*" = any
  GTlsCertificate *certificate = nullptr;
  std::string certificate_file, private_key_file;
  guint chunk_size = kDefaultChunkSize;
  guint window_ack_size = kDefaultWindowAckSize;
  guint max_connections = static_cast<guint>(kDefaultMaxConnections);
  guint max_connections_per_address = static_cast<guint>(kDefaultMaxConnectionsPerAddress);
  guint role_timeout = kDefaultRoleTimeoutSeconds;
  guint handshake_timeout = kDefaultHandshakeTimeout;
  guint idle_timeout = kDefaultIdleTimeout;
  guint max_message_size = kDefaultMaxMessageSize;
  OnDisconnect on_disconnect = OnDisconnect::eos;
  guint reconnect_timeout = kDefaultReconnectTimeout;
  ServerAuthMethod auth = ServerAuthMethod::none;
  std::string username, password;
  OutputMode output = OutputMode::flv;
  // Set while the last location given (property or URI) was refused, cleared by a valid one.
  // The fields above then still name the previous (or default) address, which is not what the
  // user asked for: start() refuses to listen while this is set.
  std::optional<ErrorReport> location_error;

  std::string location() const {
    const std::string h = host.empty() ? "0.0.0.0" : host;
    const bool v6 = h.find(':') != std::string::npos;
    return std::string(rtmps ? "rtmps" : "rtmp") + "://" + (v6 ? "[" + h + "]" : h) + ":" +
           std::to_string(port) + "/" + (application.empty() ? "*" : application) + "/" +
           (stream_key.empty() ? "*" : stream_key);
  }
};

bool matches(const std::string &pattern, std::string_view value) {
  return pattern.empty() || pattern == "*" || pattern == value;
}

struct Item {
  enum class Kind { start, media, stop, adopt } kind = Kind::media;
  Message msg;
  std::string address, reason;
  net::ServerConn *conn = nullptr; // adopt: the publishing connection handed over
};

struct Counters {
  std::uint64_t connections = 0; // connects accepted for this element
  std::uint64_t publishes = 0;
  std::uint64_t rejected = 0;
  std::uint64_t bytes = 0; // media payload bytes received
  std::uint64_t messages = 0;
  std::uint64_t queue_pauses = 0;
  std::string publisher;     // current publisher address ("" when none)
  Stats last_session;        // of the last publisher that stopped
  std::uint64_t bitrate = 0; // bits/s of media payload over the last second
};

} // namespace

struct ServerSrcPrivate;

// The element as the listener sees it (all calls on the listener thread).
class ServerEndpoint : public net::Endpoint {
public:
  ServerEndpoint(GstRtmpServerSrc *self, ServerSettings active)
      : self_(self), active_(std::move(active)) {}
  bool serves_app(std::string_view app) const override { return matches(active_.application, app); }
  bool serves_stream(std::string_view app, std::string_view stream) const override {
    return matches(active_.application, app) && matches(active_.stream_key, stream);
  }
  bool on_connect(const net::ConnectInfo &info) override;
  bool on_publish(const net::PublishInfo &info) override;
  void on_client_connected(const net::ConnectInfo &info) override;
  void on_client_rejected(const net::ClientInfo &client, const std::string &what,
                          const std::string &why) override;
  void on_publish_start(const net::PublishInfo &info) override;
  bool on_media(std::uint64_t conn_id, Message &&msg) override;
  std::vector<Bytes> take_spare_storage() override;
  void on_publish_stop(std::uint64_t conn_id, const std::string &reason,
                       const Stats &session_stats) override;
  std::optional<std::string> password_for(std::string_view user) override;
  bool adopt(net::ServerConn *conn) override;

private:
  GstRtmpServerSrc *self_;
  ServerSettings active_;
};

struct ServerSrcPrivate {
  GMutex lock;
  GCond cond;
  ServerSettings settings;

  // Under lock: the running server and what it hands to create().
  net::Listener *listener = nullptr;
  std::unique_ptr<ServerEndpoint> endpoint;
  guint bound_port = 0;
  std::deque<Item> queue;
  std::size_t queued_bytes = 0;
  std::optional<std::uint64_t> paused_conn;
  bool flushing = false;
  bool finished = false; // EOS decided: no publisher is accepted any more
  OnDisconnect on_disconnect = OnDisconnect::eos;
  Counters counters;

  // Streaming thread only (cancel() / reset_cancel() from unlock() / unlock_stop(); forget()
  // in stop(), once the streaming thread is gone): the publishing connection create() reads.
  net::PublisherDriver driver;
  FlvOutput out;
  // output=elementary: the per-track pads (shares out's timeline); `mode` is taken from the
  // settings in start().
  std::unique_ptr<ElementaryOutput> elementary;
  OutputMode mode = OutputMode::flv;
  bool header_pushed = false;
  GstBuffer *after_header = nullptr; // the first message, pushed after the FLV header
  bool had_publisher = false;
  std::int64_t wait_deadline_us = -1; // on-disconnect=wait: EOS when nobody came back by then
  std::int64_t stopped_at_us = 0;
  std::int64_t last_position_ms = 0;
  std::int64_t rate_mark_us = 0;
  std::uint64_t rate_mark_bytes = 0;
  guint reconnect_timeout = kDefaultReconnectTimeout;

  ServerSrcPrivate() {
    g_mutex_init(&lock);
    g_cond_init(&cond);
  }
  ~ServerSrcPrivate() {
    if (after_header)
      gst_buffer_unref(after_header);
    if (settings.certificate)
      g_object_unref(settings.certificate);
    g_cond_clear(&cond);
    g_mutex_clear(&lock);
  }
};

struct _GstRtmpServerSrc {
  GstPushSrc parent;
  ServerSrcPrivate *priv;
};

static void uri_handler_init(gpointer iface, gpointer data);

G_DEFINE_TYPE_WITH_CODE(GstRtmpServerSrc, gst_rtmp_server_src, GST_TYPE_PUSH_SRC,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, uri_handler_init))

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define PRIV(obj) (GST_RTMP_SERVER_SRC(obj)->priv)

static GType on_disconnect_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(OnDisconnect::eos), "Push EOS when the publisher goes away", "eos"},
      {static_cast<gint>(OnDisconnect::wait),
       "Wait reconnect-timeout seconds for the same stream to be published again", "wait"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstRtmpServerSrcOnDisconnect", values));
  return type;
}

static GType server_auth_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(ServerAuthMethod::none), "No authentication", "none"},
      {static_cast<gint>(ServerAuthMethod::adobe), "Adobe (FMS/Wowza) challenge", "adobe"},
      {static_cast<gint>(ServerAuthMethod::llnw), "Limelight challenge", "llnw"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstRtmpServerSrcAuth", values));
  return type;
}

static void post_element_message(GstRtmpServerSrc *self, GstStructure *s) {
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

// ---- Listener thread --------------------------------------------------------------------------

bool ServerEndpoint::on_connect(const net::ConnectInfo &info) {
  gboolean ok = TRUE;
  if (g_signal_has_handler_pending(self_, signals[SIGNAL_ON_CONNECT], 0, FALSE))
    g_signal_emit(self_, signals[SIGNAL_ON_CONNECT], 0, info.client.address.c_str(),
                  info.app.c_str(), info.tc_url.c_str(), info.flash_ver.c_str(), &ok);
  return ok;
}

bool ServerEndpoint::on_publish(const net::PublishInfo &info) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  const bool finished = p->finished;
  g_mutex_unlock(&p->lock);
  if (finished)
    return false;
  gboolean ok = TRUE;
  if (g_signal_has_handler_pending(self_, signals[SIGNAL_ON_PUBLISH], 0, FALSE))
    g_signal_emit(self_, signals[SIGNAL_ON_PUBLISH], 0, info.app.c_str(), info.stream.c_str(),
                  info.query.c_str(), info.client.address.c_str(), &ok);
  return ok;
}

void ServerEndpoint::on_client_connected(const net::ConnectInfo &info) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  ++p->counters.connections;
  g_mutex_unlock(&p->lock);
  GST_INFO_OBJECT(self_, "client %s connected to '%s' (%s)", info.client.address.c_str(),
                  info.app.c_str(), info.flash_ver.c_str());
  post_element_message(self_, gst_structure_new("rtmp-client-connected", "address", G_TYPE_STRING,
                                                info.client.address.c_str(), "application",
                                                G_TYPE_STRING, info.app.c_str(), "tc-url",
                                                G_TYPE_STRING, info.tc_url.c_str(), "flash-ver",
                                                G_TYPE_STRING, info.flash_ver.c_str(), nullptr));
}

void ServerEndpoint::on_client_rejected(const net::ClientInfo &client, const std::string &what,
                                        const std::string &why) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  ++p->counters.rejected;
  g_mutex_unlock(&p->lock);
  // WARNING, in the element's category: a refused publisher is what an operator looks for
  // (a wrong key or password in an encoder's settings), and with GST_DEBUG=rtmpserversrc:2 the
  // line names the client even where nobody reads the bus.
  GST_WARNING_OBJECT(self_, "client %s: %s rejected: %s", client.address.c_str(), what.c_str(),
                     why.c_str());
  post_element_message(self_, gst_structure_new("rtmp-client-rejected", "address", G_TYPE_STRING,
                                                client.address.c_str(), "stage", G_TYPE_STRING,
                                                what.c_str(), "reason", G_TYPE_STRING, why.c_str(),
                                                nullptr));
}

void ServerEndpoint::on_publish_start(const net::PublishInfo &info) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  ++p->counters.publishes;
  p->counters.publisher = info.client.address;
  p->queue.push_back(Item{Item::Kind::start, {}, info.client.address, {}});
  g_cond_signal(&p->cond);
  g_mutex_unlock(&p->lock);
  GST_INFO_OBJECT(self_, "client %s publishes '%s/%s'", info.client.address.c_str(),
                  info.app.c_str(), info.stream.c_str());
  post_element_message(self_, gst_structure_new("rtmp-publish-start", "address", G_TYPE_STRING,
                                                info.client.address.c_str(), "application",
                                                G_TYPE_STRING, info.app.c_str(), "stream-key",
                                                G_TYPE_STRING, info.stream.c_str(), "query",
                                                G_TYPE_STRING, info.query.c_str(), "type",
                                                G_TYPE_STRING, info.type.c_str(), nullptr));
}

// The pool of FlvOutput is thread-safe and lives as long as the element (reset() keeps it).
std::vector<Bytes> ServerEndpoint::take_spare_storage() {
  return self_->priv->out.take_spare_storage();
}

bool ServerEndpoint::on_media(std::uint64_t conn_id, Message &&msg) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  p->counters.bytes += msg.payload.size();
  ++p->counters.messages;
  p->queued_bytes += msg.payload.size();
  // The streaming thread only waits on an empty queue: waking it for every message while it is
  // still busy with the previous ones would cost a futex call per message (docs/performance.md).
  const bool was_empty = p->queue.empty();
  p->queue.push_back(Item{Item::Kind::media, std::move(msg), {}, {}});
  const bool keep_reading = p->queued_bytes < kMaxQueueBytes;
  if (!keep_reading) {
    p->paused_conn = conn_id;
    ++p->counters.queue_pauses;
  }
  if (was_empty)
    g_cond_signal(&p->cond);
  g_mutex_unlock(&p->lock);
  return keep_reading;
}

void ServerEndpoint::on_publish_stop(std::uint64_t, const std::string &reason,
                                     const Stats &session_stats) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  const std::string address = p->counters.publisher;
  p->counters.publisher.clear();
  p->counters.last_session = session_stats;
  p->paused_conn.reset();
  g_mutex_unlock(&p->lock);
  GST_INFO_OBJECT(self_, "publisher %s stopped: %s", address.c_str(), reason.c_str());
  // Posted before the stop item is queued: the item may end the stream at once, and an
  // application that stops at EOS must already have this message on its bus.
  post_element_message(
      self_, gst_structure_new("rtmp-publish-stop", "address", G_TYPE_STRING, address.c_str(),
                               "reason", G_TYPE_STRING, reason.c_str(), "bytes", G_TYPE_UINT64,
                               static_cast<guint64>(session_stats.bytes_in), nullptr));
  g_mutex_lock(&p->lock);
  p->queue.push_back(Item{Item::Kind::stop, {}, address, reason});
  g_cond_signal(&p->cond);
  g_mutex_unlock(&p->lock);
}

bool ServerEndpoint::adopt(net::ServerConn *conn) {
  ServerSrcPrivate *p = self_->priv;
  g_mutex_lock(&p->lock);
  Item item;
  item.kind = Item::Kind::adopt;
  item.conn = conn;
  p->queue.push_back(std::move(item));
  g_cond_signal(&p->cond);
  g_mutex_unlock(&p->lock);
  return true;
}

std::optional<std::string> ServerEndpoint::password_for(std::string_view user) {
  if (g_signal_has_handler_pending(self_, signals[SIGNAL_GET_PASSWORD], 0, FALSE)) {
    gchar *password = nullptr;
    const std::string u(user);
    g_signal_emit(self_, signals[SIGNAL_GET_PASSWORD], 0, u.c_str(), &password);
    if (!password)
      return std::nullopt;
    std::string s = password;
    g_free(password);
    return s;
  }
  if (!active_.username.empty() && user == active_.username)
    return active_.password;
  return std::nullopt;
}

// ---- Streaming thread -------------------------------------------------------------------------

static GstStructure *make_stats(ServerSrcPrivate *p) {
  // Caller holds p->lock.
  const Counters &c = p->counters;
  GstStructure *s = gst_structure_new(
      "rtmpserversrc-stats", "connections", G_TYPE_UINT64, c.connections, "publishes",
      G_TYPE_UINT64, c.publishes, "rejected", G_TYPE_UINT64, c.rejected, "publisher", G_TYPE_STRING,
      c.publisher.c_str(), "bytes", G_TYPE_UINT64, c.bytes, "messages", G_TYPE_UINT64, c.messages,
      "bitrate", G_TYPE_UINT64, c.bitrate, "queued-bytes", G_TYPE_UINT64,
      static_cast<guint64>(p->queued_bytes), "queue-pauses", G_TYPE_UINT64, c.queue_pauses,
      "bound-port", G_TYPE_UINT, p->bound_port, nullptr);
  if (p->listener) {
    const net::ListenerStats ls = p->listener->stats();
    gst_structure_set(s, "connections-accepted", G_TYPE_UINT64, ls.accepted, "connections-open",
                      G_TYPE_UINT64, ls.open, nullptr);
    for (const auto &[reason, n] : ls.dropped) {
      const std::string field = "dropped-" + reason;
      gst_structure_set(s, field.c_str(), G_TYPE_UINT64, n, nullptr);
    }
  }
  if (c.last_session.rtt)
    gst_structure_set(s, "rtt-ms", G_TYPE_UINT64, static_cast<guint64>(c.last_session.rtt->count()),
                      nullptr);
  return s;
}

static GTlsCertificate *load_certificate(const ServerSettings &s, GError **error) {
  if (s.certificate)
    return G_TLS_CERTIFICATE(g_object_ref(s.certificate));
  if (s.certificate_file.empty())
    return nullptr;
  if (s.private_key_file.empty())
    return g_tls_certificate_new_from_file(s.certificate_file.c_str(), error);
  return g_tls_certificate_new_from_files(s.certificate_file.c_str(), s.private_key_file.c_str(),
                                          error);
}

static gboolean gst_rtmp_server_src_start(GstBaseSrc *src) {
  auto *self = GST_RTMP_SERVER_SRC(src);
  ServerSrcPrivate *p = self->priv;
  g_mutex_lock(&p->lock);
  const ServerSettings s = p->settings;
  if (s.certificate)
    g_object_ref(s.certificate); // the copy holds its own reference below
  g_mutex_unlock(&p->lock);
  auto release_copy = [&] {
    if (s.certificate)
      g_object_unref(s.certificate);
  };
  if (s.location_error) { // set in READY
    RTMP_POST_ERROR(self, *s.location_error);
    release_copy();
    return FALSE;
  }

  GError *err = nullptr;
  GTlsCertificate *cert = load_certificate(s, &err);
  if (err) {
    RTMP_POST_ERROR(self, report_settings("could not load the TLS certificate", err->message));
    g_error_free(err);
    release_copy();
    return FALSE;
  }
  if (s.rtmps && !cert) {
    RTMP_POST_ERROR(self, report_settings("rtmps needs a certificate",
                                          "set certificate or certificate-file (and "
                                          "private-key-file)"));
    release_copy();
    return FALSE;
  }

  net::ListenerConfig cfg;
  cfg.host = s.host == "0.0.0.0" ? "0.0.0.0" : s.host;
  cfg.port = static_cast<std::uint16_t>(s.port);
  cfg.certificate = cert;
  cfg.admission.max_connections = s.max_connections;
  cfg.admission.max_per_address = s.max_connections_per_address;
  cfg.admission.role_timeout = Millis(static_cast<std::int64_t>(s.role_timeout) * 1000);
  cfg.session.chunk_size = s.chunk_size;
  cfg.session.window_ack_size = s.window_ack_size;
  cfg.session.peer_bandwidth = s.window_ack_size;
  cfg.session.handshake_timeout = Millis(static_cast<std::int64_t>(s.handshake_timeout) * 1000);
  cfg.session.idle_timeout = Millis(static_cast<std::int64_t>(s.idle_timeout) * 1000);
  cfg.session.limits.max_message_size = s.max_message_size;
  // Partial messages held across all chunk streams of one connection: two of the largest
  // message (audio and video interleaved), so memory per connection follows the property.
  cfg.session.limits.max_buffered_bytes = 2 * static_cast<std::size_t>(s.max_message_size);
  if (s.auth == ServerAuthMethod::adobe)
    cfg.session.auth.method = auth::Method::adobe;
  else if (s.auth == ServerAuthMethod::llnw)
    cfg.session.auth.method = auth::Method::llnw;
  // Enhanced RTMP v2: we pass every codec through in the FLV stream, whatever it is.
  cfg.session.accepted_capabilities.fourcc_list = {"*"};

  net::Listener *listener = net::Listener::acquire(cfg, &err);
  if (cert)
    g_object_unref(cert);
  if (!listener) {
    const std::string where =
        (s.host.empty() ? std::string("*") : s.host) + ":" + std::to_string(s.port);
    ErrorReport r = report_from_gerror(err, "listen on", where, Direction::read);
    g_error_free(err);
    RTMP_POST_ERROR(self, r);
    release_copy();
    return FALSE;
  }
  auto endpoint = std::make_unique<ServerEndpoint>(self, s);
  release_copy();

  g_mutex_lock(&p->lock);
  p->listener = listener;
  p->bound_port = listener->port();
  p->queue.clear();
  p->queued_bytes = 0;
  p->paused_conn.reset();
  p->finished = false;
  p->on_disconnect = s.on_disconnect;
  p->reconnect_timeout = s.reconnect_timeout;
  p->counters = Counters{};
  p->endpoint = std::move(endpoint);
  ServerEndpoint *ep = p->endpoint.get();
  g_mutex_unlock(&p->lock);
  listener->add_endpoint(ep);

  p->out.reset();
  p->mode = s.output;
  p->header_pushed = p->had_publisher = false;
  p->wait_deadline_us = -1;
  p->rate_mark_us = net::monotonic_us();
  p->rate_mark_bytes = 0;
  GST_INFO_OBJECT(self, "listening on %s (port %u)", s.location().c_str(), p->bound_port);
  g_object_notify(G_OBJECT(self), "bound-port");
  return TRUE;
}

static gboolean gst_rtmp_server_src_stop(GstBaseSrc *src) {
  ServerSrcPrivate *p = PRIV(src);
  g_mutex_lock(&p->lock);
  net::Listener *listener = p->listener;
  ServerEndpoint *ep = p->endpoint.get();
  g_mutex_unlock(&p->lock);
  if (listener) {
    // After this no listener callback touches the element.
    listener->remove_endpoint(ep);
    net::Listener::release(listener);
  }
  // remove_endpoint() closed the connection the driver held (and those of queued adopt items).
  p->driver.forget();
  g_mutex_lock(&p->lock);
  p->listener = nullptr;
  p->endpoint.reset();
  p->queue.clear();
  p->queued_bytes = 0;
  p->paused_conn.reset();
  p->counters.publisher.clear();
  g_mutex_unlock(&p->lock);
  p->out.reset();
  p->elementary->reset();
  if (p->after_header)
    gst_buffer_unref(p->after_header);
  p->after_header = nullptr;
  return TRUE;
}

static gboolean gst_rtmp_server_src_unlock(GstBaseSrc *src) {
  ServerSrcPrivate *p = PRIV(src);
  g_mutex_lock(&p->lock);
  p->flushing = true;
  g_cond_broadcast(&p->cond);
  g_mutex_unlock(&p->lock);
  p->driver.cancel();
  return TRUE;
}

static gboolean gst_rtmp_server_src_unlock_stop(GstBaseSrc *src) {
  ServerSrcPrivate *p = PRIV(src);
  g_mutex_lock(&p->lock);
  p->flushing = false;
  g_mutex_unlock(&p->lock);
  p->driver.reset_cancel();
  return TRUE;
}

// Running time of the pipeline now, in ms (0 without a clock): the first publisher's first
// message is placed there, so that a live pipeline downstream of flvdemux sees buffers on time.
static std::int64_t running_time_ms(GstRtmpServerSrc *self) {
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock)
    return 0;
  const GstClockTime now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  const GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
  if (now == GST_CLOCK_TIME_NONE || now < base)
    return 0;
  return static_cast<std::int64_t>((now - base) / GST_MSECOND);
}

// onTextData / onCuePoint: the message stays in the FLV stream (flvdemux and
// players see it) and is also told to the application, as an element message on the bus
// (`rtmp-text-data`, `rtmp-cue-point`), and for text as a tag event (GST_TAG_COMMENT, with
// GST_TAG_LANGUAGE_CODE when given) once media flows (flvdemux drops tags that reach it before
// it has pads).
static void post_data_message(GstRtmpServerSrc *self, GstStructure *data) {
  ServerSrcPrivate *p = self->priv;
  GST_DEBUG_OBJECT(self, "data message %" GST_PTR_FORMAT, static_cast<void *>(data));
  if (gst_structure_has_name(data, "rtmp-text-data") && p->out.media_buffers_out() > 0) {
    gst_pad_push_event(GST_BASE_SRC_PAD(self), gst_event_new_tag(text_data_tags(data)));
  }
  post_element_message(self, data);
}

static GstFlowReturn create_buffer(GstRtmpServerSrc *self, GstBuffer **outbuf);

// Bitrate of the media payload over about the last second. Caller holds p->lock.
static void update_bitrate(ServerSrcPrivate *p) {
  const std::int64_t now_us = net::monotonic_us();
  if (now_us - p->rate_mark_us >= G_USEC_PER_SEC) {
    const std::uint64_t bytes = p->counters.bytes;
    p->counters.bitrate = (bytes - p->rate_mark_bytes) * 8 * G_USEC_PER_SEC /
                          static_cast<std::uint64_t>(now_us - p->rate_mark_us);
    p->rate_mark_bytes = bytes;
    p->rate_mark_us = now_us;
  }
}

// In output=elementary mode create() pushes on the track pads itself and returns only to stop
// the streaming thread (flushing, EOS, error): the always `src` pad gets no buffer.
static GstFlowReturn gst_rtmp_server_src_create(GstPushSrc *psrc, GstBuffer **outbuf) {
  auto *self = GST_RTMP_SERVER_SRC(psrc);
  ServerSrcPrivate *p = self->priv;
  const GstFlowReturn r = create_buffer(self, outbuf);
  return p->mode == OutputMode::elementary ? p->elementary->finish(r) : r;
}

static GstFlowReturn create_buffer(GstRtmpServerSrc *self, GstBuffer **outbuf) {
  ServerSrcPrivate *p = self->priv;

  if (p->after_header) { // the first message, held back while the FLV header went out
    *outbuf = p->after_header;
    p->after_header = nullptr;
    return GST_FLOW_OK;
  }
  if (GstTagList *tags = p->out.take_ready_tags())
    gst_pad_push_event(GST_BASE_SRC_PAD(self), gst_event_new_tag(tags));

  for (;;) {
    Message msg;
    if (p->driver.attached()) {
      // The publishing connection is ours: read it here, one wakeup per message.
      const auto next = p->driver.next_media(msg);
      if (next == net::PublisherDriver::Next::cancelled)
        return GST_FLOW_FLUSHING;
      if (next == net::PublisherDriver::Next::released)
        continue; // back on the listener thread, which queues what follows (stop)
      g_mutex_lock(&p->lock);
      p->counters.bytes += msg.payload.size();
      ++p->counters.messages;
      update_bitrate(p);
      g_mutex_unlock(&p->lock);
    } else {
      g_mutex_lock(&p->lock);
      bool timed_out = false;
      while (p->queue.empty() && !p->flushing && !timed_out) {
        if (p->wait_deadline_us >= 0)
          timed_out = !g_cond_wait_until(&p->cond, &p->lock, p->wait_deadline_us) &&
                      net::monotonic_us() >= p->wait_deadline_us;
        else
          g_cond_wait(&p->cond, &p->lock);
      }
      if (p->flushing) {
        g_mutex_unlock(&p->lock);
        return GST_FLOW_FLUSHING;
      }
      if (p->queue.empty()) { // on-disconnect=wait and nobody came back in time
        p->finished = true;
        g_mutex_unlock(&p->lock);
        GST_INFO_OBJECT(self, "no publisher came back within %u s: end of stream",
                        p->reconnect_timeout);
        return GST_FLOW_EOS;
      }
      Item item = std::move(p->queue.front());
      p->queue.pop_front();
      p->queued_bytes -= item.msg.payload.size();
      std::optional<std::uint64_t> resume;
      if (p->paused_conn && p->queued_bytes < kMaxQueueBytes / 2) {
        resume = p->paused_conn;
        p->paused_conn.reset();
      }
      update_bitrate(p);
      const OnDisconnect on_disconnect = p->on_disconnect;
      net::Listener *listener = p->listener;
      g_mutex_unlock(&p->lock);
      if (resume && listener)
        listener->resume_reading(*resume);

      switch (item.kind) {
      case Item::Kind::start:
        if (!p->had_publisher) {
          p->out.timeline().restart_at(running_time_ms(self));
        } else {
          // A publisher came back (on-disconnect=wait): continue the timeline from where the
          // last one stopped plus the time nobody published.
          const std::int64_t gap_ms = (net::monotonic_us() - p->stopped_at_us) / 1000;
          p->out.timeline().restart_at(p->last_position_ms + gap_ms);
        }
        if (p->had_publisher)
          p->elementary->new_publisher();
        p->had_publisher = true;
        p->wait_deadline_us = -1;
        continue;
      case Item::Kind::stop:
        if (on_disconnect == OnDisconnect::eos) {
          g_mutex_lock(&p->lock);
          p->finished = true;
          g_mutex_unlock(&p->lock);
          GST_INFO_OBJECT(self, "publisher %s went away (%s): end of stream", item.address.c_str(),
                          item.reason.c_str());
          return GST_FLOW_EOS;
        }
        p->stopped_at_us = net::monotonic_us();
        p->last_position_ms = p->out.timeline().highest;
        p->wait_deadline_us =
            p->stopped_at_us + static_cast<std::int64_t>(p->reconnect_timeout) * G_USEC_PER_SEC;
        GST_INFO_OBJECT(self, "publisher %s went away (%s): waiting %u s for it to come back",
                        item.address.c_str(), item.reason.c_str(), p->reconnect_timeout);
        continue;
      case Item::Kind::adopt:
        p->driver.attach(item.conn);
        continue;
      case Item::Kind::media:
        break;
      }
      msg = std::move(item.msg);
    }
    if (p->mode == OutputMode::elementary) {
      if (GstFlowReturn r = p->elementary->push_message(msg); r != GST_FLOW_OK)
        return r;
      continue;
    }
    GstBuffer *buf = p->out.message_to_buffer(GST_OBJECT(self), msg);
    if (GstStructure *data = p->out.take_data_structure())
      post_data_message(self, data);
    if (!buf)
      continue;
    if (p->out.take_caps_changed()) {
      GstCaps *caps = p->out.caps();
      gst_base_src_set_caps(GST_BASE_SRC(self), caps);
      gst_caps_unref(caps);
    }
    if (gst_base_src_get_do_timestamp(GST_BASE_SRC(self))) {
      // Arrival time instead: basesrc stamps buffers that have none.
      GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
    }
    if (!p->header_pushed) {
      // The FLV header goes first, when the first message is there and with its timestamp:
      // the first message is placed at the pipeline's running time, and a header stamped 0
      // (what basesrc makes of an untimed first buffer) seconds ahead of it would make a
      // time-limited queue downstream (`tee ! queue`) full at once, which stalls a live
      // pipeline whose other branch has not prerolled yet.
      p->header_pushed = true;
      GstBuffer *header = p->out.header_buffer();
      GST_BUFFER_PTS(header) = GST_BUFFER_DTS(buf);
      GST_BUFFER_DTS(header) = GST_BUFFER_DTS(buf);
      p->after_header = buf;
      *outbuf = header;
      return GST_FLOW_OK;
    }
    *outbuf = buf;
    return GST_FLOW_OK;
  }
}

static GstCaps *gst_rtmp_server_src_get_caps(GstBaseSrc *src, GstCaps *filter) {
  return PRIV(src)->out.query_caps(GST_BASE_SRC_PAD(src), filter);
}

static gboolean gst_rtmp_server_src_is_seekable(GstBaseSrc *) {
  return FALSE;
}

// ---- Properties -------------------------------------------------------------------------------

// A listen location may say port 0 ("pick a free port", like port=0), which a URL to connect
// to may not (core/url.cpp rejects it). Removes an all-zero ":0" port from the authority of
// `uri` and returns true when there was one.
static bool take_port_zero(std::string &uri) {
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos)
    return false;
  const std::size_t start = scheme_end + 3;
  const std::size_t end = std::min(uri.find('/', start), uri.size());
  const std::size_t colon = uri.rfind(':', end == 0 ? 0 : end - 1);
  if (colon == std::string::npos || colon < start || colon + 1 >= end)
    return false;
  if (uri.find(']', colon) < end || uri.find('@', colon) < end)
    return false; // the colon is inside an IPv6 literal or the user info
  for (std::size_t i = colon + 1; i < end; ++i)
    if (uri[i] != '0')
      return false;
  uri.erase(colon, end - colon);
  return true;
}

// The one place a listen location is parsed. On failure the fields are unchanged and
// s.location_error keeps why, naming `as_written` (the URI as the user wrote it, when the URI
// handler mapped its scheme) or else `uri`; `error` gets the same text.
static bool set_location(ServerSettings &s, const gchar *uri, GError **error,
                         const gchar *as_written = nullptr) {
  const std::string given = as_written ? as_written : uri ? uri : "";
  std::string text = uri ? uri : "";
  const bool any_port = take_port_zero(text);
  std::string why;
  auto url = parse_rtmp_url(text, false, &why);
  if (!uri)
    why = "no location";
  if (!uri || !url) {
    s.location_error = report_invalid_location(
        given, why, "rtmp[s]://host:port/application/streamkey ('*' for any)");
    g_set_error_literal(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
                        s.location_error->text.c_str());
    return false;
  }
  s.location_error.reset();
  s.rtmps = url->is_tls();
  s.host = url->host == "0.0.0.0" ? "" : url->host;
  s.port = any_port ? 0 : url->port;
  s.application = url->application == "*" ? "" : url->application;
  s.stream_key = url->stream == "*" ? "" : url->stream;
  return true;
}

static void gst_rtmp_server_src_set_property(GObject *object, guint prop_id, const GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_RTMP_SERVER_SRC(object);
  ServerSrcPrivate *p = self->priv;
  g_mutex_lock(&p->lock);
  ServerSettings &s = p->settings;
  auto str = [&] {
    return std::string(g_value_get_string(value) ? g_value_get_string(value) : "");
  };
  switch (prop_id) {
  case PROP_LOCATION:
    // A refused location is kept in s.location_error and fails the next start.
    (void)set_location(s, g_value_get_string(value), nullptr);
    break;
  case PROP_HOST:
    s.host = str() == "0.0.0.0" ? "" : str();
    break;
  case PROP_PORT:
    s.port = g_value_get_uint(value);
    break;
  case PROP_APPLICATION:
    s.application = str() == "*" ? "" : str();
    break;
  case PROP_STREAM_KEY:
    s.stream_key = str() == "*" ? "" : str();
    break;
  case PROP_CERTIFICATE:
    if (s.certificate)
      g_object_unref(s.certificate);
    s.certificate = G_TLS_CERTIFICATE(g_value_dup_object(value));
    break;
  case PROP_CERTIFICATE_FILE:
    s.certificate_file = str();
    break;
  case PROP_PRIVATE_KEY_FILE:
    s.private_key_file = str();
    break;
  case PROP_CHUNK_SIZE:
    s.chunk_size = g_value_get_uint(value);
    break;
  case PROP_WINDOW_ACK_SIZE:
    s.window_ack_size = g_value_get_uint(value);
    break;
  case PROP_MAX_CONNECTIONS:
    s.max_connections = g_value_get_uint(value);
    break;
  case PROP_MAX_CONNECTIONS_PER_ADDRESS:
    s.max_connections_per_address = g_value_get_uint(value);
    break;
  case PROP_ROLE_TIMEOUT:
    s.role_timeout = g_value_get_uint(value);
    break;
  case PROP_HANDSHAKE_TIMEOUT:
    s.handshake_timeout = g_value_get_uint(value);
    break;
  case PROP_IDLE_TIMEOUT:
    s.idle_timeout = g_value_get_uint(value);
    break;
  case PROP_MAX_MESSAGE_SIZE:
    s.max_message_size = g_value_get_uint(value);
    break;
  case PROP_OUTPUT:
    s.output = static_cast<OutputMode>(g_value_get_enum(value));
    break;
  case PROP_ON_DISCONNECT:
    s.on_disconnect = static_cast<OnDisconnect>(g_value_get_enum(value));
    p->on_disconnect = s.on_disconnect;
    break;
  case PROP_RECONNECT_TIMEOUT:
    s.reconnect_timeout = g_value_get_uint(value);
    break;
  case PROP_AUTH:
    s.auth = static_cast<ServerAuthMethod>(g_value_get_enum(value));
    break;
  case PROP_USERNAME:
    s.username = str();
    break;
  case PROP_PASSWORD:
    s.password = str();
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  g_mutex_unlock(&p->lock);
}

static void gst_rtmp_server_src_get_property(GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec) {
  ServerSrcPrivate *p = PRIV(object);
  g_mutex_lock(&p->lock);
  const ServerSettings &s = p->settings;
  switch (prop_id) {
  case PROP_LOCATION:
    g_value_set_string(value, s.location().c_str());
    break;
  case PROP_HOST:
    g_value_set_string(value, s.host.empty() ? "0.0.0.0" : s.host.c_str());
    break;
  case PROP_PORT:
    g_value_set_uint(value, s.port);
    break;
  case PROP_BOUND_PORT:
    g_value_set_uint(value, p->bound_port);
    break;
  case PROP_APPLICATION:
    g_value_set_string(value, s.application.c_str());
    break;
  case PROP_STREAM_KEY:
    g_value_set_string(value, s.stream_key.c_str());
    break;
  case PROP_CERTIFICATE:
    g_value_set_object(value, s.certificate);
    break;
  case PROP_CERTIFICATE_FILE:
    g_value_set_string(value, s.certificate_file.c_str());
    break;
  case PROP_PRIVATE_KEY_FILE:
    g_value_set_string(value, s.private_key_file.c_str());
    break;
  case PROP_CHUNK_SIZE:
    g_value_set_uint(value, s.chunk_size);
    break;
  case PROP_WINDOW_ACK_SIZE:
    g_value_set_uint(value, s.window_ack_size);
    break;
  case PROP_MAX_CONNECTIONS:
    g_value_set_uint(value, s.max_connections);
    break;
  case PROP_MAX_CONNECTIONS_PER_ADDRESS:
    g_value_set_uint(value, s.max_connections_per_address);
    break;
  case PROP_ROLE_TIMEOUT:
    g_value_set_uint(value, s.role_timeout);
    break;
  case PROP_HANDSHAKE_TIMEOUT:
    g_value_set_uint(value, s.handshake_timeout);
    break;
  case PROP_IDLE_TIMEOUT:
    g_value_set_uint(value, s.idle_timeout);
    break;
  case PROP_MAX_MESSAGE_SIZE:
    g_value_set_uint(value, s.max_message_size);
    break;
  case PROP_ON_DISCONNECT:
    g_value_set_enum(value, static_cast<gint>(s.on_disconnect));
    break;
  case PROP_RECONNECT_TIMEOUT:
    g_value_set_uint(value, s.reconnect_timeout);
    break;
  case PROP_AUTH:
    g_value_set_enum(value, static_cast<gint>(s.auth));
    break;
  case PROP_USERNAME:
    g_value_set_string(value, s.username.c_str());
    break;
  case PROP_PASSWORD:
    g_value_set_string(value, s.password.c_str());
    break;
  case PROP_STATS:
    g_value_take_boxed(value, make_stats(p));
    break;
  case PROP_OUTPUT:
    g_value_set_enum(value, static_cast<gint>(s.output));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  g_mutex_unlock(&p->lock);
}

// An application EOS must reach the track pads of output=elementary too (sent_event()).
static gboolean gst_rtmp_server_src_send_event(GstElement *element, GstEvent *event) {
  ServerSrcPrivate *p = PRIV(element);
  p->elementary->sent_event(event, p->mode);
  return GST_ELEMENT_CLASS(gst_rtmp_server_src_parent_class)->send_event(element, event);
}

// A refused location fails NULL->READY, before GstBaseSrc (whose report of a failed start() would
// follow ours as "failed to post a proper error message"); start() checks again for a location
// set in READY.
static GstStateChangeReturn gst_rtmp_server_src_change_state(GstElement *element,
                                                             GstStateChange transition) {
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    ServerSrcPrivate *p = PRIV(element);
    g_mutex_lock(&p->lock);
    const std::optional<ErrorReport> refused = p->settings.location_error;
    g_mutex_unlock(&p->lock);
    if (refused) {
      RTMP_POST_ERROR(element, *refused);
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  return GST_ELEMENT_CLASS(gst_rtmp_server_src_parent_class)->change_state(element, transition);
}

static void gst_rtmp_server_src_finalize(GObject *object) {
  delete PRIV(object);
  G_OBJECT_CLASS(gst_rtmp_server_src_parent_class)->finalize(object);
}

static void gst_rtmp_server_src_init(GstRtmpServerSrc *self) {
  self->priv = new ServerSrcPrivate();
  self->priv->elementary =
      std::make_unique<ElementaryOutput>(GST_ELEMENT(self), self->priv->out.timeline());
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  answer_allocation_locally(GST_BASE_SRC_PAD(self));
}

// Handlers of on-connect / on-publish all have a say: the first FALSE rejects.
static gboolean all_true_accumulator(GSignalInvocationHint *, GValue *acc, const GValue *ret,
                                     gpointer) {
  const gboolean ok = g_value_get_boolean(ret);
  g_value_set_boolean(acc, ok);
  return ok; // stop at the first FALSE
}

static void listener_log(int level, const char *text) {
  static const GstDebugLevel levels[] = {GST_LEVEL_ERROR, GST_LEVEL_WARNING, GST_LEVEL_INFO,
                                         GST_LEVEL_DEBUG};
  GST_CAT_LEVEL_LOG(rtmp_listener_debug,
                    levels[level < 0   ? 0
                           : level > 3 ? 3
                                       : level],
                    nullptr, "%s", text);
}

static void gst_rtmp_server_src_class_init(GstRtmpServerSrcClass *klass) {
  auto *gobject_class = G_OBJECT_CLASS(klass);
  auto *element_class = GST_ELEMENT_CLASS(klass);
  auto *base_class = GST_BASE_SRC_CLASS(klass);
  auto *push_class = GST_PUSH_SRC_CLASS(klass);

  gobject_class->set_property = gst_rtmp_server_src_set_property;
  gobject_class->get_property = gst_rtmp_server_src_get_property;
  gobject_class->finalize = gst_rtmp_server_src_finalize;

  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "rtmp[s]://host[:port]/app[/stream] to listen on (port default 1935, "
                          "0 = a free one); host 0.0.0.0 = every interface, app or stream '*' "
                          "or no stream = any (default rtmp://0.0.0.0:1935/*/*)",
                          "rtmp://0.0.0.0:1935/*/*", rw));
  g_object_class_install_property(
      gobject_class, PROP_HOST,
      g_param_spec_string("host", "Host", "Address to bind (0.0.0.0, the default: every interface)",
                          "0.0.0.0", rw));
  g_object_class_install_property(
      gobject_class, PROP_PORT,
      g_param_spec_uint("port", "Port", "TCP port to listen on (0: pick a free one; default 1935)",
                        0, 65535, kDefaultRtmpPort, rw));
  g_object_class_install_property(
      gobject_class, PROP_BOUND_PORT,
      g_param_spec_uint("bound-port", "Bound port",
                        "The TCP port actually listened on (0 until READY->PAUSED)", 0, 65535, 0,
                        ro));
  g_object_class_install_property(
      gobject_class, PROP_APPLICATION,
      g_param_spec_string("application", "Application",
                          "Application publishers must connect to (empty or '*', the default: any)",
                          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_STREAM_KEY,
      g_param_spec_string("stream-key", "Stream key",
                          "Stream key publishers must publish (empty or '*', the default: any)", "",
                          rw));
  g_object_class_install_property(
      gobject_class, PROP_CERTIFICATE,
      g_param_spec_object(
          "certificate", "Certificate",
          "TLS certificate with private key: the listener speaks rtmps (default none)",
          G_TYPE_TLS_CERTIFICATE, rw));
  g_object_class_install_property(
      gobject_class, PROP_CERTIFICATE_FILE,
      g_param_spec_string("certificate-file", "Certificate file",
                          "PEM file with the TLS certificate (and key) for rtmps (default none)",
                          "", rw));
  g_object_class_install_property(
      gobject_class, PROP_PRIVATE_KEY_FILE,
      g_param_spec_string(
          "private-key-file", "Private key file",
          "PEM file with the private key, when not in certificate-file (default none)", "", rw));
  g_object_class_install_property(
      gobject_class, PROP_CHUNK_SIZE,
      g_param_spec_uint(
          "chunk-size", "Chunk size",
          "Chunk size in bytes we announce and send with (RTMP 1.0 section 5.4.1; default 4096)",
          128, chunk::kMaxChunkSize, kDefaultChunkSize, rw));
  g_object_class_install_property(
      gobject_class, PROP_WINDOW_ACK_SIZE,
      g_param_spec_uint(
          "window-ack-size", "Window ack size",
          "Window Acknowledgement Size and Set Peer Bandwidth we send, in bytes (default 2500000)",
          kMinAckWindow, G_MAXINT32, kDefaultWindowAckSize, rw));
  g_object_class_install_property(
      gobject_class, PROP_MAX_CONNECTIONS,
      g_param_spec_uint("max-connections", "Max connections",
                        "Connections open at once; when full, a newcomer evicts the oldest "
                        "connection that neither publishes nor plays, or is closed (default 512)",
                        1, kMaxMaxConnections, static_cast<guint>(kDefaultMaxConnections), rw));
  g_object_class_install_property(
      gobject_class, PROP_MAX_CONNECTIONS_PER_ADDRESS,
      g_param_spec_uint("max-connections-per-address", "Max connections per address",
                        "Connections open at once from one IP address (0: no limit; default 16)", 0,
                        kMaxMaxConnections, static_cast<guint>(kDefaultMaxConnectionsPerAddress),
                        rw));
  g_object_class_install_property(
      gobject_class, PROP_ROLE_TIMEOUT,
      g_param_spec_uint("role-timeout", "Role timeout",
                        "Seconds from an accepted connect to a publish or play; a connection "
                        "without either for that long is dropped (0: none; default 5)",
                        0, 3600, kDefaultRoleTimeoutSeconds, rw));
  g_object_class_install_property(
      gobject_class, PROP_HANDSHAKE_TIMEOUT,
      g_param_spec_uint("handshake-timeout", "Handshake timeout",
                        "Seconds from accept to the connect command (0: none; default 10)", 0, 3600,
                        kDefaultHandshakeTimeout, rw));
  g_object_class_install_property(
      gobject_class, PROP_IDLE_TIMEOUT,
      g_param_spec_uint(
          "idle-timeout", "Idle timeout",
          "Seconds without data from a client before it is dropped (0: none; default 30)", 0, 86400,
          kDefaultIdleTimeout, rw));
  g_object_class_install_property(
      gobject_class, PROP_MAX_MESSAGE_SIZE,
      g_param_spec_uint("max-message-size", "Max message size",
                        "Largest RTMP message accepted from a client, in bytes (default 8 MiB)",
                        1024, chunk::kMaxMessageLength, kDefaultMaxMessageSize, rw));
  g_object_class_install_property(
      gobject_class, PROP_ON_DISCONNECT,
      g_param_spec_enum("on-disconnect", "On disconnect",
                        "When the publisher goes away: eos (the default) ends the stream, wait "
                        "waits reconnect-timeout for it to come back",
                        on_disconnect_get_type(), static_cast<gint>(OnDisconnect::eos),
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_RECONNECT_TIMEOUT,
      g_param_spec_uint(
          "reconnect-timeout", "Reconnect timeout",
          "With on-disconnect=wait: seconds to wait for a publisher to come back (default 10)", 0,
          86400, kDefaultReconnectTimeout, rw));
  g_object_class_install_property(
      gobject_class, PROP_AUTH,
      g_param_spec_enum("auth", "Authentication",
                        "Publisher authentication: none (the default), adobe or llnw, with the "
                        "credentials from username/password or the get-password signal",
                        server_auth_get_type(), static_cast<gint>(ServerAuthMethod::none), rw));
  g_object_class_install_property(
      gobject_class, PROP_USERNAME,
      g_param_spec_string("username", "Username",
                          "User name publishers authenticate as (default none)", "", rw));
  g_object_class_install_property(
      gobject_class, PROP_PASSWORD,
      g_param_spec_string("password", "Password", "Password of username (default none)", "", rw));
  g_object_class_install_property(
      gobject_class, PROP_STATS,
      g_param_spec_boxed(
          "stats", "Stats",
          "Connection and stream statistics: connections, publishes, rejected, publisher "
          "(address), bytes, messages, bitrate (bit/s), queued-bytes, queue-pauses, bound-port, "
          "connections-accepted, connections-open, dropped-REASON per drop reason, rtt-ms (ms)",
          GST_TYPE_STRUCTURE, ro));
  g_object_class_install_property(
      gobject_class, PROP_OUTPUT,
      g_param_spec_enum("output", "Output",
                        "flv: the FLV byte stream on the always pad 'src'; elementary: one "
                        "sometimes pad per track (video_%u, audio_%u) with elementary-stream caps "
                        "('src' then stays unused); default flv",
                        output_mode_get_type(), static_cast<gint>(OutputMode::flv), rw));

  // gboolean on-connect(address, application, tcUrl, flashVer): FALSE rejects the connection
  // with NetConnection.Connect.Rejected. Emitted from the listener thread.
  signals[SIGNAL_ON_CONNECT] = g_signal_new(
      "on-connect", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, all_true_accumulator, nullptr,
      nullptr, G_TYPE_BOOLEAN, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  // gboolean on-publish(application, stream key, query, address): FALSE rejects the publish
  // with NetStream.Publish.BadName. Emitted from the listener thread.
  signals[SIGNAL_ON_PUBLISH] = g_signal_new(
      "on-publish", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, all_true_accumulator, nullptr,
      nullptr, G_TYPE_BOOLEAN, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  // gchararray get-password(user): the password of `user` for auth=adobe/llnw, NULL for an
  // unknown user. Emitted from the listener thread.
  signals[SIGNAL_GET_PASSWORD] = g_signal_new("get-password", G_TYPE_FROM_CLASS(klass),
                                              G_SIGNAL_RUN_LAST, 0, g_signal_accumulator_first_wins,
                                              nullptr, nullptr, G_TYPE_STRING, 1, G_TYPE_STRING);

  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_add_pad_template(element_class, video_src_pad_template());
  gst_element_class_add_pad_template(element_class, audio_src_pad_template());
  gst_element_class_set_static_metadata(
      element_class, "RTMP server source", "Source/Network",
      "Accepts RTMP publishers (rtmp:// and rtmps://) and outputs their stream as FLV", "gst-rtmp");

  base_class->start = gst_rtmp_server_src_start;
  base_class->stop = gst_rtmp_server_src_stop;
  base_class->unlock = gst_rtmp_server_src_unlock;
  base_class->unlock_stop = gst_rtmp_server_src_unlock_stop;
  base_class->get_caps = gst_rtmp_server_src_get_caps;
  base_class->is_seekable = gst_rtmp_server_src_is_seekable;
  push_class->create = gst_rtmp_server_src_create;
  element_class->send_event = gst_rtmp_server_src_send_event;
  element_class->change_state = gst_rtmp_server_src_change_state;

  gst_type_mark_as_plugin_api(on_disconnect_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(server_auth_get_type(), static_cast<GstPluginAPIFlags>(0));
  GST_DEBUG_CATEGORY_INIT(rtmp_server_src_debug, "rtmpserversrc", 0, "RTMP ingest server source");
  GST_DEBUG_CATEGORY_INIT(rtmp_listener_debug, "rtmplistener", 0,
                          "RTMP server sockets and sessions");
  net::Listener::set_log_function(listener_log);
}

// ---- GstURIHandler ----------------------------------------------------------------------------

static GstURIType uri_get_type(GType) {
  return GST_URI_SRC;
}
static const gchar *const *uri_get_protocols(GType) {
  // Not "rtmp": playbin must pick rtmpsrc for rtmp:// URIs. rtmpserver[s]:// names a listen
  // address explicitly.
  static const gchar *const protocols[] = {"rtmpserver", "rtmpservers", nullptr};
  return protocols;
}

static gchar *uri_get_uri(GstURIHandler *handler) {
  ServerSrcPrivate *p = PRIV(handler);
  g_mutex_lock(&p->lock);
  gchar *uri = g_strdup(p->settings.location().c_str());
  g_mutex_unlock(&p->lock);
  return uri;
}

static gboolean uri_set_uri(GstURIHandler *handler, const gchar *uri, GError **error) {
  ServerSrcPrivate *p = PRIV(handler);
  if (GST_STATE(handler) >= GST_STATE_PAUSED) {
    g_set_error_literal(error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                        "the location cannot change while the server is running");
    return FALSE;
  }
  std::string u = uri ? uri : "";
  // rtmpserver://... and rtmpservers://... are rtmp://... and rtmps://...
  if (u.rfind("rtmpservers://", 0) == 0)
    u = "rtmps://" + u.substr(14);
  else if (u.rfind("rtmpserver://", 0) == 0)
    u = "rtmp://" + u.substr(13);
  g_mutex_lock(&p->lock);
  const bool ok = set_location(p->settings, u.c_str(), error, uri ? uri : "");
  g_mutex_unlock(&p->lock);
  if (ok)
    g_object_notify(G_OBJECT(handler), "location");
  return ok;
}

static void uri_handler_init(gpointer g_iface, gpointer) {
  auto *iface = static_cast<GstURIHandlerInterface *>(g_iface);
  iface->get_type = uri_get_type;
  iface->get_protocols = uri_get_protocols;
  iface->get_uri = uri_get_uri;
  iface->set_uri = uri_set_uri;
}
