#include "elements/sink_request_pads.h"

#include <gst/base/gstbasesink.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/command.hpp"
#include "elements/element_error.h"
#include "elements/metadata_tags.h"

GST_DEBUG_CATEGORY_STATIC(rtmp_sink_pads_debug);
#define GST_CAT_DEFAULT rtmp_sink_pads_debug

namespace rtmp::gst {

struct RequestPad {
  SinkRequestPads *owner = nullptr;
  GstPad *pad = nullptr;
  bool video = true;
  guint track_id = 0;    // the E-RTMP track id (the number in the pad name)
  std::size_t track = 0; // its id in the interleaver
  std::optional<VideoSendFormat> vfmt;
  std::optional<AudioSendFormat> afmt;
  Bytes sent_config; // the configuration of the last sequence start queued
  bool need_sequence_start = false;
  // The caps carry a streamheader (flacparse, speexenc): the HEADER buffers pushed in-band repeat
  // it, and the sequence start (or the caps alone, for Speex) already says it.
  bool streamheader_in_caps = false;
  bool never_reported = false; // the enhanced=never refusal was posted
  bool flushing = false;
  GstSegment segment;
  GstTagList *tags = nullptr; // stream-scope upstream tags (bitrate)
  std::int64_t last_dts = 0;
  ~RequestPad() {
    if (tags)
      gst_tag_list_unref(tags);
  }
};

namespace {

// nullptr once the pad was released (a late query from a thread that still holds the pad).
RequestPad *request_pad(GstPad *pad) {
  return static_cast<RequestPad *>(gst_pad_get_element_private(pad));
}

// A running time in ns, negative before the segment start (x264enc's first DTS are), or nothing.
std::optional<std::int64_t> signed_running_time(const GstSegment &seg, GstClockTime t) {
  if (!GST_CLOCK_TIME_IS_VALID(t) || seg.format != GST_FORMAT_TIME)
    return std::nullopt;
  guint64 rt = 0;
  const int sign = gst_segment_to_running_time_full(&seg, GST_FORMAT_TIME, t, &rt);
  if (sign == 0)
    return std::nullopt;
  return sign > 0 ? static_cast<std::int64_t>(rt) : -static_cast<std::int64_t>(rt);
}

void merge_tags(GstTagList *&into, const GstTagList *from) {
  if (!into)
    into = gst_tag_list_new_empty();
  gst_tag_list_insert(into, from, GST_TAG_MERGE_REPLACE);
}

// Tags that describe one elementary stream's coding rather than the programme: parsers and
// encoders update them every few frames, so they feed the per-track bitrate fields of the next
// onMetaData instead of sending a new one.
bool is_stream_coding_tag(const gchar *tag) {
  static const char *const kCodingTags[] = {GST_TAG_BITRATE,         GST_TAG_NOMINAL_BITRATE,
                                            GST_TAG_MINIMUM_BITRATE, GST_TAG_MAXIMUM_BITRATE,
                                            GST_TAG_CODEC,           GST_TAG_VIDEO_CODEC,
                                            GST_TAG_AUDIO_CODEC,     GST_TAG_CONTAINER_FORMAT,
                                            GST_TAG_LANGUAGE_CODE};
  for (const char *t : kCodingTags)
    if (g_strcmp0(tag, t) == 0)
      return true;
  return false;
}

// The descriptive part (title, artist, encoder...) of a stream-scope tag list, or nullptr when
// it has none. taginject (GStreamer 1.22) and encoders (GST_TAG_ENCODER) send stream-scope tags;
// flvmux writes them into onMetaData like global ones, and so do we.
GstTagList *descriptive_tags(const GstTagList *tl) {
  GstTagList *out = gst_tag_list_copy(tl);
  const gint n = gst_tag_list_n_tags(tl);
  for (gint i = 0; i < n; ++i) {
    const gchar *name = gst_tag_list_nth_tag_name(tl, static_cast<guint>(i));
    if (is_stream_coding_tag(name))
      gst_tag_list_remove_tag(out, name);
  }
  if (gst_tag_list_is_empty(out)) {
    gst_tag_list_unref(out);
    return nullptr;
  }
  return out;
}

std::uint8_t tag_type(const RequestPad &rp) {
  return static_cast<std::uint8_t>(rp.video ? FlvTagType::video : FlvTagType::audio);
}

} // namespace

// The GstPad callbacks, forwarding to the owner.
struct RequestPadFunctions {
  static GstFlowReturn chain(GstPad *pad, GstObject *, GstBuffer *buffer) {
    RequestPad *rp = request_pad(pad);
    if (!rp) {
      gst_buffer_unref(buffer);
      return GST_FLOW_FLUSHING;
    }
    return rp->owner->chain(*rp, buffer);
  }
  static gboolean event(GstPad *pad, GstObject *, GstEvent *event) {
    RequestPad *rp = request_pad(pad);
    if (!rp) {
      gst_event_unref(event);
      return FALSE;
    }
    return rp->owner->event(*rp, event);
  }
  static gboolean query(GstPad *pad, GstObject *parent, GstQuery *query) {
    RequestPad *rp = request_pad(pad);
    if (!rp)
      return FALSE;
    return rp->owner->query(*rp, query) || gst_pad_query_default(pad, parent, query);
  }
  // Deactivation must not wait for a send blocked on the server when the element goes down
  // (PAUSED->READY); releasing one pad while playing only stops that pad.
  static gboolean activate_mode(GstPad *pad, GstObject *parent, GstPadMode, gboolean active) {
    RequestPad *rp = request_pad(pad);
    if (!rp)
      return TRUE;
    const GstState next = parent ? GST_STATE_NEXT(parent) : GST_STATE_VOID_PENDING;
    const bool going_down = next != GST_STATE_VOID_PENDING && next <= GST_STATE_READY;
    rp->owner->set_flushing(*rp, !active, going_down || active);
    return TRUE;
  }
  // The "linked" / "unlinked" signals (emitted without the pads' locks held, unlike the pad's
  // link and unlink functions): an unlinked pad is not waited for.
  static void linked(GstPad *pad, GstPad *, gpointer owner) {
    static_cast<SinkRequestPads *>(owner)->set_linked(pad, true);
  }
  static void unlinked(GstPad *pad, GstPad *, gpointer owner) {
    static_cast<SinkRequestPads *>(owner)->set_linked(pad, false);
  }
};

GType enhanced_mode_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(EnhancedMode::automatic),
       "Enhanced RTMP only for codecs and tracks that need it", "auto"},
      {static_cast<gint>(EnhancedMode::always),
       "Enhanced RTMP headers for every codec with a FourCC", "always"},
      {static_cast<gint>(EnhancedMode::never),
       "Legacy FLV headers only: refuse codecs and tracks that need Enhanced RTMP", "never"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstRtmpSinkEnhanced", values));
  return type;
}

SinkRequestPads::SinkRequestPads(GstElement *element, RequestPadsHost &host)
    : element_(element), host_(host) {
  static gsize debug_init = 0;
  if (g_once_init_enter(&debug_init)) {
    GST_DEBUG_CATEGORY_INIT(rtmp_sink_pads_debug, "rtmpsinkpads", 0,
                            "rtmpsink request pads (interleaving)");
    g_once_init_leave(&debug_init, 1);
  }
}

SinkRequestPads::~SinkRequestPads() {
  if (global_tags_)
    gst_tag_list_unref(global_tags_);
}

void SinkRequestPads::add_pad_templates(GstElementClass *klass) {
  GstCaps *video = video_sink_template_caps();
  GstCaps *audio = audio_sink_template_caps();
  gst_element_class_add_pad_template(
      klass, gst_pad_template_new("video_%u", GST_PAD_SINK, GST_PAD_REQUEST, video));
  gst_element_class_add_pad_template(
      klass, gst_pad_template_new("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST, audio));
  gst_caps_unref(video);
  gst_caps_unref(audio);
}

bool SinkRequestPads::empty() {
  std::lock_guard locker(lock_);
  return pads_.empty();
}

void SinkRequestPads::reset() {
  {
    std::lock_guard l(clock_lock_);
    latency_ = 0; // the pipeline asks and sends it again before PLAYING
    upstream_live_ = false;
  }
  std::lock_guard locker(lock_);
  interleaver_.reset();
  for (auto &rp : pads_) {
    rp->need_sequence_start = true;
    rp->last_dts = 0;
    rp->never_reported = false;
  }
  metadata_dirty_ = false;
  sent_metadata_.clear();
  eos_posted_ = false;
  if (global_tags_)
    gst_tag_list_unref(global_tags_);
  global_tags_ = nullptr;
}

GstPad *SinkRequestPads::request(GstPadTemplate *templ, const gchar *name) {
  const bool video = std::string_view(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ)) == "video_%u";
  const std::string prefix = video ? "video_" : "audio_";
  std::unique_lock locker(lock_);
  auto taken = [&](guint id) {
    return std::any_of(pads_.begin(), pads_.end(),
                       [&](const auto &rp) { return rp->video == video && rp->track_id == id; });
  };
  guint id = 0;
  const std::string_view asked = name ? name : "";
  if (asked.starts_with(prefix) && asked.substr(prefix.size()) != "%u") {
    gchar *end = nullptr;
    const guint64 v = g_ascii_strtoull(name + prefix.size(), &end, 10);
    if (end == name + prefix.size() || *end || v > kMaxTrackId || taken(static_cast<guint>(v))) {
      GST_WARNING_OBJECT(element_, "cannot make pad %s (track ids 0..%u, each once)", name,
                         kMaxTrackId);
      return nullptr;
    }
    id = static_cast<guint>(v);
  } else {
    while (id <= kMaxTrackId && taken(id))
      ++id;
    if (id > kMaxTrackId)
      return nullptr;
  }
  auto rp = std::make_unique<RequestPad>();
  rp->owner = this;
  rp->video = video;
  rp->track_id = id;
  rp->track = interleaver_.add_track();
  interleaver_.set_linked(rp->track, false); // until the "linked" signal
  gst_segment_init(&rp->segment, GST_FORMAT_TIME);
  rp->pad = gst_pad_new_from_template(templ, (prefix + std::to_string(id)).c_str());
  gst_pad_set_element_private(rp->pad, rp.get());
  gst_pad_set_chain_function(rp->pad, RequestPadFunctions::chain);
  gst_pad_set_event_function(rp->pad, RequestPadFunctions::event);
  gst_pad_set_query_function(rp->pad, RequestPadFunctions::query);
  gst_pad_set_activatemode_function(rp->pad, RequestPadFunctions::activate_mode);
  g_signal_connect(rp->pad, "linked", G_CALLBACK(RequestPadFunctions::linked), this);
  g_signal_connect(rp->pad, "unlinked", G_CALLBACK(RequestPadFunctions::unlinked), this);
  GstPad *pad = rp->pad;
  pads_.push_back(std::move(rp));
  // GstBaseSink prerolls on its own pad only: without this, PAUSED would wait for ever.
  gst_base_sink_set_async_enabled(GST_BASE_SINK(element_), FALSE);
  locker.unlock(); // gst_element_add_pad may activate the pad
  gst_element_add_pad(element_, pad);
  return pad;
}

void SinkRequestPads::release(GstPad *pad) {
  gst_pad_set_active(pad, FALSE);
  std::unique_ptr<RequestPad> gone;
  {
    std::lock_guard locker(lock_);
    for (auto it = pads_.begin(); it != pads_.end(); ++it)
      if ((*it)->pad == pad) {
        interleaver_.remove_track((*it)->track);
        gone = std::move(*it);
        pads_.erase(it);
        break;
      }
    gst_pad_set_element_private(pad, nullptr);
  }
  queue_changed_.notify_all(); // a pad waiting for this one need not any more
  g_signal_handlers_disconnect_by_data(pad, this);
  gst_element_remove_pad(element_, pad);
}

// onMetaData from the global tags and the caps of the lowest track id of each kind.
FlvTag SinkRequestPads::metadata(std::uint32_t timestamp) const {
  const RequestPad *v = nullptr, *a = nullptr;
  for (const auto &rp : pads_) {
    if (rp->vfmt && (!v || rp->track_id < v->track_id))
      v = rp.get();
    if (rp->afmt && (!a || rp->track_id < a->track_id))
      a = rp.get();
  }
  MetadataSource src;
  src.tags = global_tags_;
  src.video = v ? &*v->vfmt : nullptr;
  src.video_tags = v ? v->tags : nullptr;
  src.audio = a ? &*a->afmt : nullptr;
  src.audio_tags = a ? a->tags : nullptr;
  const DataMessage d{std::string(handler::on_meta_data), {metadata_to_amf(src)}};
  return FlvTag{static_cast<std::uint8_t>(FlvTagType::script), timestamp,
                encode_data(d, 0, 0).payload};
}

// What the connect command announces (E-RTMP v2 "Enhancing NetConnection connect Command"): the
// FourCCs of the pads that negotiated an enhanced format before the connection was made (we
// connect on the first tag the interleaver releases, when every pad had its first buffer, so
// their caps are known), as fourCcList and as videoFourCcInfoMap/audioFourCcInfoMap "can encode";
// capsEx Multitrack when a track id other than 0 is used.
EnhancedCapabilities SinkRequestPads::capabilities() const {
  EnhancedCapabilities caps;
  auto add = [&](std::uint32_t fcc, std::map<std::string, int> &map) {
    const std::string name = fourcc_to_string(fcc);
    if (std::find(caps.fourcc_list.begin(), caps.fourcc_list.end(), name) == caps.fourcc_list.end())
      caps.fourcc_list.push_back(name);
    map[name] |= kFourCcCanEncode;
  };
  for (const auto &rp : pads_) {
    if (rp->vfmt && rp->vfmt->enhanced)
      add(rp->vfmt->fourcc, caps.video_fourcc_info);
    if (rp->afmt && rp->afmt->enhanced)
      add(rp->afmt->fourcc, caps.audio_fourcc_info);
    if (rp->track_id != 0)
      caps.caps_ex |= kCapsExMultitrack;
  }
  return caps;
}

// Sends what the interleaver releases (all of it with `drain`); connects first when needed and
// puts an onMetaData before the first tags and after a caps or global tag change.
GstFlowReturn SinkRequestPads::pump(bool drain) {
  std::vector<FlvTag> out;
  while (auto t = interleaver_.pop(drain))
    out.push_back(std::move(*t));
  const bool connected = host_.connected();
  if (out.empty() && (!connected || !metadata_dirty_))
    return GST_FLOW_OK;
  if (!connected) {
    if (GstFlowReturn r = host_.connect(capabilities()); r != GST_FLOW_OK)
      return r;
    metadata_dirty_ = true;
  }
  if (metadata_dirty_) {
    metadata_dirty_ = false;
    FlvTag meta = metadata(out.empty() ? host_.last_timestamp() : out.front().timestamp);
    if (meta.data != sent_metadata_) {
      sent_metadata_ = meta.data;
      out.insert(out.begin(), std::move(meta));
    }
  }
  if (out.empty())
    return GST_FLOW_OK;
  if (!wait_for_clock(out.front().timestamp))
    return GST_FLOW_FLUSHING;
  return host_.send(out);
}

// GstBaseSink `sync` (default true) for the request pads, as GstBaseSink syncs its own pad: in
// PLAYING, a tag is sent when the pipeline clock reaches its running time plus the pipeline
// latency (the LATENCY event) and `ts-offset`, minus `render-delay`. A file is published at its
// own pace (as through flvmux and the `sink` pad); a live source's data, which reaches the sink
// up to the latency late, goes out at the steady pace of its capture. Nothing is dropped for being
// late: it is sent at once. No clock, not PLAYING or sync=false: no wait. False when a flush or a
// state change ended the wait.
bool SinkRequestPads::wait_for_clock(std::uint32_t timestamp_ms) {
  const std::optional<std::int64_t> base = interleaver_.base_ns();
  auto *sink = GST_BASE_SINK(element_);
  if (!base || !gst_base_sink_get_sync(sink) || GST_STATE(element_) != GST_STATE_PLAYING)
    return true;
  GstClockTime latency = 0;
  {
    std::lock_guard l(clock_lock_);
    latency = latency_;
  }
  const std::int64_t running =
      *base + std::int64_t{timestamp_ms} * static_cast<std::int64_t>(GST_MSECOND) +
      static_cast<std::int64_t>(latency) + gst_base_sink_get_ts_offset(sink) -
      static_cast<std::int64_t>(gst_base_sink_get_render_delay(sink));
  GstClock *clock = gst_element_get_clock(element_);
  if (!clock || running < 0) {
    if (clock)
      gst_object_unref(clock);
    return true;
  }
  GstClockID id = nullptr;
  {
    std::lock_guard l(clock_lock_);
    if (!clock_flushing_)
      id = clock_id_ = gst_clock_new_single_shot_id(clock, gst_element_get_base_time(element_) +
                                                               static_cast<GstClockTime>(running));
  }
  gst_object_unref(clock);
  if (!id)
    return false;
  GstClockTimeDiff jitter = 0;
  const GstClockReturn r = gst_clock_id_wait(id, &jitter);
  {
    std::lock_guard l(clock_lock_);
    clock_id_ = nullptr;
  }
  gst_clock_id_unref(id);
  if (r == GST_CLOCK_EARLY)
    GST_LOG_OBJECT(element_, "sent %" G_GINT64_FORMAT " ns after its time", jitter);
  return r != GST_CLOCK_UNSCHEDULED;
}

// The request pads that have a peer (references). From the element's pad list, not under lock_: a
// streaming thread holds that while it waits for the clock or the server, and the pipeline asks
// for the latency from its own thread while going to PLAYING.
std::vector<GstPad *> SinkRequestPads::linked_request_pads() {
  std::vector<GstPad *> out;
  GST_OBJECT_LOCK(element_);
  for (GList *l = element_->sinkpads; l; l = l->next) {
    auto *pad = GST_PAD(l->data);
    if (pad != GST_BASE_SINK_PAD(element_) && gst_pad_is_linked(pad))
      out.push_back(GST_PAD(gst_object_ref(pad)));
  }
  GST_OBJECT_UNLOCK(element_);
  return out;
}

void SinkRequestPads::query_latency(GstQuery *query) {
  std::vector<GstPad *> linked = linked_request_pads();
  // Upstream: live when any branch is; the largest minimum, the smallest maximum (NONE: none).
  bool us_live = false;
  GstClockTime us_min = 0, us_max = GST_CLOCK_TIME_NONE;
  for (GstPad *pad : linked) {
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
    if (gst_pad_peer_query(pad, q)) {
      gst_query_parse_latency(q, &live, &min, &max);
      GST_DEBUG_OBJECT(pad, "upstream: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT,
                       live, GST_TIME_ARGS(min), GST_TIME_ARGS(max));
      if (live) {
        us_live = true;
        us_min = std::max(us_min, min);
        if (GST_CLOCK_TIME_IS_VALID(max))
          us_max = GST_CLOCK_TIME_IS_VALID(us_max) ? std::min(us_max, max) : max;
      }
    }
    gst_query_unref(q);
    gst_object_unref(pad);
  }
  // Our part, as GstBaseSink reports for its own pad: live when syncing; then the processing
  // deadline (when upstream can buffer it) and the render delay.
  auto *sink = GST_BASE_SINK(element_);
  const bool live = gst_base_sink_get_sync(sink);
  GstClockTime min = us_live ? us_min : 0;
  GstClockTime max = us_live ? us_max : GST_CLOCK_TIME_NONE;
  if (live) {
    const GstClockTime deadline = gst_base_sink_get_processing_deadline(sink);
    if (us_live && GST_CLOCK_TIME_IS_VALID(max) && min + deadline > max) {
      GST_ELEMENT_WARNING(element_, CORE, CLOCK,
                          ("the request pads' upstream cannot buffer the processing deadline"),
                          ("upstream latency %" GST_TIME_FORMAT " .. %" GST_TIME_FORMAT
                           ", deadline %" GST_TIME_FORMAT ": add queues",
                           GST_TIME_ARGS(min), GST_TIME_ARGS(max), GST_TIME_ARGS(deadline)));
      min = max;
    } else if (us_live) {
      min += deadline;
    }
    const GstClockTime render_delay = gst_base_sink_get_render_delay(sink);
    min += render_delay;
    if (GST_CLOCK_TIME_IS_VALID(max))
      max += render_delay;
  }
  if (us_live && GST_CLOCK_TIME_IS_VALID(us_max) && us_min > us_max)
    GST_WARNING_OBJECT(element_, "upstream minimum latency above its maximum: add queues");
  GST_DEBUG_OBJECT(element_, "latency: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT,
                   live, GST_TIME_ARGS(min), GST_TIME_ARGS(max));
  {
    std::lock_guard l(clock_lock_);
    upstream_live_ = us_live;
  }
  gst_query_set_latency(query, live, min, max);
}

bool SinkRequestPads::set_latency(GstEvent *event) {
  GstClockTime latency = 0;
  gst_event_parse_latency(event, &latency);
  {
    std::lock_guard l(clock_lock_);
    latency_ = latency;
  }
  GST_DEBUG_OBJECT(element_, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS(latency));
  std::vector<GstPad *> linked = linked_request_pads();
  // Like GstBaseSink: the latency is ours once stored; upstream is told for information (a pad
  // not active yet refuses it).
  for (GstPad *pad : linked) {
    if (!gst_pad_push_event(pad, gst_event_ref(event)))
      GST_DEBUG_OBJECT(pad, "upstream did not take the latency event");
    gst_object_unref(pad);
  }
  gst_event_unref(event);
  return true;
}

void SinkRequestPads::set_clock_flushing(bool flushing) {
  std::lock_guard l(clock_lock_);
  clock_flushing_ = flushing;
  if (flushing && clock_id_)
    gst_clock_id_unschedule(clock_id_);
}

// How long a full track waits for an empty one (track_interleaver.h). Live is what the
// pipeline's latency query found upstream of the linked pads, as GstAggregator decides: until the
// pipeline asks (it does before PLAYING, and a live source produces nothing before PLAYING) the
// pipeline is taken as non-live, and the wait has no limit. Live: the pipeline latency (the
// LATENCY event), at least kMinLiveStallWaitNs, since a live track's data reaches the sink within
// the latency of its capture or is late anyway.
StallLimit SinkRequestPads::stall_limit() {
  std::lock_guard l(clock_lock_);
  if (!upstream_live_)
    return std::nullopt;
  return std::max(kMinLiveStallWaitNs, static_cast<std::int64_t>(latency_));
}

namespace {
std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

// Sends what is ready; while the track of `rp` is full (kMaxInterleaveWaitNs queued) waits for the
// empty tracks as TrackInterleaver::wait_for_room() says: in a non-live pipeline until they
// deliver, end, or are unlinked or released; in a live one at most stall_limit(), then without
// them. Flushing and deactivation (a state change to READY or NULL) end the wait at once.
GstFlowReturn SinkRequestPads::interleave(RequestPad &rp, std::unique_lock<std::mutex> &locker) {
  GstFlowReturn r = pump(false);
  const std::int64_t since = monotonic_ns();
  while (r == GST_FLOW_OK) {
    const StallLimit limit = stall_limit();
    const RoomDecision d = interleaver_.wait_for_room(rp.track, since, monotonic_ns(), limit);
    if (d.action == RoomDecision::Action::proceed)
      break;
    if (rp.flushing)
      return GST_FLOW_FLUSHING;
    if (d.action == RoomDecision::Action::gave_up) {
      GST_WARNING_OBJECT(element_,
                         "live: a request pad got no data for %d ms while %s has %d ms queued: "
                         "sending without it",
                         static_cast<int>(*limit / 1'000'000), GST_PAD_NAME(rp.pad),
                         static_cast<int>(kMaxInterleaveWaitNs / 1'000'000));
    } else if (d.until_ns) {
      queue_changed_.wait_until(locker,
                                std::chrono::steady_clock::time_point(
                                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::nanoseconds(*d.until_ns))));
    } else {
      GST_DEBUG_OBJECT(rp.pad, "full: waiting for the empty tracks (non-live: no limit)");
      queue_changed_.wait(locker);
    }
    r = pump(false);
  }
  return r;
}

// Flushing (FLUSH_START, deactivation) ends a wait for another track; with `cancel`, a send
// blocked on the server and a clock wait are cancelled too (and re-armed when flushing ends).
void SinkRequestPads::set_flushing(RequestPad &rp, bool flushing, bool cancel) {
  if (cancel)
    set_clock_flushing(flushing);
  if (flushing && cancel)
    host_.cancel(true);
  {
    std::lock_guard locker(lock_);
    rp.flushing = flushing;
    if (!flushing && cancel)
      host_.cancel(false);
  }
  queue_changed_.notify_all();
}

void SinkRequestPads::set_linked(GstPad *pad, bool linked) {
  {
    std::lock_guard locker(lock_);
    for (const auto &rp : pads_)
      if (rp->pad == pad)
        interleaver_.set_linked(rp->track, linked);
  }
  queue_changed_.notify_all(); // a pad waiting for this one need not any more
}

GstFlowReturn SinkRequestPads::chain(RequestPad &rp, GstBuffer *buffer) {
  std::unique_lock locker(lock_);
  if (rp.flushing) {
    gst_buffer_unref(buffer);
    return GST_FLOW_FLUSHING;
  }
  if (!rp.vfmt && !rp.afmt) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(element_, CORE, NEGOTIATION, ("%s: data before caps", GST_PAD_NAME(rp.pad)),
                      (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  // Sent as coded frames, flacparse's "fLaC" / STREAMINFO / VORBIS_COMMENT buffers would reach
  // the player's decoder as audio (FFmpeg's FLV muxer sends only the frames).
  if (rp.streamheader_in_caps && GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_HEADER)) {
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  const GstClockTime ts =
      GST_BUFFER_DTS_IS_VALID(buffer) ? GST_BUFFER_DTS(buffer) : GST_BUFFER_PTS(buffer);
  const std::int64_t dts = signed_running_time(rp.segment, ts).value_or(rp.last_dts);
  const std::int64_t pts = signed_running_time(rp.segment, GST_BUFFER_PTS(buffer)).value_or(dts);
  const bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(element_, RESOURCE, READ, ("could not map the input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const ByteView frame(map.data, map.size);
  FlvTag tag;
  tag.type = tag_type(rp);
  if (rp.vfmt) {
    if (rp.vfmt->take_config_from_frame(frame))
      rp.need_sequence_start = true;
    // PTS - DTS in ms, rounded: what players add to the message timestamp.
    const auto cts =
        static_cast<std::int32_t>((pts - dts + (pts >= dts ? 500'000 : -500'000)) / 1'000'000);
    tag.data = rp.vfmt->frame_header(keyframe, cts);
  } else {
    tag.data = rp.afmt->frame_header();
  }
  tag.data.insert(tag.data.end(), frame.begin(), frame.end());
  gst_buffer_unmap(buffer, &map);
  gst_buffer_unref(buffer);

  if (rp.need_sequence_start) {
    rp.need_sequence_start = false;
    Bytes start = rp.vfmt ? rp.vfmt->sequence_start() : rp.afmt->sequence_start();
    if (!start.empty())
      interleaver_.push(rp.track, FlvTag{tag.type, 0, std::move(start)}, dts);
  }
  const std::int64_t used = interleaver_.push(rp.track, std::move(tag), dts);
  if (used != dts)
    GST_WARNING_OBJECT(rp.pad,
                       "decode time went back by %" G_GINT64_FORMAT " ns: sent at the last one",
                       used - dts);
  rp.last_dts = used;
  queue_changed_.notify_all();
  return interleave(rp, locker);
}

// New caps: a new send format; a new sequence start when the configuration changed (and a new
// onMetaData). Caps that cannot be sent are an element error naming the pad and why.
bool SinkRequestPads::set_caps(RequestPad &rp, GstCaps *caps) {
  std::string why;
  const EnhancedMode mode = host_.enhanced_mode();
  const auto track = static_cast<std::uint8_t>(rp.track_id);
  Bytes config;
  rp.vfmt.reset();
  rp.afmt.reset();
  if (rp.video) {
    if (auto f = video_send_format(caps, mode, track, &why)) {
      config = f->config;
      rp.vfmt = std::move(*f);
    }
  } else if (auto f = audio_send_format(caps, mode, track, &why)) {
    config = f->config;
    rp.afmt = std::move(*f);
  }
  if (!rp.vfmt && !rp.afmt) {
    gchar *text = gst_caps_to_string(caps);
    RTMP_POST_ERROR(element_, (ErrorReport{GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
                                           std::string(GST_PAD_NAME(rp.pad)) + ": " + why,
                                           std::string("caps ") + text}));
    g_free(text);
    return false;
  }
  rp.streamheader_in_caps =
      gst_structure_has_field(gst_caps_get_structure(caps, 0), "streamheader");
  if (config != rp.sent_config || rp.sent_config.empty()) {
    rp.need_sequence_start = true;
    rp.sent_config = std::move(config);
  }
  metadata_dirty_ = true;
  return true;
}

bool SinkRequestPads::event(RequestPad &rp, GstEvent *event) {
  bool ok = true;
  switch (GST_EVENT_TYPE(event)) {
  case GST_EVENT_FLUSH_START:
    set_flushing(rp, true, true);
    break;
  case GST_EVENT_FLUSH_STOP: {
    set_flushing(rp, false, true);
    std::lock_guard locker(lock_);
    gst_segment_init(&rp.segment, GST_FORMAT_TIME);
    break;
  }
  case GST_EVENT_SEGMENT: {
    std::lock_guard locker(lock_);
    gst_event_copy_segment(event, &rp.segment);
    break;
  }
  case GST_EVENT_CAPS: {
    GstCaps *caps = nullptr;
    gst_event_parse_caps(event, &caps);
    std::lock_guard locker(lock_);
    ok = set_caps(rp, caps);
    break;
  }
  case GST_EVENT_TAG: {
    GstTagList *tl = nullptr;
    gst_event_parse_tag(event, &tl);
    std::lock_guard locker(lock_);
    // Stream tags (the bitrates parsers update every few frames) go into the next onMetaData;
    // global ones and the descriptive part of stream ones (title, artist, encoder...) are sent
    // at once when they change (failures surface with the next buffer).
    bool changed = false;
    if (gst_tag_list_get_scope(tl) == GST_TAG_SCOPE_GLOBAL) {
      merge_tags(global_tags_, tl);
      changed = true;
    } else {
      merge_tags(rp.tags, tl);
      if (GstTagList *described = descriptive_tags(tl)) {
        GstTagList *before = global_tags_ ? gst_tag_list_copy(global_tags_) : nullptr;
        merge_tags(global_tags_, described);
        changed = !before || !gst_tag_list_is_equal(before, global_tags_);
        if (before)
          gst_tag_list_unref(before);
        gst_tag_list_unref(described);
      }
    }
    metadata_dirty_ = metadata_dirty_ || changed;
    if (host_.publishing())
      (void)pump(false);
    break;
  }
  case GST_EVENT_EOS: {
    std::lock_guard locker(lock_);
    if (rp.vfmt || rp.afmt) {
      Bytes end = rp.vfmt ? rp.vfmt->sequence_end() : rp.afmt->sequence_end();
      if (!end.empty())
        interleaver_.push(rp.track, FlvTag{tag_type(rp), 0, std::move(end)}, rp.last_dts);
    }
    interleaver_.set_eos(rp.track);
    // A pad that was requested but never linked gets no EOS: it is not waited for either.
    for (const auto &other : pads_)
      if (!gst_pad_is_linked(other->pad))
        interleaver_.set_eos(other->track);
    queue_changed_.notify_all();
    const bool all = interleaver_.all_eos();
    (void)pump(all);
    if (all && !eos_posted_) {
      // Like GstBaseSink on its own pad: EOS on the bus once everything went out.
      eos_posted_ = true;
      host_.finish();
      GstMessage *m = gst_message_new_eos(GST_OBJECT(element_));
      gst_message_set_seqnum(m, gst_event_get_seqnum(event));
      gst_element_post_message(element_, m);
    }
    break;
  }
  default:
    break;
  }
  gst_event_unref(event);
  return ok;
}

// Template caps without the codecs that need Enhanced RTMP when enhanced=never (and nothing for
// tracks other than 0, which only E-RTMP Multitrack can carry).
GstCaps *SinkRequestPads::allowed_caps(const RequestPad &rp) {
  GstCaps *all = rp.video ? video_sink_template_caps() : audio_sink_template_caps();
  if (host_.enhanced_mode() != EnhancedMode::never)
    return all;
  GstCaps *legacy = gst_caps_new_empty();
  if (rp.track_id == 0) {
    static const char *const kNeedEnhanced[] = {"video/x-h265", "video/x-av1",  "video/x-vp9",
                                                "video/x-vp8",  "audio/x-opus", "audio/x-flac",
                                                "audio/x-ac3",  "audio/x-eac3"};
    for (guint i = 0; i < gst_caps_get_size(all); ++i) {
      const GstStructure *s = gst_caps_get_structure(all, i);
      const bool enhanced_only =
          std::any_of(std::begin(kNeedEnhanced), std::end(kNeedEnhanced),
                      [&](const char *n) { return gst_structure_has_name(s, n); });
      if (!enhanced_only)
        gst_caps_append_structure(legacy, gst_structure_copy(s));
    }
  }
  gst_caps_unref(all);
  return legacy;
}

// Caps refused only because of enhanced=never: the user learns why (once per pad) instead of a
// bare not-negotiated. Upstream finds out through the caps query (a parser or encoder asking for
// its codec gets nothing) or accept-caps (checked by GStreamer before a caps event reaches the
// pad), so this is posted from there. An error, not a warning: negotiation fails right after it
// anyway (upstream posts not-negotiated), and gst-launch-1.0 drops the warnings still queued when
// a pipeline fails before PLAYING, so a warning would often not be shown.
void SinkRequestPads::refused_for_enhanced_never(RequestPad &rp, GstCaps *caps) {
  if (rp.never_reported || host_.enhanced_mode() != EnhancedMode::never)
    return;
  GstCaps *all = rp.video ? video_sink_template_caps() : audio_sink_template_caps();
  GstCaps *wanted = gst_caps_intersect(caps, all);
  gst_caps_unref(all);
  if (!gst_caps_is_empty(wanted)) {
    rp.never_reported = true;
    gchar *text = gst_caps_to_string(caps);
    RTMP_POST_ERROR(element_,
                    (ErrorReport{GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
                                 std::string(GST_PAD_NAME(rp.pad)) + ": " +
                                     gst_structure_get_name(gst_caps_get_structure(wanted, 0)) +
                                     (rp.track_id != 0 ? " on a track other than 0" : "") +
                                     " needs Enhanced RTMP, which enhanced=never forbids (set "
                                     "enhanced=auto to send it)",
                                 std::string("refused caps ") + text}));
    g_free(text);
  }
  gst_caps_unref(wanted);
}

// CAPS and ACCEPT_CAPS; false for the queries the default handler answers.
//
// An unlinked pad answers the caps query with everything the pad can carry whatever `enhanced`
// says: gst_pad_link() asks before linking, and refusing there leaves a bare "could not link" (all
// gst-launch-1.0 prints). Once linked, the answer follows `enhanced`, so that negotiation (the
// peer's caps query with its codec as filter, accept-caps) refuses with the error above.
bool SinkRequestPads::query(RequestPad &rp, GstQuery *query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS) {
    GstCaps *filter = nullptr;
    gst_query_parse_caps(query, &filter);
    GstCaps *caps = gst_pad_is_linked(rp.pad) ? allowed_caps(rp)
                    : rp.video                ? video_sink_template_caps()
                                              : audio_sink_template_caps();
    if (filter) {
      GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref(caps);
      caps = both;
      if (gst_caps_is_empty(caps) && gst_pad_is_linked(rp.pad))
        refused_for_enhanced_never(rp, filter);
    }
    gst_query_set_caps_result(query, caps);
    gst_caps_unref(caps);
    return true;
  }
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps *caps = nullptr;
    gst_query_parse_accept_caps(query, &caps);
    GstCaps *mine = allowed_caps(rp);
    const bool ok = gst_caps_is_subset(caps, mine);
    gst_caps_unref(mine);
    gst_query_set_accept_caps_result(query, ok);
    if (!ok)
      refused_for_enhanced_never(rp, caps);
    return true;
  }
  return false;
}

} // namespace rtmp::gst
