// Drives a ClientSession over a Transport from the element's streaming thread.
//
// The loop is the boring one of docs/architecture.md: write what the session produced, read
// what the socket has and feed it with `now`, call on_timer() at next_deadline(), and wait for
// readability/writability/deadline/cancellation in between. It knows nothing of RTMP beyond
// the session's public calls: which command to send when is the element's business, what the
// bytes mean is the session's.
//
// Every blocking call takes a monotonic deadline (microseconds, g_get_monotonic_time()) and is
// interrupted by cancel() from any thread, so an element's unlock() makes it return at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "core/client_session.hpp"
#include "net/transport.hpp"

namespace rtmp::net {

// Outcome of a blocking call.
enum class Drive {
  ok,        // the thing waited for happened
  deadline,  // the caller's deadline passed first
  cancelled, // cancel() was called (flushing / shutting down)
  io_error,  // the transport failed; see the GError
  closed,    // the session is closed (its Closed/Error events are still queued)
};

// The monotonic clock as the core sees it (milliseconds).
inline Millis now_millis() {
  return Millis(monotonic_us() / 1000);
}

class ClientDriver {
public:
  ClientDriver() = default;
  ClientDriver(const ClientDriver &) = delete;
  ClientDriver &operator=(const ClientDriver &) = delete;

  // Connects the transport (blocking, cancellable, bounded by opts.timeout_seconds) and starts
  // the session (C0+C1 queued). The RTMP handshake and connect then progress in next_event().
  bool open(const ConnectOptions &opts, ClientConfig cfg, GError **error);
  void close();
  bool is_open() const { return session_ != nullptr; }

  ClientSession &session() { return *session_; }
  Transport &transport() { return transport_; }
  void cancel() { transport_.cancel(); }
  void reset_cancel() { transport_.reset_cancel(); }

  // Waits until the session has an event and returns it in `out` (Drive::ok). Input is read
  // and output written meanwhile.
  Drive next_event(Event &out, std::int64_t deadline_us, GError **error);
  // Non-blocking: writes what can be written, feeds what can be read, fires due timers.
  Drive step(GError **error);
  // Waits until at most `limit` bytes are left unwritten (sink back-pressure), while still
  // reading: a server's acknowledgements, pings and onStatus keep flowing while we write. Events
  // produced meanwhile stay queued in the session.
  Drive flush(std::size_t limit, std::int64_t deadline_us, GError **error);

  // Keeps the connection alive (reads, writes, timers) until the monotonic deadline, leaving
  // events queued: how the sink waits when it paces its output (peak-kbps).
  Drive idle_until(std::int64_t deadline_us, GError **error);

  bool peer_eof() const { return eof_; }

private:
  // One pass of non-blocking I/O. `progress` tells whether anything moved.
  Drive pump(bool &progress, GError **error);
  Drive wait(bool want_write, std::int64_t deadline_us);
  // The one I/O loop behind next_event(), flush() and idle_until(): pumps until `done()`, the
  // session closes, cancellation, or the deadline (which returns `at_deadline`).
  Drive run(const std::function<bool()> &done, std::int64_t deadline_us, Drive at_deadline,
            GError **error);

  Transport transport_;
  std::unique_ptr<ClientSession> session_;
  Bytes scratch_;
  bool eof_ = false;
};

} // namespace rtmp::net
