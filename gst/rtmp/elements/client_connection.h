// What rtmpsink and rtmpsrc do identically: turn the element's settings into a ClientConfig,
// connect (TCP/TLS, handshake, connect command, authentication retry), create a stream, wait
// for an answer, and describe failures with element_error.h. The elements then differ only in
// publish vs play and in what they do with media.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "core/client_session.hpp"
#include "elements/client_settings.h"
#include "elements/element_error.h"
#include "net/client_driver.hpp"

namespace rtmp::gst {

// Authentication challenges answered per connect (Adobe needs two rounds: the first rejection
// names the method, the second carries the challenge). A server that keeps challenging is
// refused rather than retried forever.
inline constexpr int kMaxAuthRounds = 3;

enum class Outcome { ok, cancelled, failed };

// Builds the session configuration for `role` from the element's settings.
ClientConfig make_client_config(const ClientSettings &s, Role role);
// The chunk size `role` announces after connecting (rtmpsink: its `chunk-size` property).
guint announced_chunk_size(const ClientSettings &s, Role role);
net::ConnectOptions make_connect_options(const ClientSettings &s);

class ClientConnection {
public:
  // `owner` is used for logging only.
  ClientConnection(GstElement *owner, Role role) : owner_(owner), role_(role) {}

  // Connects and creates a stream (stream_id()). On failure error() describes it.
  Outcome open(const ClientSettings &s);
  // E-RTMP capabilities (fourCcList, videoFourCcInfoMap...) put into the connect command object
  // of the next open(); empty = none (a legacy connect).
  void set_enhanced_capabilities(EnhancedCapabilities caps) { enhanced_ = std::move(caps); }
  void close() { driver_.close(); }
  bool is_open() const { return driver_.is_open(); }

  // Pulls events until `handle` returns true (ok). Error and Closed events end the wait with
  // `failed`, described as failures of `context` ("publish live/test"); `handle` sees every
  // other event. deadline_us < 0 waits for ever (the session's own timeouts still apply).
  Outcome wait(const std::function<bool(Event &)> &handle, std::int64_t deadline_us,
               const std::string &context);

  // Reports a driver outcome other than ok as an error() / cancellation.
  Outcome fail_drive(net::Drive d, GError *err, const std::string &stage);
  // The flow return of an outcome: FLUSHING when cancelled; when failed, error() is posted on
  // the owner (GST_ELEMENT_ERROR through element_error.h) and ERROR returned.
  GstFlowReturn flow(Outcome o);

  // Records `r` as error() and returns Outcome::failed.
  Outcome fail_with(ErrorReport r) {
    error_ = std::move(r);
    return Outcome::failed;
  }
  // Describes a session Error / Closed event.
  Outcome fail_event(const Event &e, const std::string &context);

  net::ClientDriver &driver() { return driver_; }
  ClientSession &session() { return driver_.session(); }
  std::uint32_t stream_id() const { return stream_id_; }
  const ErrorReport &error() const { return error_; }
  Direction direction() const { return role_ == Role::sink ? Direction::write : Direction::read; }

  void log_event(const Event &e) const;

private:
  GstElement *owner_;
  Role role_;
  net::ClientDriver driver_;
  std::uint32_t stream_id_ = 0;
  std::string peer_;
  ErrorReport error_;
  EnhancedCapabilities enhanced_;
};

// async-connect=true (rtmp2's meaning, "Connect on READY, otherwise on first push"): the
// connection, up to publish/play start, is made on a thread of its own that start() launches,
// so the READY->PAUSED change returns at once and the connection is ready when data flows. The
// streaming thread join()s it before it first touches the connection; until then only that
// thread uses it. cancel() on the connection's driver (unlock/stop) makes it return promptly.
// A failure is posted on the bus by the connect thread itself, so that it shows even when no
// buffer ever comes.
class AsyncConnect {
public:
  AsyncConnect() = default;
  AsyncConnect(const AsyncConnect &) = delete;
  AsyncConnect &operator=(const AsyncConnect &) = delete;
  ~AsyncConnect() { (void)join(); }

  // Runs `work` on a new thread; `conn` posts the error of a failed outcome.
  void start(ClientConnection *conn, std::function<Outcome()> work);
  // Waits for the thread (cancellable through the connection). The outcome of the work when a
  // thread was started since the last join(), nullopt otherwise.
  std::optional<Outcome> join();
  // A thread was started and not joined yet: until then the connection is not ours (safe to
  // call from any thread).
  bool pending() const { return pending_.load(); }

private:
  std::thread thread_;
  std::atomic<bool> pending_{false};
  Outcome outcome_ = Outcome::ok;
};

// What other threads touch in a client element, with the ONE lock that guards it: the settings
// (written by set_property from any thread, copied by the streaming thread when it connects),
// a snapshot of the session's counters and the element's own (read by the `stats` property),
// and the receive-audio/video change flag the streaming thread applies. Both elements use it,
// together with the property and GstURIHandler glue below, so that they cannot drift apart.
struct ElementState {
  GMutex lock;
  ClientSettings settings;
  // The last session's counters; until a first connection has been open (`has_session_stats`
  // false) `stats` shows what the element will announce instead (see get_property).
  Stats stats;
  bool has_session_stats = false;
  std::uint64_t reconnects = 0;
  std::uint64_t dropped_bytes = 0;
  bool receive_changed = false;
  bool stream_changed = false; // `stream` or `location` set (rtmpsrc switches with play2)

  ElementState() { g_mutex_init(&lock); }
  ~ElementState() { g_mutex_clear(&lock); }
  ElementState(const ElementState &) = delete;
  ElementState &operator=(const ElementState &) = delete;

  ClientSettings snapshot();
  // Copies the session's counters when a connection is open (streaming thread).
  void refresh_stats(ClientConnection *c);
  void add_dropped(std::uint64_t bytes);
  void add_reconnect();

  // GObject property glue (warns on ids that are not client properties).
  void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
  void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);

  // Makes `object`'s GstURIHandler (installed with uri_handler_init) use this state.
  void attach(GObject *object);
};

// A refused location in `s` is posted as the error of `element` (true): the element must then
// neither start nor connect. Both elements check in NULL->READY, before their base class starts
// (whose own failure report would follow ours as "failed to post a proper error message"), and
// again before they connect, for a location set later (rtmpsrc also in start(), so that
// READY->PAUSED fails).
bool post_refused_location(GstElement *element, const ClientSettings &s);
// One warning for each librtmp option of the location that `role` cannot honour (swfVfy=,
// socks=, ...; buffer= and start= on the sink), posted when the element starts (NULL->READY),
// when it has a bus to post on.
void post_unhonoured_options(GstElement *element, const ClientSettings &s, Role role);

// stop() of both elements: a background connect is cancelled and joined, the session's counters
// are kept for `stats`, the connection is closed and dropped.
void stop_connection(std::unique_ptr<ClientConnection> &conn, AsyncConnect &async,
                     ElementState &state);
// unlock() / unlock_stop() of both elements: the blocking calls of the connection (if any) return
// at once, or may block again.
void unlock_connection(ClientConnection *conn);
void unlock_stop_connection(ClientConnection *conn);

// GstURIHandler for both elements (sink or source from the GType); the state is the one
// attach()ed to the object.
void uri_handler_init(gpointer g_iface, gpointer data);

// The read-only `stats` structure of both elements: the session's counters (bytes, messages,
// chunk sizes, window sizes, RTT) plus the element's own (reconnects, dropped bytes).
GstStructure *make_stats_structure(const Stats *session_stats, std::uint64_t reconnects,
                                   std::uint64_t dropped_bytes);

} // namespace rtmp::gst

GST_DEBUG_CATEGORY_EXTERN(rtmp_client_debug);
