// Interleaving of rtmpsink's request pads (video_%u / audio_%u): each pad queues its FLV tags
// (message payloads with their decode time), and the sink sends the tag with the lowest decode
// time first once every track that is waited for has something queued, so that the server sees
// one stream whose timestamps grow (what flvmux does for the FLV path).
//
// A track is waited for while it is linked, has not ended and (live only) was not skipped. Memory
// stays bounded: once a track holds kMaxInterleaveWaitNs of decode time or kMaxQueuedTagsPerTrack
// tags, full() is true and its producer waits (wait_for_room()) for the empty tracks:
// - in a non-live pipeline for as long as it takes, like GstAggregator: every track's data comes
//   eventually (or its EOS, or its pad is unlinked or released), and sending one track ahead of
//   another would break the order of the timestamps for good;
// - in a live pipeline at most the stall limit (the pipeline latency, at least
//   kMinLiveStallWaitNs): then skip_empty_tracks() stops waiting for them until they deliver a
//   tag again, and their data is sent as it arrives, since holding a live stream back for a track
//   that is later than the latency only makes everything late.
//
// Plain C++: no GStreamer, no clock (the caller passes the time), no lock (the sink calls it under
// its send lock).
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
// Least time a full track of a live pipeline waits for a track that has nothing queued (the wait
// is the pipeline latency when that is longer): an encoder's first frame takes a while after the
// others' (x264enc opens its lookahead), and live pipelines often report a few ms of latency.
inline constexpr std::int64_t kMinLiveStallWaitNs = 1'000'000'000;

// How long a full track waits for the tracks that have nothing queued: without limit (nullopt, a
// non-live pipeline) or at most this many ns (a live one).
using StallLimit = std::optional<std::int64_t>;

// What the producer of a full track does (TrackInterleaver::wait_for_room).
struct RoomDecision {
  enum class Action {
    proceed, // the track is not full (any more): take the next buffer
    wait,    // wait for a change (a push, an EOS, an unlink, a removal), at most until `until_ns`
    gave_up, // live: the empty tracks were skipped after the limit; pop() and proceed
  };
  Action action = Action::proceed;
  std::optional<std::int64_t> until_ns; // with wait: when to ask again; nothing = no deadline
};

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
  // Whether the track has a producer (its pad is linked; tracks start linked): an unlinked track
  // is not waited for.
  void set_linked(std::size_t id, bool linked);
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
  // Whether the producer of track `id`, waiting since `since_ns` (a monotonic time, taken when it
  // started handing its latest tag over), waits at `now_ns`: while the track is full, for ever
  // without a limit (non-live), or until since_ns + limit, when the empty tracks are skipped
  // (gave_up).
  RoomDecision wait_for_room(std::size_t id, std::int64_t since_ns, std::int64_t now_ns,
                             StallLimit limit);
  // Queued tags of all tracks.
  std::size_t queued() const;
  // The decode time of the first tag popped (RTMP timestamp 0), once there is one.
  std::optional<std::int64_t> base_ns() const { return base_ns_; }
  // Forgets everything but the tracks and whether they are linked (queues, EOS and skip marks and
  // the time base are reset).
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
    bool linked = true;
  };
  Track *find(std::size_t id);
  const Track *find(std::size_t id) const;

  std::vector<Track> tracks_;
  std::size_t next_id_ = 0;
  std::optional<std::int64_t> base_ns_; // decode time of the first tag popped
};

} // namespace rtmp::gst
