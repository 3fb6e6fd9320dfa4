// The property set shared by rtmpsink and rtmpsrc (names and meanings of rtmp2sink/rtmp2src so
// that pipelines move over unchanged), installed from ONE table so that the two elements cannot
// drift apart. Role-specific properties (sink: chunk-size, reconnect...; source: idle-timeout,
// buffer-length...) live here too, installed only for their role, because they share the same
// storage, locking and location logic.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/amf_value.hpp"
#include "core/url.hpp"
#include "elements/element_error.h"

namespace rtmp::gst {

enum class Role { source, sink };

// Property ids (shared numbering; each element installs the subset of its role).
enum ClientProp : guint {
  PROP_0,
  PROP_LOCATION,
  PROP_SCHEME,
  PROP_HOST,
  PROP_PORT,
  PROP_APPLICATION,
  PROP_STREAM,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_AUTHMOD,
  PROP_SECURE_TOKEN,
  PROP_TIMEOUT,
  PROP_TLS_VALIDATION_FLAGS,
  PROP_FLASH_VERSION,
  PROP_ASYNC_CONNECT,
  PROP_EXTRA_CONNECT_ARGS,
  PROP_TC_URL,
  PROP_PAGE_URL,
  PROP_SWF_URL,
  PROP_STATS, // read-only; the element answers it (it owns the live counters)
  // sink only
  PROP_CHUNK_SIZE,
  PROP_PEAK_KBPS,
  PROP_STOP_COMMANDS,
  PROP_RECONNECT,
  PROP_RECONNECT_DELAY,
  PROP_MAX_RECONNECT_DELAY,
  PROP_MAX_QUEUE_BYTES,
  // source only
  PROP_IDLE_TIMEOUT,
  PROP_NO_EOF_IS_ERROR,
  PROP_BUFFER_LENGTH,
  PROP_RECEIVE_AUDIO,
  PROP_RECEIVE_VIDEO,
  PROP_START,
  PROP_LIVE,
  PROP_LAST
};

enum class Scheme { rtmp = 0, rtmps = 1 };
enum class Authmod { none = 0, auto_ = 1, adobe = 2, llnw = 3 };
// Commands sent on EOS (rtmp2sink's stop-commands flags, same values).
enum StopCommands : guint {
  STOP_NONE = 0,
  STOP_FCUNPUBLISH = 1 << 0,
  STOP_CLOSESTREAM = 1 << 1,
  STOP_DELETESTREAM = 1 << 2,
};

// Defaults (rtmp2's, except chunk-size: 4096 is what FFmpeg and OBS use; 128-byte chunks cost
// a header every 128 bytes of video).
inline constexpr guint kDefaultTimeoutSeconds = 5;
inline constexpr guint kDefaultChunkSize = 4096;
// Largest chunk size RTMP 1.0 section 5.4.1 allows (31 bits).
inline constexpr guint kMaxChunkSizeSetting = 0x7FFFFFFF;
inline constexpr guint kDefaultReconnectDelayMs = 1000;
inline constexpr guint kDefaultMaxReconnectDelayMs = 30000;
inline constexpr guint64 kDefaultMaxQueueBytes = 16 * 1024 * 1024;
inline constexpr guint kDefaultBufferLengthMs = 3000;
inline constexpr const char *kDefaultFlashVersion = "LNX 10,0,32,18";

struct ClientSettings {
  Scheme scheme = Scheme::rtmp;
  std::string host = "localhost";
  int port = kDefaultRtmpPort;
  std::string application = "live";
  std::string stream = "myStream";
  std::string username, password, secure_token;
  Authmod authmod = Authmod::auto_;
  guint timeout = kDefaultTimeoutSeconds;
  // Whether `timeout` / `idle-timeout` were set at all (to any value): that decides which of
  // them ends a play that receives nothing (no_data_watch.h).
  bool timeout_set = false;
  GTlsCertificateFlags tls_validation_flags = G_TLS_CERTIFICATE_VALIDATE_ALL;
  std::string flash_version = kDefaultFlashVersion;
  bool async_connect = true;
  GstStructure *extra_connect_args = nullptr; // owned
  // Sent in connect instead of the one built from the fields, when not empty.
  std::string tc_url_override;
  std::string page_url, swf_url;
  // From the location's librtmp conn= options: arguments after the connect command object.
  std::vector<amf::Value> connect_arguments;
  // Options of the location that the element cannot honour, each named once: librtmp options
  // without a meaning here (`ignored`) and those that only a player uses (`play_only`: buffer,
  // start, live=0). The element warns about them when it starts.
  std::vector<std::string> ignored_options, play_only_options;
  // sink
  guint chunk_size = kDefaultChunkSize;
  guint peak_kbps = 0;
  guint stop_commands = STOP_FCUNPUBLISH | STOP_DELETESTREAM;
  bool reconnect = false;
  guint reconnect_delay_ms = kDefaultReconnectDelayMs;
  guint max_reconnect_delay_ms = kDefaultMaxReconnectDelayMs;
  guint64 max_queue_bytes = kDefaultMaxQueueBytes;
  // source
  guint idle_timeout = 0;
  bool idle_timeout_set = false;
  bool no_eof_is_error = false;
  guint buffer_length_ms = kDefaultBufferLengthMs;
  bool receive_audio = true;
  bool receive_video = true;
  gint64 start = -2;
  bool live = true;
  // Set while the last location given (property or URI) was refused, cleared by a valid one.
  // The fields above then still name the previous (or default) destination, which is not where
  // the user pointed: the element refuses to start and to connect while this is set.
  std::optional<ErrorReport> location_error;

  ClientSettings() = default;
  ClientSettings(const ClientSettings &o);
  ClientSettings &operator=(const ClientSettings &o);
  ~ClientSettings();

  // The fields as a URL (without credentials).
  RtmpUrl url() const;
  // "rtmp://host[:port]/application/stream" built from the fields.
  std::string location() const;
  // The one place a location is parsed: a URL into the fields (scheme, host, port,
  // application, stream, user:password), followed by librtmp-style options
  // (core/librtmp_options.hpp: "rtmp://h/app/key live=1 buffer=1000") onto the fields they
  // name. On failure the fields are unchanged, location_error keeps why (naming the location
  // and, for an option, the option) and `error` (when given) gets the same text; on success
  // location_error is cleared.
  bool set_location(const char *uri, GError **error);
  // The tcUrl sent in connect: tc_url_override, else "rtmp://host[:port]/application".
  std::string tc_url() const;
};

GType scheme_get_type();
GType authmod_get_type();
GType stop_commands_get_type();

// Installs the properties of `role` with ids from ClientProp.
void install_client_properties(GObjectClass *klass, Role role);
// Applies / reads a property. Return false for ids they do not handle (PROP_STATS and ids of
// the element's own properties). The caller holds its settings lock.
bool set_client_property(ClientSettings &s, guint prop_id, const GValue *value);
bool get_client_property(const ClientSettings &s, guint prop_id, GValue *value);

// GstURIHandler glue shared by both elements.
const gchar *const *client_uri_protocols();

} // namespace rtmp::gst
