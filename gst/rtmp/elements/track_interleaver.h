// Interleaving of rtmpsink's request pads (video_%u / audio_%u): each pad queues its FLV tags
// (message payloads with their decode time), and the sink sends the tag with the lowest decode
// time first once every track that has not ended has something queued, so that the server sees
// one stream whose timestamps grow (what flvmux does for the FLV path).
//
// A track that stalls (an encoder that never produced a frame, a source that stopped) must not
// make the others wait for ever nor grow memory: once a track holds kMaxInterleaveWaitNs of decode
// time or kMaxQueuedTagsPerTrack tags, full() is true and the sink waits (a bounded wall-clock
// time, see gstrtmpsink.cpp) for the empty tracks; then skip_empty_tracks() stops waiting for
// them until they deliver a tag again, and their data is sent as it arrives.
//
// Plain C++: no GStreamer, no clock, no lock (the sink calls it under its send lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/flv.hpp"

namespace rtmp::gst {

// Decode time one track may queue while the sink waits for a track that has nothing: beyond it the
// sink stops taking buffers until the empty track delivers (or is skipped). 2 s covers the
// lookahead of encoders such as x264enc's defaults; it is also the bound on what a track queues.
inline constexpr std::int64_t kMaxInterleaveWaitNs = 2'000'000'000;
// Bound on the tags one track queues whatever the timestamps say (a source whose timestamps do not
// advance): 2 s of 10 ms audio frames, 8 s of 60 fps video.
inline constexpr std::size_t kMaxQueuedTagsPerTrack = 512;

class TrackInterleaver {
public:
  // Adds a track and returns its id (ids are not reused).
  std::size_t add_track();
  // Forgets a track and what it queued.
  void remove_track(std::size_t id);
  // Queues a tag of `id` decoded at `dts_ns` (a running time; may be negative). Returns the decode
  // time actually used: a time earlier than the track's previous one is raised to it, so that
  // each track's timestamps never go backwards.
  std::int64_t push(std::size_t id, FlvTag tag, std::int64_t dts_ns);
  // The track has ended: it is no longer waited for.
  void set_eos(std::size_t id);
  bool is_eos(std::size_t id) const;
  // True when there are tracks and all of them ended.
  bool all_eos() const;
  // The next tag to send, with its RTMP timestamp set (milliseconds since the first tag popped),
  // or nothing while a track with no queued tag must be waited for (one that has not ended and
  // is not skipped). `drain` pops regardless of empty tracks (EOS of the whole element).
  std::optional<FlvTag> pop(bool drain = false);
  // Track `id` queued kMaxInterleaveWaitNs of decode time or kMaxQueuedTagsPerTrack tags while
  // pop() waits for another: its producer should wait.
  bool full(std::size_t id) const;
  // Stops waiting for the tracks that have nothing queued, until they push again.
  void skip_empty_tracks();
  // Queued tags of all tracks.
  std::size_t queued() const;
  // The decode time of the first tag popped (RTMP timestamp 0), once there is one.
  std::optional<std::int64_t> base_ns() const { return base_ns_; }
  // Forgets everything (tracks stay, their queues, EOS marks and the time base are reset).
  void reset();

private:
  struct Pending {
    FlvTag tag;
    std::int64_t dts_ns;
  };
  struct Track {
    std::size_t id;
    std::deque<Pending> queue;
    std::optional<std::int64_t> last_dts;
    bool eos = false;
    bool skipped = false;
  };
  Track *find(std::size_t id);
  const Track *find(std::size_t id) const;

  std::vector<Track> tracks_;
  std::size_t next_id_ = 0;
  std::optional<std::int64_t> base_ns_; // decode time of the first tag popped
};

} // namespace rtmp::gst
