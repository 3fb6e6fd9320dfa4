// A scriptable RTMP server for the element tests, built on the core's ServerSession: it runs in
// its own thread on a free loopback port and plays the part of a well-behaved, rejecting,
// authenticating, silent or VOD server. Test-only code: blocking sockets, one client at a time.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/server_session.hpp"

namespace rtmp::test {

struct FakeServerOptions {
  ServerConfig config;
  bool silent = false;                                               // accept TCP and never answer
  std::optional<std::pair<std::string, std::string>> reject_connect; // code, description
  std::optional<std::pair<std::string, std::string>> reject_publish;
  std::optional<std::pair<std::string, std::string>> reject_play;
  // Sent to a player after accept_play (timestamps as given), then end_stream() if asked.
  std::vector<Message> play_media;
  bool end_after_media = true;
  // Close the TCP connection right after the media (no Stream EOF, no Play.Stop).
  bool close_after_media = false;
  // play2 (a stream switch): answered like nginx-rtmp (Play.Stop of the old stream, then
  // Play.Reset / Play.Start of the new one) followed by this media.
  std::vector<Message> play2_media;
  // Answer connect only after this long (a slow server: async-connect tests).
  int connect_delay_ms = 0;
  // Seek requests (VOD): called with the position; may return media to send after the seek
  // (which is answered NetStream.Seek.Notify first when this is set).
  std::function<std::vector<Message>(double ms)> on_seek;
  // Called on the server thread after accept_play and play_media were written, before the
  // stream ends (end_after_media): a test writes hand-made bytes at its own pace (send_all) and
  // may feed the client's bytes to the session itself (its acknowledgements, for instance).
  std::function<void(GSocket *sock, ServerSession &session)> after_play;
};

// Writes all of `bytes` to a blocking socket; false on error.
bool send_all(GSocket *sock, ByteView bytes);

class FakeRtmpServer {
public:
  explicit FakeRtmpServer(FakeServerOptions opts = {});
  ~FakeRtmpServer();
  FakeRtmpServer(const FakeRtmpServer &) = delete;
  FakeRtmpServer &operator=(const FakeRtmpServer &) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string &app = "live", const std::string &stream = "test") const;

  // Thread-safe views of what happened.
  std::vector<Message> published() const;
  std::vector<std::string> events() const; // event_name() of every session event, in order
  std::vector<Command> calls() const;      // the IncomingCall commands (e.g. secureTokenResponse)
  std::vector<amf::Value> play2_requests() const; // the NetStreamPlayOptions of each play2
  // The chunk size the client sends with, as of the last bytes received.
  std::uint32_t chunk_size_in() const { return chunk_size_in_.load(); }
  int connections() const { return connections_.load(); }
  bool saw(const std::string &event_name) const;
  // The E-RTMP capabilities of the last connect command (fourCcList, ...).
  EnhancedCapabilities connect_capabilities() const;
  // The last connect command (app, tcUrl, flashVer, command object, arguments after it).
  std::optional<ConnectRequest> connect_request() const;
  // Waits until `pred()` holds (checked whenever the server thread records something).
  bool wait_until(const std::function<bool()> &pred, int timeout_ms) const;

private:
  void run();
  void serve(GSocket *sock);
  void record_event(const Event &e);

  FakeServerOptions opts_;
  GSocketListener *listener_ = nullptr;
  GCancellable *cancel_ = nullptr;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<std::uint32_t> chunk_size_in_{128};
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cond_;
  std::vector<Message> published_;
  std::vector<std::string> events_;
  EnhancedCapabilities connect_capabilities_;
  std::optional<ConnectRequest> connect_request_;
  std::vector<Command> calls_;
  std::vector<amf::Value> play2_;
};

// FLV-style payload helpers for scripted media.
Message make_media(MessageType type, std::uint32_t timestamp, Bytes payload,
                   std::uint32_t stream_id = 1);
// An AMF0 onMetaData data message with the given properties.
Message make_metadata(amf::Properties props, std::uint32_t stream_id = 1);

} // namespace rtmp::test
