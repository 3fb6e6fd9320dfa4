#include "elements/client_connection.h"

#include <gst/base/gstbasesink.h>

#include <utility>

GST_DEBUG_CATEGORY(rtmp_client_debug);
#define GST_CAT_DEFAULT rtmp_client_debug

namespace rtmp::gst {
namespace {

// Stand-in for "no timeout" (timeout=0): the session needs a finite duration, and a day is
// longer than any connect anyone waits for.
constexpr Millis kNoTimeout{24LL * 3600 * 1000};

auth::Method to_method(Authmod m) {
  switch (m) {
  case Authmod::none:
    return auth::Method::none;
  case Authmod::adobe:
    return auth::Method::adobe;
  case Authmod::llnw:
    return auth::Method::llnw;
  case Authmod::auto_:
    break;
  }
  return auth::Method::automatic;
}

// extra-connect-args: GstStructure fields become properties of the connect command object.
// Only the types AMF0 can carry as-is are taken; others are skipped with a warning.
amf::Properties to_properties(const GstStructure *st, GstElement *owner) {
  amf::Properties props;
  if (!st)
    return props;
  const int n = gst_structure_n_fields(st);
  for (int i = 0; i < n; ++i) {
    const char *name = gst_structure_nth_field_name(st, static_cast<guint>(i));
    const GValue *v = gst_structure_get_value(st, name);
    if (G_VALUE_HOLDS_STRING(v)) {
      props.emplace_back(name, std::string(g_value_get_string(v) ? g_value_get_string(v) : ""));
    } else if (G_VALUE_HOLDS_BOOLEAN(v)) {
      props.emplace_back(name, amf::Value(static_cast<bool>(g_value_get_boolean(v))));
    } else if (G_VALUE_TYPE(v) == G_TYPE_INT || G_VALUE_TYPE(v) == G_TYPE_UINT ||
               G_VALUE_TYPE(v) == G_TYPE_INT64 || G_VALUE_TYPE(v) == G_TYPE_UINT64 ||
               G_VALUE_TYPE(v) == G_TYPE_DOUBLE || G_VALUE_TYPE(v) == G_TYPE_FLOAT) {
      GValue d = G_VALUE_INIT;
      g_value_init(&d, G_TYPE_DOUBLE);
      g_value_transform(v, &d);
      props.emplace_back(name, amf::Value(g_value_get_double(&d)));
      g_value_unset(&d);
    } else {
      GST_WARNING_OBJECT(owner, "extra-connect-args: field %s of type %s ignored", name,
                         G_VALUE_TYPE_NAME(v));
    }
  }
  return props;
}

} // namespace

ClientConfig make_client_config(const ClientSettings &s, Role role) {
  ClientConfig cfg;
  cfg.app = s.application;
  cfg.tc_url = s.tc_url();
  if (!s.flash_version.empty())
    cfg.flash_ver = s.flash_version;
  cfg.chunk_size = announced_chunk_size(s, role);
  cfg.timeout = s.timeout == 0 ? kNoTimeout : Millis(static_cast<std::int64_t>(s.timeout) * 1000);
  cfg.username = s.username;
  cfg.password = s.password;
  cfg.auth_method = to_method(s.authmod);
  cfg.secure_token = s.secure_token;
  cfg.page_url = s.page_url;
  cfg.swf_url = s.swf_url;
  cfg.extra_connect_arguments = s.connect_arguments;
  cfg.publishing = role == Role::sink;
  return cfg;
}

guint announced_chunk_size(const ClientSettings &s, Role role) {
  return role == Role::sink ? s.chunk_size : kDefaultChunkSize;
}

net::ConnectOptions make_connect_options(const ClientSettings &s) {
  net::ConnectOptions o;
  o.host = s.host;
  o.port = static_cast<std::uint16_t>(s.port);
  o.tls = s.scheme == Scheme::rtmps;
  o.tls_validation_flags = s.tls_validation_flags;
  o.timeout_seconds = s.timeout;
  return o;
}

void ClientConnection::log_event(const Event &e) const {
  if (const auto *n = std::get_if<Note>(&e)) {
    GST_DEBUG_OBJECT(owner_, "note: %s", n->text.c_str());
  } else if (const auto *st = std::get_if<Status>(&e)) {
    GST_INFO_OBJECT(owner_, "onStatus on stream %u: %s %s (%s)", st->stream_id,
                    st->info.level.c_str(), st->info.code.c_str(), st->info.description.c_str());
  } else {
    GST_DEBUG_OBJECT(owner_, "event %s", event_name(e));
  }
}

Outcome ClientConnection::fail_drive(net::Drive d, GError *err, const std::string &stage) {
  Outcome o = Outcome::failed;
  switch (d) {
  case net::Drive::ok:
    o = Outcome::ok;
    break;
  case net::Drive::cancelled:
    o = Outcome::cancelled;
    break;
  case net::Drive::io_error:
    error_ = report_from_gerror(err, stage, peer_, direction());
    break;
  case net::Drive::deadline:
    error_ = report_from_rtmp(make_error_code(Errc::timeout), "", "", stage, direction());
    break;
  case net::Drive::closed:
    error_ = report_from_rtmp(make_error_code(Errc::protocol_violation),
                              "connection closed by the server", "", stage, direction());
    break;
  }
  if (err)
    g_error_free(err);
  return o;
}

GstFlowReturn ClientConnection::flow(Outcome o) {
  if (o == Outcome::ok)
    return GST_FLOW_OK;
  if (o == Outcome::cancelled)
    return GST_FLOW_FLUSHING;
  RTMP_POST_ERROR(owner_, error_);
  return GST_FLOW_ERROR;
}

Outcome ClientConnection::fail_event(const Event &e, const std::string &context) {
  if (const auto *er = std::get_if<Error>(&e)) {
    error_ = report_from_rtmp(er->code, er->description, er->status_code, context, direction());
  } else if (const auto *c = std::get_if<Closed>(&e)) {
    // Not a protocol error: the server (or the network) ended the connection.
    error_.domain = GST_RESOURCE_ERROR;
    error_.code =
        direction() == Direction::read ? GST_RESOURCE_ERROR_READ : GST_RESOURCE_ERROR_WRITE;
    // The context says what we were waiting for: a server that drops a publish it refuses
    // (nginx-rtmp on_publish) reads "lost during publish <name>".
    error_.text = "connection to " + peer_ + " lost during " + context + ": " + c->reason;
    error_.debug = context;
  }
  return Outcome::failed;
}

Outcome ClientConnection::wait(const std::function<bool(Event &)> &handle, std::int64_t deadline_us,
                               const std::string &context) {
  for (;;) {
    Event e;
    GError *err = nullptr;
    net::Drive d = driver_.next_event(e, deadline_us, &err);
    if (d != net::Drive::ok)
      return fail_drive(d, err, context);
    log_event(e);
    if (std::holds_alternative<Error>(e) || std::holds_alternative<Closed>(e))
      return fail_event(e, context);
    if (handle(e))
      return Outcome::ok;
  }
}

Outcome ClientConnection::open(const ClientSettings &s) {
  ClientConfig cfg = make_client_config(s, role_);
  cfg.extra_connect_args = to_properties(s.extra_connect_args, owner_);
  if (!enhanced_.empty())
    add_enhanced_capabilities(cfg.extra_connect_args, enhanced_);
  const net::ConnectOptions opts = make_connect_options(s);
  peer_ = opts.host + ":" + std::to_string(opts.port);
  const std::string context = "connect to " + s.tc_url();

  for (int round = 0; round < kMaxAuthRounds; ++round) {
    GError *err = nullptr;
    GST_INFO_OBJECT(owner_, "connecting to %s (%s)", peer_.c_str(), s.tc_url().c_str());
    if (!driver_.open(opts, cfg, &err)) {
      if (driver_.transport().cancelled()) {
        g_clear_error(&err);
        return Outcome::cancelled;
      }
      return fail_drive(net::Drive::io_error, err, "connect");
    }
    std::string retry_app;
    bool created = false;
    Outcome o = wait(
        [&](Event &e) {
          if (std::holds_alternative<Connected>(e)) {
            GST_INFO_OBJECT(owner_, "connected to %s", s.tc_url().c_str());
            (void)session().create_stream(net::now_millis());
          } else if (auto *sc = std::get_if<StreamCreated>(&e)) {
            stream_id_ = sc->stream_id;
            created = true;
            // One ping (User Control 6, RTMP 1.0 section 7.1.7): its answer gives the stats'
            // rtt-ms. Servers that do not answer cost nothing.
            (void)session().ping(net::now_millis());
            return true;
          } else if (auto *ar = std::get_if<AuthRetry>(&e)) {
            retry_app = ar->app_with_auth_query;
            return true;
          }
          return false;
        },
        -1, context);
    if (o != Outcome::ok)
      return o;
    if (created)
      return Outcome::ok;
    // Authentication: the server rejected connect with a challenge we can answer; connect
    // again with the response in the app's query (auth.hpp).
    GST_INFO_OBJECT(owner_, "authentication round %d", round + 1);
    cfg.app = retry_app;
    driver_.close();
  }
  error_ =
      report_from_rtmp(make_error_code(Errc::auth_failed),
                       "the server kept challenging the credentials", "", context, direction());
  return Outcome::failed;
}

void AsyncConnect::start(ClientConnection *conn, std::function<Outcome()> work) {
  (void)join();
  pending_ = true;
  thread_ = std::thread([this, conn, work = std::move(work)] {
    outcome_ = work();
    if (outcome_ == Outcome::failed)
      (void)conn->flow(outcome_); // posts the error now, whether or not data ever comes
  });
}

std::optional<Outcome> AsyncConnect::join() {
  if (!thread_.joinable())
    return std::nullopt;
  thread_.join();
  pending_ = false;
  return outcome_;
}

bool post_refused_location(GstElement *element, const ClientSettings &s) {
  if (!s.location_error)
    return false;
  RTMP_POST_ERROR(element, *s.location_error);
  return true;
}

void post_unhonoured_options(GstElement *element, const ClientSettings &s, Role role) {
  const std::string location = s.location();
  for (const std::string &name : s.ignored_options)
    RTMP_POST_WARNING(element, report_settings("librtmp option '" + name +
                                                   "' of the location has no meaning here; "
                                                   "ignored",
                                               location));
  if (role != Role::sink)
    return;
  for (const std::string &name : s.play_only_options)
    RTMP_POST_WARNING(element, report_settings("librtmp option '" + name +
                                                   "' of the location applies to playing only; "
                                                   "ignored by rtmpsink",
                                               location));
}

void stop_connection(std::unique_ptr<ClientConnection> &conn, AsyncConnect &async,
                     ElementState &state) {
  if (conn && async.pending()) {
    conn->driver().cancel();
    (void)async.join();
  }
  state.refresh_stats(conn.get());
  if (conn)
    conn->close();
  conn.reset();
}

void unlock_connection(ClientConnection *conn) {
  if (conn)
    conn->driver().cancel();
}

void unlock_stop_connection(ClientConnection *conn) {
  if (conn)
    conn->driver().reset_cancel();
}

ClientSettings ElementState::snapshot() {
  g_mutex_lock(&lock);
  ClientSettings copy = settings;
  g_mutex_unlock(&lock);
  return copy;
}

void ElementState::refresh_stats(ClientConnection *c) {
  if (!c || !c->is_open())
    return;
  g_mutex_lock(&lock);
  stats = c->session().stats();
  has_session_stats = true;
  g_mutex_unlock(&lock);
}

void ElementState::add_dropped(std::uint64_t bytes) {
  g_mutex_lock(&lock);
  dropped_bytes += bytes;
  g_mutex_unlock(&lock);
}

void ElementState::add_reconnect() {
  g_mutex_lock(&lock);
  ++reconnects;
  g_mutex_unlock(&lock);
}

// The two client elements share ElementState: rtmpsink is the GstBaseSink.
static Role role_of(GObject *object) {
  return g_type_is_a(G_OBJECT_TYPE(object), GST_TYPE_BASE_SINK) ? Role::sink : Role::source;
}

void ElementState::set_property(GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec) {
  g_mutex_lock(&lock);
  const bool handled = set_client_property(settings, prop_id, value);
  if (prop_id == PROP_RECEIVE_AUDIO || prop_id == PROP_RECEIVE_VIDEO)
    receive_changed = true;
  if (prop_id == PROP_STREAM || prop_id == PROP_LOCATION)
    stream_changed = true;
  std::optional<ErrorReport> refused;
  if (prop_id == PROP_LOCATION)
    refused = settings.location_error;
  g_mutex_unlock(&lock);
  if (!handled)
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  // A started element keeps its connection; the refusal shows now rather than at the next start
  // (or reconnect), which it fails. GstBaseSink starts in NULL->READY (and rtmpsink connects
  // then with async-connect), GstBaseSrc in READY->PAUSED.
  const GstState started = role_of(object) == Role::sink ? GST_STATE_READY : GST_STATE_PAUSED;
  if (refused && GST_STATE(object) >= started)
    RTMP_POST_WARNING(object, *refused);
}

void ElementState::get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
  g_mutex_lock(&lock);
  bool handled = get_client_property(settings, prop_id, value);
  if (!handled && prop_id == PROP_STATS) {
    // Before the first connection there are no session counters: the chunk size we send with
    // is the one we will announce, so that `stats` agrees with `chunk-size`. What the peer
    // sends with stays at the initial 128 of RTMP 1.0 section 5.4.1 until it announces one,
    // and the window sizes at 0, none announced yet.
    Stats before;
    if (!has_session_stats)
      before.chunk_size_out = announced_chunk_size(settings, role_of(object));
    g_value_take_boxed(value, make_stats_structure(has_session_stats ? &stats : &before, reconnects,
                                                   dropped_bytes));
    handled = true;
  }
  g_mutex_unlock(&lock);
  if (!handled)
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static GQuark state_quark() {
  static GQuark q = g_quark_from_static_string("rtmp-client-element-state");
  return q;
}

void ElementState::attach(GObject *object) {
  g_object_set_qdata(object, state_quark(), this);
}

static ElementState *state_of(GstURIHandler *handler) {
  return static_cast<ElementState *>(g_object_get_qdata(G_OBJECT(handler), state_quark()));
}

static GstURIType uri_get_type(GType type) {
  return g_type_is_a(type, GST_TYPE_BASE_SINK) ? GST_URI_SINK : GST_URI_SRC;
}

static const gchar *const *uri_get_protocols(GType) {
  return client_uri_protocols();
}

static gchar *uri_get_uri(GstURIHandler *handler) {
  ElementState *st = state_of(handler);
  g_mutex_lock(&st->lock);
  gchar *uri = g_strdup(st->settings.location().c_str());
  g_mutex_unlock(&st->lock);
  return uri;
}

static gboolean uri_set_uri(GstURIHandler *handler, const gchar *uri, GError **error) {
  ElementState *st = state_of(handler);
  if (GST_STATE(handler) >= GST_STATE_PAUSED) {
    g_set_error_literal(error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                        "the location cannot change while the element is running");
    return FALSE;
  }
  g_mutex_lock(&st->lock);
  const bool ok = st->settings.set_location(uri, error);
  g_mutex_unlock(&st->lock);
  if (ok)
    g_object_notify(G_OBJECT(handler), "location");
  return ok;
}

void uri_handler_init(gpointer g_iface, gpointer) {
  auto *iface = static_cast<GstURIHandlerInterface *>(g_iface);
  iface->get_type = uri_get_type;
  iface->get_protocols = uri_get_protocols;
  iface->get_uri = uri_get_uri;
  iface->set_uri = uri_set_uri;
}

GstStructure *make_stats_structure(const Stats *st, std::uint64_t reconnects,
                                   std::uint64_t dropped_bytes) {
  const Stats zero;
  if (!st)
    st = &zero;
  GstStructure *s = gst_structure_new(
      "GstRtmpStats", "in-chunk-size", G_TYPE_UINT, st->chunk_size_in, "out-chunk-size",
      G_TYPE_UINT, st->chunk_size_out, "in-window-ack-size", G_TYPE_UINT, st->ack_window_in,
      "out-window-ack-size", G_TYPE_UINT, st->ack_window_out, "in-bytes-total", G_TYPE_UINT64,
      st->bytes_in, "out-bytes-total", G_TYPE_UINT64, st->bytes_out, "in-messages", G_TYPE_UINT64,
      st->messages_in, "out-messages", G_TYPE_UINT64, st->messages_out, "in-media-messages",
      G_TYPE_UINT64, st->media_messages_in, "out-media-messages", G_TYPE_UINT64,
      st->media_messages_out, "acks-sent", G_TYPE_UINT64, st->acks_sent, "acks-received",
      G_TYPE_UINT64, st->acks_received, "out-bytes-acked", G_TYPE_UINT, st->last_ack_received,
      "reconnects", G_TYPE_UINT64, reconnects, "dropped-bytes", G_TYPE_UINT64, dropped_bytes,
      nullptr);
  if (st->rtt)
    gst_structure_set(s, "rtt-ms", G_TYPE_UINT64, static_cast<guint64>(st->rtt->count()), nullptr);
  return s;
}

} // namespace rtmp::gst
