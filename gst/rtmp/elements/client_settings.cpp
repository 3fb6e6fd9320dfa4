#include "elements/client_settings.h"

#include "core/librtmp_options.hpp"
#include "core/url.hpp"

#include <algorithm>
#include <cmath>

namespace rtmp::gst {

ClientSettings::ClientSettings(const ClientSettings &o) {
  *this = o;
}

ClientSettings &ClientSettings::operator=(const ClientSettings &o) {
  if (this == &o)
    return *this;
  GstStructure *extra = o.extra_connect_args ? gst_structure_copy(o.extra_connect_args) : nullptr;
  if (extra_connect_args)
    gst_structure_free(extra_connect_args);
  scheme = o.scheme;
  host = o.host;
  port = o.port;
  application = o.application;
  stream = o.stream;
  username = o.username;
  password = o.password;
  secure_token = o.secure_token;
  authmod = o.authmod;
  timeout = o.timeout;
  timeout_set = o.timeout_set;
  tls_validation_flags = o.tls_validation_flags;
  flash_version = o.flash_version;
  async_connect = o.async_connect;
  extra_connect_args = extra;
  tc_url_override = o.tc_url_override;
  page_url = o.page_url;
  swf_url = o.swf_url;
  connect_arguments = o.connect_arguments;
  ignored_options = o.ignored_options;
  play_only_options = o.play_only_options;
  chunk_size = o.chunk_size;
  peak_kbps = o.peak_kbps;
  stop_commands = o.stop_commands;
  reconnect = o.reconnect;
  reconnect_delay_ms = o.reconnect_delay_ms;
  max_reconnect_delay_ms = o.max_reconnect_delay_ms;
  max_queue_bytes = o.max_queue_bytes;
  idle_timeout = o.idle_timeout;
  idle_timeout_set = o.idle_timeout_set;
  no_eof_is_error = o.no_eof_is_error;
  buffer_length_ms = o.buffer_length_ms;
  receive_audio = o.receive_audio;
  receive_video = o.receive_video;
  start = o.start;
  live = o.live;
  location_error = o.location_error;
  return *this;
}

ClientSettings::~ClientSettings() {
  if (extra_connect_args)
    gst_structure_free(extra_connect_args);
}

RtmpUrl ClientSettings::url() const {
  RtmpUrl u;
  u.scheme = scheme == Scheme::rtmps ? "rtmps" : "rtmp";
  u.host = host;
  u.port = static_cast<std::uint16_t>(port);
  u.application = application;
  u.stream = stream;
  return u; // no credentials: location is readable by anyone who can inspect the pipeline
}

std::string ClientSettings::tc_url() const {
  return tc_url_override.empty() ? url().tc_url() : tc_url_override;
}

std::string ClientSettings::location() const {
  return url().to_string();
}

bool ClientSettings::set_location(const char *uri, GError **error) {
  const std::string text = uri ? uri : "";
  std::string why = "no location";
  auto refuse = [&](std::error_code ec) {
    location_error = report_invalid_location(
        text, why, "rtmp[s]://host[:port]/application/stream [librtmp options: key=value ...]");
    const bool bad_scheme = ec == make_error_code(Errc::url_unsupported_scheme);
    g_set_error_literal(error, GST_URI_ERROR,
                        bad_scheme ? GST_URI_ERROR_UNSUPPORTED_PROTOCOL : GST_URI_ERROR_BAD_URI,
                        location_error->text.c_str());
    return false;
  };
  if (!uri)
    return refuse(make_error_code(Errc::url_invalid));
  auto location = librtmp::parse_location(text, &why);
  if (!location)
    return refuse(location.error());
  const librtmp::Options &o = location->options;
  // playpath= names the stream, so the URL may end at the application.
  auto parsed = parse_rtmp_url(location->url, !o.playpath, &why);
  if (!parsed)
    return refuse(parsed.error());
  const RtmpUrl &u = parsed.value();
  scheme = u.scheme == "rtmps" ? Scheme::rtmps : Scheme::rtmp;
  host = u.host;
  port = u.port;
  application = o.app.value_or(u.application);
  stream = o.playpath.value_or(u.stream);
  if (!u.username.empty() || !u.password.empty()) {
    username = u.username;
    password = u.password;
  }

  // An option sets its field as the property of the same meaning would; what only a location
  // says (tcUrl, conn, what cannot be honoured) is replaced by each location.
  tc_url_override = o.tc_url.value_or("");
  connect_arguments = o.conn;
  ignored_options = o.ignored;
  play_only_options.clear();
  if (o.page_url)
    page_url = *o.page_url;
  if (o.swf_url)
    swf_url = *o.swf_url;
  if (o.flash_ver)
    flash_version = *o.flash_ver;
  if (o.token)
    secure_token = *o.token;
  if (o.timeout_seconds) {
    // librtmp's timeout is its socket receive timeout: no data for that long, whether waiting
    // for a reply or for media. Setting `timeout` says both (no_data_watch.h), as long as
    // idle-timeout is not set.
    timeout = *o.timeout_seconds;
    timeout_set = true;
  }
  if (o.buffer_ms) {
    buffer_length_ms = *o.buffer_ms;
    play_only_options.emplace_back("buffer");
  }
  if (o.live) {
    // librtmp plays a live stream with start -1 (live only) and anything else from 0.
    live = *o.live;
    start = *o.live ? -1 : 0;
    if (!*o.live)
      play_only_options.emplace_back("live");
  }
  if (o.start_seconds) {
    // Seconds in librtmp, milliseconds here; a start beyond int64 ms is no position anyway.
    start = static_cast<gint64>(std::min(*o.start_seconds * 1000.0, 9.0e18));
    play_only_options.emplace_back("start");
  }
  location_error.reset();
  return true;
}

// ---- GTypes (own names: the system rtmp2 plugin registers GstRtmpScheme & co., and both
// plugins may be loaded in one process) --------------------------------------------------

GType scheme_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {0, "rtmp", "rtmp"}, {1, "rtmps", "rtmps"}, {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstRtmpCoreScheme", values));
  return type;
}

GType authmod_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(Authmod::none), "No authentication", "none"},
      {static_cast<gint>(Authmod::auto_), "Answer the challenge the server sends", "auto"},
      {static_cast<gint>(Authmod::adobe), "Adobe (FMS) challenge/response", "adobe"},
      {static_cast<gint>(Authmod::llnw), "Limelight challenge/response", "llnw"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstRtmpCoreAuthmod", values));
  return type;
}

GType stop_commands_get_type() {
  static GType type = 0;
  static const GFlagsValue values[] = {{STOP_NONE, "No command", "none"},
                                       {STOP_FCUNPUBLISH, "FCUnpublish", "fcunpublish"},
                                       {STOP_CLOSESTREAM, "closeStream", "closestream"},
                                       {STOP_DELETESTREAM, "deleteStream", "deletestream"},
                                       {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_flags_register_static("GstRtmpCoreStopCommands", values));
  return type;
}

// ---- the table ----------------------------------------------------------------------------

void install_client_properties(GObjectClass *klass, Role role) {
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto rw_live = static_cast<GParamFlags>(rw | GST_PARAM_MUTABLE_PLAYING);
  const ClientSettings d;
  auto install = [klass](guint id, GParamSpec *p) {
    g_object_class_install_property(klass, id, p);
  };

  install(PROP_LOCATION,
          g_param_spec_string(
              "location", "Location",
              "rtmp[s]://[user[:password]@]host[:port]/app[/instance]/stream[?query] (port default "
              "1935); fills the fields below, read back without credentials",
              d.location().c_str(), rw));
  install(PROP_SCHEME,
          g_param_spec_enum("scheme", "Scheme", "rtmp, or rtmps for RTMP over TLS (default rtmp)",
                            scheme_get_type(), 0, rw));
  install(PROP_HOST, g_param_spec_string("host", "Host",
                                         "RTMP server host name or address (default localhost)",
                                         d.host.c_str(), rw));
  install(PROP_PORT, g_param_spec_int("port", "Port", "RTMP server TCP port (default 1935)", 1,
                                      65535, kDefaultRtmpPort, rw));
  install(PROP_APPLICATION,
          g_param_spec_string("application", "Application",
                              "RTMP application, with its instance if any (default live)",
                              d.application.c_str(), rw));
  install(PROP_STREAM,
          g_param_spec_string("stream", "Stream",
                              "RTMP stream name, with its ?query if any (default myStream)",
                              d.stream.c_str(), rw));
  install(PROP_USERNAME,
          g_param_spec_string("username", "User name",
                              "User name for Adobe/Limelight authentication (default none)",
                              nullptr, rw));
  install(PROP_PASSWORD,
          g_param_spec_string("password", "Password",
                              "Password for Adobe/Limelight authentication (default none)", nullptr,
                              rw));
  install(PROP_AUTHMOD,
          g_param_spec_enum("authmod", "Authorization mode",
                            "Authentication answered: auto answers the challenge the server "
                            "sends (default auto)",
                            authmod_get_type(), static_cast<gint>(Authmod::auto_), rw));
  install(PROP_SECURE_TOKEN,
          g_param_spec_string("secure-token", "Secure token",
                              "Key that decrypts a server's secureToken challenge "
                              "(Limelight/Akamai), answered with secureTokenResponse (default "
                              "none: a challenge fails the connect)",
                              nullptr, rw));
  install(PROP_TIMEOUT,
          g_param_spec_uint("timeout", "Timeout",
                            role == Role::source
                                ? "Timeout in seconds of the TCP connect, the TLS and RTMP "
                                  "handshakes and each command reply (0 = none; default 5); when "
                                  "set and idle-timeout is not, also the time without any byte "
                                  "from the server that ends a play with EOS, as librtmp's "
                                  "(neither set: 120 s)"
                                : "Timeout in seconds of the TCP connect, the TLS and RTMP "
                                  "handshakes and each command reply (0 = none; default 5)",
                            0, G_MAXUINT, kDefaultTimeoutSeconds, rw));
  install(PROP_TLS_VALIDATION_FLAGS,
          g_param_spec_flags("tls-validation-flags", "TLS validation flags",
                             "Certificate errors that make rtmps refuse the server "
                             "(default validate-all)",
                             G_TYPE_TLS_CERTIFICATE_FLAGS, G_TLS_CERTIFICATE_VALIDATE_ALL, rw));
  install(PROP_FLASH_VERSION,
          g_param_spec_string("flash-version", "Flash version",
                              "flashVer sent in the connect command (default \"LNX 10,0,32,18\")",
                              kDefaultFlashVersion, rw));
  install(PROP_ASYNC_CONNECT,
          g_param_spec_boolean("async-connect", "Async connect",
                               "Connect on a thread of its own from READY to PAUSED (TRUE, the "
                               "default), otherwise on the first buffer",
                               TRUE, rw));
  install(PROP_EXTRA_CONNECT_ARGS,
          g_param_spec_boxed("extra-connect-args", "Extra connect args",
                             "Fields merged into the connect command object (strings, "
                             "numbers and booleans), e.g. args,foo=(string)bar (default none)",
                             GST_TYPE_STRUCTURE, rw));
  install(PROP_TC_URL,
          g_param_spec_string("tc-url", "tcUrl",
                              "tcUrl sent in connect instead of rtmp[s]://host[:port]/application "
                              "(NULL = that); a location sets it from its tcUrl= option or resets "
                              "it",
                              nullptr, rw));
  install(PROP_PAGE_URL, g_param_spec_string("page-url", "Page URL",
                                             "pageUrl sent in connect (NULL = none)", nullptr, rw));
  install(PROP_SWF_URL, g_param_spec_string("swf-url", "SWF URL",
                                            "swfUrl sent in connect (NULL = none)", nullptr, rw));
  install(PROP_STATS,
          g_param_spec_boxed("stats", "Stats",
                             "Connection statistics (GstRtmpStats): in-/out-chunk-size, "
                             "in-/out-window-ack-size, in-/out-bytes-total, in-/out-messages, "
                             "in-/out-media-messages, acks-sent, acks-received, out-bytes-acked, "
                             "reconnects, dropped-bytes, rtt-ms (ms, once a ping was answered)",
                             GST_TYPE_STRUCTURE,
                             static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  if (role == Role::sink) {
    install(PROP_CHUNK_SIZE,
            g_param_spec_uint("chunk-size", "Chunk size",
                              "Chunk size in bytes we send with (RTMP 1.0 section 5.4.1); a "
                              "change while publishing is sent at once (default 4096)",
                              1, kMaxChunkSizeSetting, kDefaultChunkSize, rw_live));
    install(PROP_PEAK_KBPS,
            g_param_spec_uint("peak-kbps", "Peak bitrate",
                              "Bitrate in kbit/s to pace outgoing packets (0 = no pacing, the "
                              "default)",
                              0, G_MAXINT / 125, 0, rw_live));
    install(PROP_STOP_COMMANDS,
            g_param_spec_flags("stop-commands", "Stop commands",
                               "RTMP commands sent on EOS before closing the connection "
                               "(default fcunpublish+deletestream)",
                               stop_commands_get_type(), STOP_FCUNPUBLISH | STOP_DELETESTREAM, rw));
    install(PROP_RECONNECT,
            g_param_spec_boolean("reconnect", "Reconnect",
                                 "Reconnect and republish when the connection drops while "
                                 "playing (FALSE, the default: the drop is an error)",
                                 FALSE, rw_live));
    install(PROP_RECONNECT_DELAY,
            g_param_spec_uint("reconnect-delay", "Reconnect delay",
                              "First delay before reconnecting, in ms; doubles after each "
                              "failure (default 1000)",
                              0, G_MAXUINT, kDefaultReconnectDelayMs, rw_live));
    install(PROP_MAX_RECONNECT_DELAY,
            g_param_spec_uint("max-reconnect-delay", "Max reconnect delay",
                              "Upper bound of the exponential reconnect backoff, in ms "
                              "(default 30000)",
                              0, G_MAXUINT, kDefaultMaxReconnectDelayMs, rw_live));
    install(PROP_MAX_QUEUE_BYTES,
            g_param_spec_uint64("max-queue-bytes", "Max queue bytes",
                                "Bytes of media kept while reconnecting; older data is dropped "
                                "(and counted in stats) beyond this (default 16 MiB)",
                                0, G_MAXUINT64, kDefaultMaxQueueBytes, rw_live));
  } else {
    install(PROP_IDLE_TIMEOUT,
            g_param_spec_uint("idle-timeout", "Idle timeout",
                              "Seconds without media from the server before it is an error "
                              "(0 = no timeout, the default); once set, timeout no longer ends "
                              "a play that receives nothing",
                              0, G_MAXUINT, 0, rw));
    install(PROP_NO_EOF_IS_ERROR,
            g_param_spec_boolean("no-eof-is-error", "No EOF is error",
                                 "A connection closed without Play.Stop or Stream EOF first is "
                                 "an error (default FALSE: end of stream)",
                                 FALSE, rw));
    install(PROP_BUFFER_LENGTH,
            g_param_spec_uint("buffer-length", "Buffer length",
                              "Client buffer length in ms sent with Set Buffer Length "
                              "(RTMP 1.0 section 7.1.7; default 3000)",
                              0, G_MAXUINT, kDefaultBufferLengthMs, rw_live));
    install(PROP_RECEIVE_AUDIO,
            g_param_spec_boolean("receive-audio", "Receive audio",
                                 "Ask the server for audio (receiveAudio command; default TRUE)",
                                 TRUE, rw_live));
    install(PROP_RECEIVE_VIDEO,
            g_param_spec_boolean("receive-video", "Receive video",
                                 "Ask the server for video (receiveVideo command; default TRUE)",
                                 TRUE, rw_live));
    install(PROP_START,
            g_param_spec_int64("start", "Start",
                               "Play start in ms: -2 = live, else recorded from 0 (the "
                               "default); -1 = live only; >= 0 = recorded stream from that "
                               "position",
                               -2, G_MAXINT64, -2, rw));
    install(PROP_LIVE, g_param_spec_boolean("live", "Live",
                                            "Act as a live source (TRUE, the default; FALSE "
                                            "for recorded/VOD streams: prerolls, seekable)",
                                            TRUE, rw));
  }
}

static void set_string(std::string &field, const GValue *value) {
  const gchar *s = g_value_get_string(value);
  field = s ? s : "";
}

static void get_string(const std::string &field, GValue *value, bool null_when_empty) {
  g_value_set_string(value, field.empty() && null_when_empty ? nullptr : field.c_str());
}

bool set_client_property(ClientSettings &s, guint prop_id, const GValue *value) {
  switch (prop_id) {
  case PROP_LOCATION:
    // A refused location is kept in s.location_error and fails the next start.
    (void)s.set_location(g_value_get_string(value), nullptr);
    return true;
  case PROP_SCHEME:
    s.scheme = static_cast<Scheme>(g_value_get_enum(value));
    return true;
  case PROP_HOST:
    set_string(s.host, value);
    return true;
  case PROP_PORT:
    s.port = g_value_get_int(value);
    return true;
  case PROP_APPLICATION:
    set_string(s.application, value);
    return true;
  case PROP_STREAM:
    set_string(s.stream, value);
    return true;
  case PROP_USERNAME:
    set_string(s.username, value);
    return true;
  case PROP_PASSWORD:
    set_string(s.password, value);
    return true;
  case PROP_AUTHMOD:
    s.authmod = static_cast<Authmod>(g_value_get_enum(value));
    return true;
  case PROP_SECURE_TOKEN:
    set_string(s.secure_token, value);
    return true;
  case PROP_TIMEOUT:
    s.timeout = g_value_get_uint(value);
    s.timeout_set = true;
    return true;
  case PROP_TLS_VALIDATION_FLAGS:
    s.tls_validation_flags = static_cast<GTlsCertificateFlags>(g_value_get_flags(value));
    return true;
  case PROP_FLASH_VERSION:
    set_string(s.flash_version, value);
    return true;
  case PROP_ASYNC_CONNECT:
    s.async_connect = g_value_get_boolean(value);
    return true;
  case PROP_EXTRA_CONNECT_ARGS: {
    if (s.extra_connect_args)
      gst_structure_free(s.extra_connect_args);
    const auto *st = static_cast<const GstStructure *>(g_value_get_boxed(value));
    s.extra_connect_args = st ? gst_structure_copy(st) : nullptr;
    return true;
  }
  case PROP_TC_URL:
    set_string(s.tc_url_override, value);
    return true;
  case PROP_PAGE_URL:
    set_string(s.page_url, value);
    return true;
  case PROP_SWF_URL:
    set_string(s.swf_url, value);
    return true;
  case PROP_CHUNK_SIZE:
    s.chunk_size = g_value_get_uint(value);
    return true;
  case PROP_PEAK_KBPS:
    s.peak_kbps = g_value_get_uint(value);
    return true;
  case PROP_STOP_COMMANDS:
    s.stop_commands = g_value_get_flags(value);
    return true;
  case PROP_RECONNECT:
    s.reconnect = g_value_get_boolean(value);
    return true;
  case PROP_RECONNECT_DELAY:
    s.reconnect_delay_ms = g_value_get_uint(value);
    return true;
  case PROP_MAX_RECONNECT_DELAY:
    s.max_reconnect_delay_ms = g_value_get_uint(value);
    return true;
  case PROP_MAX_QUEUE_BYTES:
    s.max_queue_bytes = g_value_get_uint64(value);
    return true;
  case PROP_IDLE_TIMEOUT:
    s.idle_timeout = g_value_get_uint(value);
    s.idle_timeout_set = true;
    return true;
  case PROP_NO_EOF_IS_ERROR:
    s.no_eof_is_error = g_value_get_boolean(value);
    return true;
  case PROP_BUFFER_LENGTH:
    s.buffer_length_ms = g_value_get_uint(value);
    return true;
  case PROP_RECEIVE_AUDIO:
    s.receive_audio = g_value_get_boolean(value);
    return true;
  case PROP_RECEIVE_VIDEO:
    s.receive_video = g_value_get_boolean(value);
    return true;
  case PROP_START:
    s.start = g_value_get_int64(value);
    return true;
  case PROP_LIVE:
    s.live = g_value_get_boolean(value);
    return true;
  default:
    return false;
  }
}

bool get_client_property(const ClientSettings &s, guint prop_id, GValue *value) {
  switch (prop_id) {
  case PROP_LOCATION:
    g_value_set_string(value, s.location().c_str());
    return true;
  case PROP_SCHEME:
    g_value_set_enum(value, static_cast<gint>(s.scheme));
    return true;
  case PROP_HOST:
    get_string(s.host, value, false);
    return true;
  case PROP_PORT:
    g_value_set_int(value, s.port);
    return true;
  case PROP_APPLICATION:
    get_string(s.application, value, false);
    return true;
  case PROP_STREAM:
    get_string(s.stream, value, false);
    return true;
  case PROP_USERNAME:
    get_string(s.username, value, true);
    return true;
  case PROP_PASSWORD:
    get_string(s.password, value, true);
    return true;
  case PROP_AUTHMOD:
    g_value_set_enum(value, static_cast<gint>(s.authmod));
    return true;
  case PROP_SECURE_TOKEN:
    get_string(s.secure_token, value, true);
    return true;
  case PROP_TIMEOUT:
    g_value_set_uint(value, s.timeout);
    return true;
  case PROP_TLS_VALIDATION_FLAGS:
    g_value_set_flags(value, s.tls_validation_flags);
    return true;
  case PROP_FLASH_VERSION:
    get_string(s.flash_version, value, false);
    return true;
  case PROP_ASYNC_CONNECT:
    g_value_set_boolean(value, s.async_connect);
    return true;
  case PROP_EXTRA_CONNECT_ARGS:
    g_value_set_boxed(value, s.extra_connect_args);
    return true;
  case PROP_TC_URL:
    get_string(s.tc_url_override, value, true);
    return true;
  case PROP_PAGE_URL:
    get_string(s.page_url, value, true);
    return true;
  case PROP_SWF_URL:
    get_string(s.swf_url, value, true);
    return true;
  case PROP_CHUNK_SIZE:
    g_value_set_uint(value, s.chunk_size);
    return true;
  case PROP_PEAK_KBPS:
    g_value_set_uint(value, s.peak_kbps);
    return true;
  case PROP_STOP_COMMANDS:
    g_value_set_flags(value, s.stop_commands);
    return true;
  case PROP_RECONNECT:
    g_value_set_boolean(value, s.reconnect);
    return true;
  case PROP_RECONNECT_DELAY:
    g_value_set_uint(value, s.reconnect_delay_ms);
    return true;
  case PROP_MAX_RECONNECT_DELAY:
    g_value_set_uint(value, s.max_reconnect_delay_ms);
    return true;
  case PROP_MAX_QUEUE_BYTES:
    g_value_set_uint64(value, s.max_queue_bytes);
    return true;
  case PROP_IDLE_TIMEOUT:
    g_value_set_uint(value, s.idle_timeout);
    return true;
  case PROP_NO_EOF_IS_ERROR:
    g_value_set_boolean(value, s.no_eof_is_error);
    return true;
  case PROP_BUFFER_LENGTH:
    g_value_set_uint(value, s.buffer_length_ms);
    return true;
  case PROP_RECEIVE_AUDIO:
    g_value_set_boolean(value, s.receive_audio);
    return true;
  case PROP_RECEIVE_VIDEO:
    g_value_set_boolean(value, s.receive_video);
    return true;
  case PROP_START:
    g_value_set_int64(value, s.start);
    return true;
  case PROP_LIVE:
    g_value_set_boolean(value, s.live);
    return true;
  default:
    return false;
  }
}

const gchar *const *client_uri_protocols() {
  static const gchar *const protocols[] = {"rtmp", "rtmps", nullptr};
  return protocols;
}

} // namespace rtmp::gst
