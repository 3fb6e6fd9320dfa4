#include "net/transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <string>
#include <utility>

namespace rtmp::net {
namespace {

// Once this much of the output queue has been written, the written prefix is dropped so the
// queue does not grow without bound while the peer is slow (amortised O(1) per byte).
constexpr std::size_t kCompactThreshold = 256 * 1024;

using WaitState = Transport::WaitState;

gboolean on_ready(GObject *, gpointer data) {
  static_cast<WaitState *>(data)->fired = true;
  return G_SOURCE_CONTINUE;
}

gboolean on_cancelled(GCancellable *, gpointer data) {
  auto *st = static_cast<WaitState *>(data);
  st->fired = st->cancelled = true;
  return G_SOURCE_CONTINUE;
}

gboolean on_deadline(gpointer data) {
  auto *st = static_cast<WaitState *>(data);
  st->fired = st->deadline = true;
  return G_SOURCE_CONTINUE;
}

// A source that only has a ready time: it wakes the context at the exact monotonic instant the
// core asked for (g_timeout_source has millisecond granularity and its own rescheduling).
gboolean deadline_dispatch(GSource *, GSourceFunc callback, gpointer data) {
  return callback ? callback(data) : G_SOURCE_REMOVE;
}
GSourceFuncs deadline_funcs = {nullptr, nullptr, deadline_dispatch, nullptr, nullptr, nullptr};

// The server certificate is accepted when none of its errors is in the element's
// tls-validation-flags (same meaning as rtmp2's property of that name). Using the
// accept-certificate signal instead of the deprecated g_tls_client_connection_set_validation_flags.
gboolean on_accept_certificate(GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags errors,
                               gpointer data) {
  const auto flags = static_cast<GTlsCertificateFlags>(GPOINTER_TO_UINT(data));
  return (errors & flags) == 0;
}

} // namespace

bool set_socket_receive_low_water(GSocket *socket, std::size_t bytes) {
  // The option is an int; the kernel caps it far below INT_MAX anyway.
  const gint value = static_cast<gint>(std::clamp<std::size_t>(bytes, 1, G_MAXINT));
  return g_socket_set_option(socket, SOL_SOCKET, SO_RCVLOWAT, value, nullptr);
}

Transport::Transport()
    : cancellable_(g_cancellable_new()), context_(g_main_context_new()),
      read_buf_(kReadBufferSize) {
  if (!g_cancellable_make_pollfd(cancellable_, &cancel_fd_))
    cancel_fd_.fd = -1; // no file descriptor left: wait() uses GSources only
  cancel_source_ = g_cancellable_source_new(cancellable_);
  g_source_set_callback(cancel_source_, G_SOURCE_FUNC(on_cancelled), &wait_state_, nullptr);
  g_source_attach(cancel_source_, context_);
}

Transport::~Transport() {
  close();
  g_source_destroy(cancel_source_);
  g_source_unref(cancel_source_);
  if (cancel_fd_.fd >= 0)
    g_cancellable_release_fd(cancellable_);
  g_main_context_unref(context_);
  g_object_unref(cancellable_);
}

bool Transport::connect(const ConnectOptions &opts, GError **error) {
  close();
  peer_ = opts.host + ":" + std::to_string(opts.port);
  GSocketClient *client = g_socket_client_new();
  g_socket_client_set_enable_proxy(client, FALSE);
  g_socket_client_set_timeout(client, opts.timeout_seconds);
  GSocketConnection *tcp =
      g_socket_client_connect_to_host(client, opts.host.c_str(), opts.port, cancellable_, error);
  g_object_unref(client);
  if (!tcp)
    return false;
  // RTMP sends small command messages that wait for an answer: Nagle would add up to 40 ms
  // per round trip.
  g_socket_set_option(g_socket_connection_get_socket(tcp), IPPROTO_TCP, TCP_NODELAY, 1, nullptr);

  GIOStream *stream = G_IO_STREAM(tcp);
  if (opts.tls) {
    GSocketConnectable *identity = g_network_address_new(opts.host.c_str(), opts.port);
    GIOStream *tls = g_tls_client_connection_new(stream, identity, error);
    g_object_unref(identity);
    if (!tls) {
      g_object_unref(tcp);
      return false;
    }
    g_signal_connect(tls, "accept-certificate", G_CALLBACK(on_accept_certificate),
                     GUINT_TO_POINTER(static_cast<guint>(opts.tls_validation_flags)));
    // The socket is blocking with the client's timeout, so the handshake is bounded by
    // `timeout` and by cancel().
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), cancellable_, error)) {
      // A plain RTMP server waits for C0+C1 and never answers a ClientHello, so all the client
      // sees is a timeout, a closed connection or bytes that are not TLS: say what that most
      // likely means.
      if (error && *error && !g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        const bool not_tls = g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
                             g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
                             g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
                             g_error_matches(*error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS) ||
                             g_error_matches(*error, G_TLS_ERROR, G_TLS_ERROR_EOF);
        g_prefix_error(error, "TLS handshake with %s:%u failed%s: ", opts.host.c_str(),
                       static_cast<unsigned>(opts.port),
                       not_tls ? " (the server may not be a TLS server: rtmp:// is plain RTMP, "
                                 "rtmps:// needs TLS)"
                               : "");
      }
      g_object_unref(tls);
      g_object_unref(tcp);
      return false;
    }
    stream = tls;
  } else {
    g_object_ref(stream);
  }
  tcp_ = tcp;
  conn_ = stream;
  tls_ = opts.tls;
  low_water_ = 1;
  socket_fd_ =
      opts.tls || cancel_fd_.fd < 0 ? -1 : g_socket_get_fd(g_socket_connection_get_socket(tcp));
  in_ = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(conn_));
  outs_ = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(conn_));
  out_.clear();
  out_pos_ = 0;
  return true;
}

void Transport::cancel() {
  g_cancellable_cancel(cancellable_);
}
void Transport::reset_cancel() {
  g_cancellable_reset(cancellable_);
}
bool Transport::cancelled() const {
  return g_cancellable_is_cancelled(cancellable_);
}

ReadStatus Transport::read_available(ByteView &out, GError **error) {
  if (!conn_) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected");
    return ReadStatus::error;
  }
  GError *err = nullptr;
  gssize n = g_pollable_input_stream_read_nonblocking(in_, read_buf_.data(), read_buf_.size(),
                                                      cancellable_, &err);
  if (n < 0) {
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(err);
      return ReadStatus::would_block;
    }
    g_propagate_error(error, err);
    return ReadStatus::error;
  }
  if (n == 0)
    return ReadStatus::eof;
  bytes_in_ += static_cast<std::uint64_t>(n);
  out = ByteView(read_buf_.data(), static_cast<std::size_t>(n));
  return ReadStatus::data;
}

void Transport::queue(ByteView bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Transport::queue(Bytes &bytes) {
  if (pending_output() == 0) {
    out_.swap(bytes);
    out_pos_ = 0;
    bytes.clear();
    if (bytes.capacity() > kMaxSpareOutput)
      Bytes().swap(bytes);
  } else {
    queue(ByteView(bytes));
    bytes.clear();
  }
}

bool Transport::flush(GError **error) {
  if (!conn_) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected");
    return false;
  }
  while (pending_output() > 0) {
    GError *err = nullptr;
    gssize n = g_pollable_output_stream_write_nonblocking(outs_, out_.data() + out_pos_,
                                                          pending_output(), cancellable_, &err);
    if (n < 0) {
      if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(err);
        break;
      }
      g_propagate_error(error, err);
      return false;
    }
    out_pos_ += static_cast<std::size_t>(n);
    bytes_out_ += static_cast<std::uint64_t>(n);
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ >= kCompactThreshold) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_pos_));
    out_pos_ = 0;
  }
  return true;
}

WaitResult Transport::wait(bool want_read, bool want_write, std::int64_t deadline_us) {
  if (g_cancellable_is_cancelled(cancellable_))
    return WaitResult::cancelled;
  want_write = want_write && pending_output() > 0;
  if (conn_) {
    // TLS may hold decrypted bytes that the socket no longer signals.
    if (want_read && g_pollable_input_stream_is_readable(in_))
      return WaitResult::ready;
    if (want_write && g_pollable_output_stream_is_writable(outs_))
      return WaitResult::ready;
  }
  if (deadline_us >= 0 && deadline_us <= monotonic_us())
    return WaitResult::deadline;

  if (socket_fd_ >= 0 || (!conn_ && cancel_fd_.fd >= 0))
    return poll_wait(want_read && conn_, want_write && conn_, deadline_us);

  WaitState &st = wait_state_;
  st = WaitState{};
  GSource *sources[3] = {};
  int n = 0;
  if (conn_ && want_read) {
    sources[n] = g_pollable_input_stream_create_source(in_, nullptr);
    g_source_set_callback(sources[n++], G_SOURCE_FUNC(on_ready), &st, nullptr);
  }
  if (conn_ && want_write) {
    sources[n] = g_pollable_output_stream_create_source(outs_, nullptr);
    g_source_set_callback(sources[n++], G_SOURCE_FUNC(on_ready), &st, nullptr);
  }
  if (deadline_us >= 0) {
    GSource *timer = g_source_new(&deadline_funcs, sizeof(GSource));
    g_source_set_ready_time(timer, deadline_us);
    g_source_set_callback(timer, on_deadline, &st, nullptr);
    sources[n++] = timer;
  }
  for (int i = 0; i < n; ++i)
    g_source_attach(sources[i], context_);
  for (;;) {
    while (!st.fired)
      g_main_context_iteration(context_, TRUE);
    // The cancellable source stays ready after a cancel that happened while nobody waited;
    // once reset_cancel() was called that wakeup is stale, not a cancellation.
    if (st.cancelled && !g_cancellable_is_cancelled(cancellable_) && !st.deadline) {
      st = WaitState{};
      continue;
    }
    break;
  }
  for (int i = 0; i < n; ++i) {
    g_source_destroy(sources[i]);
    g_source_unref(sources[i]);
  }
  if (st.cancelled)
    return WaitResult::cancelled;
  if (st.deadline)
    return WaitResult::deadline;
  return WaitResult::ready;
}

// Plain TCP: one ppoll() of the socket and the cancellable's file descriptor, both made once
// per connection. (The GSource path below creates, attaches and destroys sources on every
// wait, which was about half of the cost of a wait in the play profile of
// docs/performance.md; TLS keeps it because GTlsConnection's pollable sources know when a write
// waits for a read.)
WaitResult Transport::poll_wait(bool want_read, bool want_write, std::int64_t deadline_us) {
  for (;;) {
    pollfd fds[2] = {};
    nfds_t n = 0;
    fds[n++] = {cancel_fd_.fd, POLLIN, 0};
    if (want_read || want_write)
      fds[n++] = {socket_fd_,
                  static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0)), 0};
    timespec timeout{};
    if (deadline_us >= 0) {
      const std::int64_t left = deadline_us - monotonic_us();
      if (left <= 0)
        return WaitResult::deadline;
      timeout.tv_sec = static_cast<time_t>(left / G_USEC_PER_SEC);
      timeout.tv_nsec = static_cast<long>(left % G_USEC_PER_SEC) * 1000;
    }
    const int r = ppoll(fds, n, deadline_us >= 0 ? &timeout : nullptr, nullptr);
    if (r < 0 && errno == EINTR)
      continue;
    if (g_cancellable_is_cancelled(cancellable_))
      return WaitResult::cancelled;
    if (r < 0)
      return WaitResult::ready; // let the next read or write report the error
    if (n > 1 && fds[1].revents != 0)
      return WaitResult::ready;
    if (r == 0)
      return WaitResult::deadline;
    // Only the cancellable's fd, yet not cancelled: a stale wakeup from before reset_cancel().
    if (deadline_us >= 0 && monotonic_us() >= deadline_us)
      return WaitResult::deadline;
  }
}

void Transport::set_receive_low_water(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (!tcp_ || tls_ || bytes == low_water_)
    return;
  // On failure keep 1 in mind (the socket's value is unknown; the next call tries again).
  low_water_ =
      set_socket_receive_low_water(g_socket_connection_get_socket(tcp_), bytes) ? bytes : 1;
}

void Transport::close() {
  if (tcp_) {
    g_socket_close(g_socket_connection_get_socket(tcp_), nullptr);
  }
  if (conn_)
    g_object_unref(conn_);
  if (tcp_)
    g_object_unref(tcp_);
  conn_ = nullptr;
  tcp_ = nullptr;
  socket_fd_ = -1;
  in_ = nullptr;
  outs_ = nullptr;
  out_.clear();
  out_pos_ = 0;
}

} // namespace rtmp::net
