// The GIO network driver's byte mover: one TCP (or TLS) connection, nothing else.
//
// Why this shape: the RTMP logic lives in the sans-IO core (core/client_session.hpp); this class
// only connects, moves bytes in and out without blocking, and waits -- on its own GMainContext,
// from the calling (streaming) thread -- until the socket is readable, writable, a deadline
// passes or the connection's GCancellable fires. Every wait is therefore bounded by a deadline
// the caller chose AND interruptible from another thread (cancel()), which is what lets a state
// change to NULL return promptly whatever the peer does: a silent peer, a half-open TCP
// connection or a peer that stopped reading while our send buffer is full.
#pragma once

#include <gio/gio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.hpp"

namespace rtmp::net {

// How many bytes one read may take from the socket. Large enough that a fast server does not
// need many wakeups per video frame; the core copies what it keeps, so the buffer is reused.
inline constexpr std::size_t kReadBufferSize = 64 * 1024;

struct ConnectOptions {
  std::string host;
  std::uint16_t port = 1935;
  bool tls = false;
  // Errors of the server certificate that are NOT tolerated (the element's
  // tls-validation-flags property; G_TLS_CERTIFICATE_VALIDATE_ALL by default).
  GTlsCertificateFlags tls_validation_flags = G_TLS_CERTIFICATE_VALIDATE_ALL;
  // Bound on TCP connect and on the TLS handshake, in seconds (0 = only cancellation).
  unsigned timeout_seconds = 10;
};

// Sets the socket's receive low-water mark (SO_RCVLOWAT) to `bytes` (at least 1): poll()
// then reports it readable only once that many bytes are queued -- or at end of stream, on an
// error, or when the kernel cannot queue more (Linux tcp_poll: memory pressure, a receive window
// below one MSS) -- and a non-blocking read still returns what is there. Linux caps the value
// at half of tcp_rmem[2] (or of SO_RCVBUF when that was set) and grows the receive buffer to
// hold it. For a plain TCP socket only: under TLS the bytes on the socket are records, not the
// RTMP bytes the mark is computed from. Returns false if the kernel refused.
//
// Usage (a poll-based reader of an RTMP connection, e.g. the server listener): after reading
// until EAGAIN and feeding the session, before going back to poll:
//   if (mark != last) { set_socket_receive_low_water(socket, mark); last = mark; }
// with mark = session.receive_low_water() (core/connection.hpp), and 1 before the session
// exists. Only call it when the value changes: it is a system call.
bool set_socket_receive_low_water(GSocket *socket, std::size_t bytes);

enum class WaitResult { ready, deadline, cancelled };

enum class ReadStatus { data, would_block, eof, error };

// Monotonic clock of the driver in microseconds (g_get_monotonic_time()).
inline std::int64_t monotonic_us() {
  return g_get_monotonic_time();
}

class Transport {
public:
  Transport();
  ~Transport();
  Transport(const Transport &) = delete;
  Transport &operator=(const Transport &) = delete;

  // Blocking connect (TCP, then TLS for rtmps), interruptible by cancel(). Proxy resolution
  // is off: RTMP is not HTTP, and a system HTTP proxy setting must not capture port 1935.
  bool connect(const ConnectOptions &opts, GError **error);
  bool connected() const { return conn_ != nullptr; }
  // "host:port" of the peer as given to connect(), for error messages.
  const std::string &peer() const { return peer_; }

  // Thread-safe: makes any current and future blocking call of this transport return
  // (WaitResult::cancelled / G_IO_ERROR_CANCELLED) until reset_cancel().
  void cancel();
  void reset_cancel();
  bool cancelled() const;
  GCancellable *cancellable() const { return cancellable_; }

  // Reads what is available without blocking (at most kReadBufferSize bytes). On
  // ReadStatus::data, `out` views an internal buffer valid until the next call.
  ReadStatus read_available(ByteView &out, GError **error);

  // Queues bytes to send; flush() writes as much of the queue as the socket takes now.
  void queue(ByteView bytes);
  // Queues `bytes` and leaves an empty buffer in it. When nothing is pending the two buffers are
  // swapped, so the caller gets back the drained queue with its capacity (up to
  // kMaxSpareOutput) to fill next time: a publisher sending a 100 KB video frame then reuses the
  // same pages instead of faulting in a fresh buffer for every frame.
  void queue(Bytes &bytes);
  static constexpr std::size_t kMaxSpareOutput = 4 << 20;
  bool flush(GError **error);
  std::size_t pending_output() const { return out_.size() - out_pos_; }

  // Waits until readable (want_read), writable (want_write && pending_output()), the
  // monotonic deadline (microseconds, <0 = none) or cancellation.
  WaitResult wait(bool want_read, bool want_write, std::int64_t deadline_us);

  // "Readable" for wait() means at least `bytes` queued (set_socket_receive_low_water()) on a
  // plain TCP connection; ignored under TLS. The system call is made only when the value
  // changes. A new connection starts at 1.
  void set_receive_low_water(std::size_t bytes);
  std::size_t receive_low_water() const { return low_water_; }

  // Closes the socket without a blocking TLS close_notify exchange: closing the file
  // descriptor never blocks, while a graceful TLS close could wait on a peer that stopped
  // reading.
  void close();

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

  // What woke wait() up (set by the source callbacks).
  struct WaitState {
    bool fired = false;
    bool cancelled = false;
    bool deadline = false;
  };

private:
  WaitResult poll_wait(bool want_read, bool want_write, std::int64_t deadline_us);

  GCancellable *cancellable_ = nullptr;
  GPollFD cancel_fd_{}; // the cancellable's file descriptor, readable once cancelled
  int socket_fd_ = -1;  // plain TCP connections: waited on with ppoll() (see poll_wait)
  bool tls_ = false;
  std::size_t low_water_ = 1; // SO_RCVLOWAT of the socket (plain TCP)
  GMainContext *context_ = nullptr;
  // One cancellable source for the life of the transport, attached to context_: creating one
  // per wait() leaks in GLib 2.74 when it is destroyed after the cancellable fired.
  GSource *cancel_source_ = nullptr;
  WaitState wait_state_;
  GSocketConnection *tcp_ = nullptr;
  GIOStream *conn_ = nullptr; // tcp_ or the GTlsClientConnection wrapping it
  GPollableInputStream *in_ = nullptr;
  GPollableOutputStream *outs_ = nullptr;
  std::string peer_;
  Bytes out_;
  std::size_t out_pos_ = 0;
  Bytes read_buf_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

} // namespace rtmp::net
