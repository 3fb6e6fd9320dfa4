// When rtmpsrc gives up on a play that receives nothing. Pipelines come to rtmpsrc from two
// elements that use the same words differently, and each keeps its behaviour:
// - librtmp's rtmpsrc: `timeout` (default 120 s) is librtmp's socket receive timeout. No byte at
//   all from the server for that long ends the stream with EOS (the failed read is librtmp's end
//   of stream). Any byte counts (media, pings, commands): the timer restarts on every read.
// - rtmp2src: `timeout` bounds connection operations only; `idle-timeout` (0 = never) ends the
//   play with an error when no media message arrives for that long.
// So: once `idle-timeout` is set (0 included), it alone decides (rtmp2's meaning; a pipeline
// that says idle-timeout=0 waits for ever). Otherwise `timeout`, when set, is also librtmp's
// no-data limit (0 = never), and when neither is set the limit is librtmp rtmpsrc's default of
// 120 s, not our 5 s connect timeout: a pipeline that survived a 10 s stall with librtmp survives
// it here, one that ended after 120 s ends here too. (A pipeline that sets neither waits for ever
// under rtmp2src and ends here after 120 s of silence, as the same text did under librtmp;
// idle-timeout=0 keeps it waiting.)
//
// The watch runs while create() waits for media: a source that is paused (PLAYING -> PAUSED of a
// live source sends pause, so the server sends nothing) does not wait, and each wait starts the
// clock afresh.
//
// Plain C++: no GStreamer, no clock (the caller passes the time in microseconds).
#pragma once

#include <cstdint>

namespace rtmp::gst {

// The default of librtmp rtmpsrc's `timeout` (gst-plugins-bad ext/rtmp), which it gives librtmp as
// its receive timeout: the no-data limit of a pipeline that sets neither `timeout` nor
// `idle-timeout`.
inline constexpr unsigned kLibrtmpSrcDefaultTimeoutSeconds = 120;

enum class NoDataRule {
  none,  // never ends for want of data
  bytes, // librtmp's `timeout`: no byte from the server; ends with EOS
  media, // rtmp2's `idle-timeout`: no media message; ends with an error
};

struct NoDataLimit {
  NoDataRule rule = NoDataRule::none;
  unsigned seconds = 0;
};

// The precedence above. `*_set`: the property was set on the element (to any value).
NoDataLimit no_data_limit(bool idle_timeout_set, unsigned idle_timeout, bool timeout_set,
                          unsigned timeout);

class NoDataWatch {
public:
  explicit NoDataWatch(NoDataLimit limit) : limit_(limit) {}

  // A wait for media starts: the clock starts now, `bytes_in` is the session's receive counter.
  void start(std::int64_t now_us, std::uint64_t bytes_in);
  // After each pass of the wait: the counter moved (rule bytes) or a media message arrived
  // (`media`, both rules) restarts the clock.
  void observe(std::int64_t now_us, std::uint64_t bytes_in, bool media);
  // When the limit is reached without news; -1 when there is no limit.
  std::int64_t deadline_us() const;
  bool expired(std::int64_t now_us) const;
  const NoDataLimit &limit() const { return limit_; }

private:
  NoDataLimit limit_;
  std::int64_t last_news_us_ = 0;
  std::uint64_t bytes_in_ = 0;
};

} // namespace rtmp::gst
