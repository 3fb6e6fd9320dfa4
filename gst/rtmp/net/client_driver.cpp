#include "net/client_driver.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace rtmp::net {
namespace {

// Reads per pump() pass before looking at events again: a server that floods us must not
// starve the writes and timers of the same loop.
constexpr int kMaxReadsPerPass = 4;

} // namespace

bool ClientDriver::open(const ConnectOptions &opts, ClientConfig cfg, GError **error) {
  close();
  if (!transport_.connect(opts, error))
    return false;
  session_ = std::make_unique<ClientSession>(std::move(cfg));
  session_->start(now_millis());
  return true;
}

void ClientDriver::close() {
  transport_.close();
  session_.reset();
  eof_ = false;
}

Drive ClientDriver::pump(bool &progress, GError **error) {
  progress = false;
  if (!session_)
    return Drive::closed;
  const Millis now = now_millis();
  if (auto d = session_->next_deadline(); d && *d <= now) {
    session_->on_timer(now);
    progress = true;
  }
  if (session_->wants_write()) {
    // Three buffers take turns (session output, scratch_, transport queue): no fresh
    // allocation per message once they have grown.
    session_->take_output(scratch_);
    transport_.queue(scratch_);
  }
  const std::size_t before = transport_.pending_output();
  if (before > 0) {
    if (!transport_.flush(error))
      return transport_.cancelled() ? Drive::cancelled : Drive::io_error;
    progress = progress || transport_.pending_output() != before;
  }
  for (int i = 0; i < kMaxReadsPerPass && !eof_ && !session_->closed(); ++i) {
    ByteView data;
    switch (transport_.read_available(data, error)) {
    case ReadStatus::data:
      // A protocol error is also queued as a fatal Error event, which is how callers see it.
      (void)session_->receive(data, now_millis());
      progress = true;
      continue;
    case ReadStatus::would_block:
      break;
    case ReadStatus::eof:
      eof_ = true;
      session_->peer_closed();
      progress = true;
      break;
    case ReadStatus::error:
      return transport_.cancelled() ? Drive::cancelled : Drive::io_error;
    }
    break;
  }
  return Drive::ok;
}

Drive ClientDriver::wait(bool want_write, std::int64_t deadline_us) {
  std::int64_t until = deadline_us;
  if (auto d = session_->next_deadline()) {
    const std::int64_t session_us = static_cast<std::int64_t>(d->count()) * 1000;
    until = until < 0 ? session_us : std::min(until, session_us);
  }
  // Sleep until enough bytes for the session to make progress arrived, not on every TCP
  // segment of a large message (Connection::receive_low_water says why this adds no latency).
  transport_.set_receive_low_water(session_->receive_low_water());
  switch (transport_.wait(!eof_, want_write, until)) {
  case WaitResult::cancelled:
    return Drive::cancelled;
  case WaitResult::deadline:
  case WaitResult::ready:
    return Drive::ok;
  }
  return Drive::ok;
}

Drive ClientDriver::step(GError **error) {
  bool progress = false;
  return pump(progress, error);
}

Drive ClientDriver::run(const std::function<bool()> &done, std::int64_t deadline_us,
                        Drive at_deadline, GError **error) {
  for (;;) {
    if (!session_)
      return Drive::closed;
    if (done())
      return Drive::ok;
    if (transport_.cancelled())
      return Drive::cancelled;
    bool progress = false;
    if (Drive d = pump(progress, error); d != Drive::ok)
      return d;
    if (done())
      return Drive::ok;
    if (progress)
      continue;
    if (session_->closed())
      return Drive::closed;
    if (deadline_us >= 0 && monotonic_us() >= deadline_us)
      return at_deadline;
    if (Drive d = wait(transport_.pending_output() > 0, deadline_us); d != Drive::ok)
      return d;
  }
}

Drive ClientDriver::next_event(Event &out, std::int64_t deadline_us, GError **error) {
  return run(
      [&] {
        auto e = session_->poll_event();
        if (e)
          out = std::move(*e);
        return e.has_value();
      },
      deadline_us, Drive::deadline, error);
}

Drive ClientDriver::flush(std::size_t limit, std::int64_t deadline_us, GError **error) {
  return run([&] { return transport_.pending_output() <= limit && !session_->wants_write(); },
             deadline_us, Drive::deadline, error);
}

Drive ClientDriver::idle_until(std::int64_t deadline_us, GError **error) {
  return run([] { return false; }, deadline_us, Drive::ok, error);
}

} // namespace rtmp::net
