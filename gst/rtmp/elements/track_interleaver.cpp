#include "elements/track_interleaver.h"

#include <algorithm>

namespace rtmp::gst {

std::size_t TrackInterleaver::add_track() {
  tracks_.push_back(Track{next_id_, {}, std::nullopt, false, false, true});
  return next_id_++;
}

void TrackInterleaver::remove_track(std::size_t id) {
  std::erase_if(tracks_, [id](const Track &t) { return t.id == id; });
}

TrackInterleaver::Track *TrackInterleaver::find(std::size_t id) {
  for (Track &t : tracks_)
    if (t.id == id)
      return &t;
  return nullptr;
}

const TrackInterleaver::Track *TrackInterleaver::find(std::size_t id) const {
  for (const Track &t : tracks_)
    if (t.id == id)
      return &t;
  return nullptr;
}

std::int64_t TrackInterleaver::push(std::size_t id, FlvTag tag, std::int64_t dts_ns) {
  Track *t = find(id);
  if (!t)
    return dts_ns;
  if (t->last_dts && dts_ns < *t->last_dts)
    dts_ns = *t->last_dts;
  t->last_dts = dts_ns;
  t->skipped = false;
  t->queue.push_back(Pending{std::move(tag), dts_ns});
  return dts_ns;
}

void TrackInterleaver::set_eos(std::size_t id) {
  if (Track *t = find(id))
    t->eos = true;
}

void TrackInterleaver::set_linked(std::size_t id, bool linked) {
  if (Track *t = find(id))
    t->linked = linked;
}

bool TrackInterleaver::is_eos(std::size_t id) const {
  const Track *t = find(id);
  return t && t->eos;
}

bool TrackInterleaver::all_eos() const {
  return !tracks_.empty() &&
         std::all_of(tracks_.begin(), tracks_.end(), [](const Track &t) { return t.eos; });
}

std::optional<FlvTag> TrackInterleaver::pop(bool drain) {
  Track *oldest = nullptr;
  bool waiting = false; // a track we wait for has nothing queued
  for (Track &t : tracks_) {
    if (t.queue.empty()) {
      waiting = waiting || (!t.eos && !t.skipped && t.linked);
      continue;
    }
    if (!oldest || t.queue.front().dts_ns < oldest->queue.front().dts_ns)
      oldest = &t;
  }
  if (!oldest || (waiting && !drain))
    return std::nullopt;
  Pending p = std::move(oldest->queue.front());
  oldest->queue.pop_front();
  if (!base_ns_)
    base_ns_ = p.dts_ns;
  // A track that was not waited for may bring a decode time before the first tag: it is sent at 0.
  const std::int64_t ms = std::max<std::int64_t>(0, p.dts_ns - *base_ns_) / 1'000'000;
  p.tag.timestamp = static_cast<std::uint32_t>(ms); // RTMP timestamps wrap at 2^32 ms
  return std::move(p.tag);
}

bool TrackInterleaver::full(std::size_t id) const {
  const Track *t = find(id);
  return t && !t->queue.empty() &&
         (t->queue.back().dts_ns - t->queue.front().dts_ns >= kMaxInterleaveWaitNs ||
          t->queue.size() >= kMaxQueuedTagsPerTrack);
}

void TrackInterleaver::skip_empty_tracks() {
  for (Track &t : tracks_)
    if (t.queue.empty())
      t.skipped = true;
}

RoomDecision TrackInterleaver::wait_for_room(std::size_t id, std::int64_t since_ns,
                                             std::int64_t now_ns, StallLimit limit) {
  if (!full(id))
    return {};
  if (!limit)
    return {RoomDecision::Action::wait, std::nullopt};
  const std::int64_t until = since_ns + *limit;
  if (now_ns < until)
    return {RoomDecision::Action::wait, until};
  skip_empty_tracks();
  return {RoomDecision::Action::gave_up, std::nullopt};
}

std::size_t TrackInterleaver::queued() const {
  std::size_t n = 0;
  for (const Track &t : tracks_)
    n += t.queue.size();
  return n;
}

void TrackInterleaver::reset() {
  for (Track &t : tracks_) {
    t.queue.clear();
    t.last_dts.reset();
    t.eos = false;
    t.skipped = false;
  }
  base_ns_.reset();
}

} // namespace rtmp::gst
