#include "elements/elementary_output.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/command.hpp"
#include "core/enhanced.hpp"
#include "elements/codec_caps.h"
#include "elements/metadata_tags.h"

GST_DEBUG_CATEGORY_STATIC(rtmp_elementary_debug);
#define GST_CAT_DEFAULT rtmp_elementary_debug

namespace rtmp::gst {

namespace {

// The union of what video_caps() / audio_caps() produce (docs/caps.md).
GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS("video/x-flash-video; video/x-flash-screen; video/x-flash-screen2; "
                    "video/x-vp6-flash; video/x-vp6-alpha; video/x-h264, "
                    "stream-format=(string)avc; video/x-h265, stream-format=(string)hvc1; "
                    "video/x-av1; video/x-vp9; video/x-vp8"));
GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE(
    "audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS("audio/x-raw; audio/x-adpcm; audio/mpeg; audio/x-nellymoser; audio/x-alaw; "
                    "audio/x-mulaw; audio/x-speex; audio/x-opus; audio/x-flac; audio/x-ac3; "
                    "audio/x-eac3"));

void init_debug() {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(rtmp_elementary_debug, "rtmpelementary", 0,
                            "RTMP elementary-stream pads");
    g_once_init_leave(&once, 1);
  }
}

// Upstream queries on a track pad: latency (the element is a live source), seeking and duration
// (a recorded stream) are answered by the element's always pad, caps by the pad's fixed caps.
gboolean track_pad_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  switch (GST_QUERY_TYPE(query)) {
  case GST_QUERY_LATENCY:
  case GST_QUERY_SEEKING:
  case GST_QUERY_DURATION:
    if (parent && GST_IS_BASE_SRC(parent))
      return gst_pad_query(GST_BASE_SRC_PAD(parent), query);
    break;
  default:
    break;
  }
  return gst_pad_query_default(pad, parent, query);
}

} // namespace

GType output_mode_get_type() {
  static gsize id = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(OutputMode::flv), "One always pad 'src' with the FLV byte stream", "flv"},
      {static_cast<gint>(OutputMode::elementary),
       "Sometimes pads video_%u / audio_%u, one per track, with elementary-stream caps",
       "elementary"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&id))
    g_once_init_leave(&id, g_enum_register_static("GstRtmpOutputMode", values));
  return static_cast<GType>(id);
}

GstTagList *text_data_tags(const GstStructure *text_data) {
  GstTagList *tags = gst_tag_list_new_empty();
  if (const gchar *text = gst_structure_get_string(text_data, "text"))
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_COMMENT, text, nullptr);
  if (const gchar *lang = gst_structure_get_string(text_data, "language"))
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE, lang, nullptr);
  return tags;
}

GstPadTemplate *video_src_pad_template() {
  return gst_static_pad_template_get(&video_template);
}
GstPadTemplate *audio_src_pad_template() {
  return gst_static_pad_template_get(&audio_template);
}

struct ElementaryOutput::Track {
  GstPad *pad = nullptr; // owned by the element once added
  VideoTrackCaps video;
  AudioTrackCaps audio;
  bool caps_pending = false; // caps changed: send them before the next buffer
  // Coded frames dropped while the track had no caps, from the RTMP timestamp of the first one.
  std::uint64_t dropped = 0;
  std::uint32_t first_dropped_timestamp = 0;
  bool warned_dropped = false;
};

ElementaryOutput::ElementaryOutput(GstElement *element, Timeline &timeline)
    : element_(element), timeline_(timeline), combiner_(gst_flow_combiner_new()) {
  init_debug();
  if (GST_IS_BASE_SRC(element))
    gst_pad_add_probe(GST_BASE_SRC_PAD(element), GST_PAD_PROBE_TYPE_EVENT_FLUSH,
                      &ElementaryOutput::on_always_pad_flush, this, nullptr);
}

// A flushing seek: GstBaseSrc pushes FLUSH_START on the always pad before it stops the streaming
// thread (which may be blocked pushing on a track pad: the flush unblocks it) and FLUSH_STOP with
// that thread stopped, before it restarts it. Both go to every track pad too; after FLUSH_STOP
// each track pad needs a new segment (GstBaseSrc's, set by the seek) before its next buffer.
GstPadProbeReturn ElementaryOutput::on_always_pad_flush(GstPad *always, GstPadProbeInfo *info,
                                                        gpointer data) {
  auto *self = static_cast<ElementaryOutput *>(data);
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
  if (!(GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_PUSH))
    return GST_PAD_PROBE_OK;
  struct Forward {
    GstPad *always;
    GstEvent *event;
  } fwd{always, event};
  // The element's pad list, not tracks_: FLUSH_START comes while the streaming thread may be
  // adding a pad.
  gst_element_foreach_src_pad(
      self->element_,
      [](GstElement *, GstPad *pad, gpointer user) -> gboolean {
        auto *f = static_cast<Forward *>(user);
        if (pad != f->always)
          gst_pad_push_event(pad, gst_event_ref(f->event));
        return TRUE;
      },
      &fwd);
  if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
    gst_flow_combiner_reset(self->combiner_);
    self->segment_seqnum_ = gst_event_get_seqnum(event);
    self->segment_pending_ = true;
  }
  return GST_PAD_PROBE_OK;
}

gboolean ElementaryOutput::track_pad_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  auto *self = static_cast<ElementaryOutput *>(gst_pad_get_element_private(pad));
  if (GST_EVENT_TYPE(event) == GST_EVENT_SEEK && self && parent && GST_IS_BASE_SRC(parent)) {
    // Every branch forwards the pipeline's seek (one seqnum) upstream: it is performed once.
    const guint32 seqnum = gst_event_get_seqnum(event);
    if (self->last_seek_seqnum_.exchange(seqnum) == seqnum) {
      GST_DEBUG_OBJECT(pad, "seek %u already performed", seqnum);
      gst_event_unref(event);
      return TRUE;
    }
    return gst_pad_send_event(GST_BASE_SRC_PAD(parent), event);
  }
  return gst_pad_event_default(pad, parent, event);
}

// The pads are not touched here: by the time the element is finalized GstElement's dispose
// has removed them (stop() normally did it before).
ElementaryOutput::~ElementaryOutput() {
  for (GstTagList *l : {global_tags_, video_tags_, audio_tags_})
    if (l)
      gst_tag_list_unref(l);
  gst_flow_combiner_free(combiner_);
}

std::size_t ElementaryOutput::pad_count() const {
  return static_cast<std::size_t>(std::count_if(
      tracks_.begin(), tracks_.end(), [](const auto &kv) { return kv.second->pad != nullptr; }));
}

void ElementaryOutput::reset() {
  gst_flow_combiner_clear(combiner_);
  for (auto &[key, t] : tracks_) {
    if (!t->pad)
      continue;
    gst_pad_set_active(t->pad, FALSE);
    gst_element_remove_pad(element_, t->pad);
  }
  tracks_.clear();
  for (GstTagList **l : {&global_tags_, &video_tags_, &audio_tags_}) {
    if (*l)
      gst_tag_list_unref(*l);
    *l = nullptr;
  }
  hints_ = {};
  duration_ms_ = -1;
  warned_track_limit_ = false;
  metadata_seen_ = false;
  expected_.clear();
  no_more_pads_ = false;
  first_media_ms_ = -1;
  media_messages_ = 0;
  group_id_ = 0;
  eos_requested_ = false;
  segment_pending_ = false;
}

void ElementaryOutput::new_publisher() {
  metadata_seen_ = false;
  expected_.clear();
}

ElementaryOutput::Track *ElementaryOutput::track(bool video, std::uint8_t id) {
  const auto key = std::make_pair(video, id);
  if (auto it = tracks_.find(key); it != tracks_.end())
    return it->second.get();
  const auto kind_count = static_cast<std::size_t>(std::count_if(
      tracks_.begin(), tracks_.end(), [&](const auto &kv) { return kv.first.first == video; }));
  if (kind_count >= kMaxTracksPerKind) {
    if (!warned_track_limit_)
      GST_ELEMENT_WARNING(element_, STREAM, DEMUX, ("too many tracks"),
                          ("more than %zu %s tracks: track %u and further ones are dropped",
                           kMaxTracksPerKind, video ? "video" : "audio", id));
    warned_track_limit_ = true;
    return nullptr;
  }
  return tracks_.emplace(key, std::make_unique<Track>()).first->second.get();
}

bool ElementaryOutput::send_caps(Track &t, bool video, std::uint8_t id, GstCaps *caps,
                                 const GstSegment &segment) {
  if (!caps)
    return false;
  if (!t.pad) {
    const std::string name = (video ? "video_" : "audio_") + std::to_string(id);
    GstPadTemplate *templ = gst_element_class_get_pad_template(GST_ELEMENT_GET_CLASS(element_),
                                                               video ? "video_%u" : "audio_%u");
    t.pad = templ ? gst_pad_new_from_template(templ, name.c_str())
                  : gst_pad_new(name.c_str(), GST_PAD_SRC);
    gst_pad_use_fixed_caps(t.pad);
    gst_pad_set_query_function(t.pad, track_pad_query);
    gst_pad_set_element_private(t.pad, this);
    gst_pad_set_event_function(t.pad, &ElementaryOutput::track_pad_event);
    gst_pad_set_active(t.pad, TRUE);
    if (group_id_ == 0)
      group_id_ = gst_util_group_id_next();
    gchar *stream_id = gst_pad_create_stream_id(t.pad, element_, name.c_str());
    GstEvent *start = gst_event_new_stream_start(stream_id);
    g_free(stream_id);
    gst_event_set_group_id(start, group_id_);
    gst_pad_push_event(t.pad, start);
    gst_pad_push_event(t.pad, gst_event_new_caps(caps));
    GST_INFO_OBJECT(element_, "new pad %s with caps %" GST_PTR_FORMAT, name.c_str(),
                    static_cast<void *>(caps));
    gst_element_add_pad(element_, t.pad);
    gst_flow_combiner_add_pad(combiner_, t.pad);
    gst_pad_push_event(t.pad, gst_event_new_segment(&segment));
    send_tags(t, video);
  } else {
    GST_INFO_OBJECT(t.pad, "caps changed to %" GST_PTR_FORMAT, static_cast<void *>(caps));
    gst_pad_push_event(t.pad, gst_event_new_caps(caps));
  }
  gst_caps_unref(caps);
  t.caps_pending = false;
  return true;
}

void ElementaryOutput::send_tags(Track &t, bool video) {
  if (!t.pad)
    return;
  if (global_tags_ && !gst_tag_list_is_empty(global_tags_))
    gst_pad_push_event(t.pad, gst_event_new_tag(gst_tag_list_ref(global_tags_)));
  GstTagList *stream = video ? video_tags_ : audio_tags_;
  if (stream && !gst_tag_list_is_empty(stream))
    gst_pad_push_event(t.pad, gst_event_new_tag(gst_tag_list_ref(stream)));
}

GstFlowReturn ElementaryOutput::push_buffer(Track &t, GstBuffer *buf) {
  if (GST_IS_BASE_SRC(element_) && gst_base_src_get_do_timestamp(GST_BASE_SRC(element_))) {
    // do-timestamp: DTS is the arrival's running time; PTS keeps its distance to DTS.
    if (const GstClockTime now = gst_element_get_current_running_time(element_);
        GST_CLOCK_TIME_IS_VALID(now)) {
      const GstClockTimeDiff offset = GST_CLOCK_DIFF(GST_BUFFER_DTS(buf), GST_BUFFER_PTS(buf));
      GST_BUFFER_DTS(buf) = now;
      GST_BUFFER_PTS(buf) = static_cast<GstClockTime>(
          std::max<GstClockTimeDiff>(static_cast<GstClockTimeDiff>(now) + offset, 0));
    }
  }
  const GstFlowReturn r = gst_pad_push(t.pad, buf);
  return gst_flow_combiner_update_pad_flow(combiner_, t.pad, r);
}

void ElementaryOutput::frame_dropped(Track &t, bool video, std::uint8_t id,
                                     std::uint32_t timestamp) {
  if (t.warned_dropped)
    return;
  if (t.dropped++ == 0)
    t.first_dropped_timestamp = timestamp;
  // RTMP timestamps wrap at 2^32 ms: the difference modulo 2^32, read as signed.
  const auto elapsed_ms = static_cast<std::int32_t>(timestamp - t.first_dropped_timestamp);
  GST_LOG_OBJECT(element_, "%s track %u: coded frame dropped, no caps (%" G_GUINT64_FORMAT ")",
                 video ? "video" : "audio", id, t.dropped);
  if (elapsed_ms < kNoMorePadsWaitMs && t.dropped < kNoMorePadsWaitMessages)
    return;
  t.warned_dropped = true;
  GST_ELEMENT_WARNING(element_, STREAM, DEMUX,
                      ("%s track %u: coded frames dropped, no usable sequence header",
                       video ? "video" : "audio", id),
                      ("%" G_GUINT64_FORMAT " coded frames over %d ms without caps: the codec "
                       "needs its configuration record (sequence start), which did not arrive or "
                       "was refused (a late join through a server that does not replay it?)",
                       t.dropped, static_cast<int>(elapsed_ms)));
}

GstFlowReturn ElementaryOutput::finish(GstFlowReturn r) {
  if (r == GST_FLOW_FLUSHING && eos_requested_.exchange(false)) {
    push_eos();
    return GST_FLOW_EOS;
  }
  if (r != GST_FLOW_OK && r != GST_FLOW_FLUSHING)
    push_eos();
  return r;
}

GstFlowReturn ElementaryOutput::push_message(const Message &msg) {
  if (msg.payload.empty())
    return GST_FLOW_OK;
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  if (GST_IS_BASE_SRC(element_)) {
    GST_OBJECT_LOCK(element_);
    gst_segment_copy_into(&GST_BASE_SRC(element_)->segment, &segment);
    GST_OBJECT_UNLOCK(element_);
  }
  if (segment_pending_.exchange(false)) { // after a flushing seek: the new segment first
    for (auto &[key, t] : tracks_) {
      if (!t->pad)
        continue;
      GstEvent *ev = gst_event_new_segment(&segment);
      gst_event_set_seqnum(ev, segment_seqnum_);
      gst_pad_push_event(t->pad, ev);
    }
  }
  switch (msg.kind()) {
  case MessageType::data_amf0:
    handle_data(msg);
    return GST_FLOW_OK;
  case MessageType::video:
  case MessageType::audio: {
    // The timeline starts at the first message that puts a buffer on a pad, not at the first
    // message: servers replay stale messages first (node-media-server gives a late player an
    // E-RTMP multitrack message from the live edge before the sequence headers and the GOP it
    // caches), and a timeline started there would put the whole GOP at 0.
    Stamp stamp{msg.timestamp};
    if (timeline_.started)
      stamp.at(timeline_);
    ++media_messages_;
    const GstFlowReturn r = msg.kind() == MessageType::video ? push_video(msg, stamp, segment)
                                                             : push_audio(msg, stamp, segment);
    if (stamp.ms) {
      if (first_media_ms_ < 0)
        first_media_ms_ = *stamp.ms;
      check_no_more_pads(*stamp.ms);
    }
    return r;
  }
  default:
    return GST_FLOW_OK;
  }
}

static GstClockTime to_clock(std::int64_t ns) {
  return static_cast<GstClockTime>(std::max<std::int64_t>(ns, 0));
}

GstFlowReturn ElementaryOutput::push_video(const Message &msg, Stamp &stamp,
                                           const GstSegment &segment) {
  auto tag = parse_video_tag(msg.payload);
  if (!tag) {
    GST_WARNING_OBJECT(element_, "video message of %zu bytes dropped: %s", msg.payload.size(),
                       tag.error().message().c_str());
    return GST_FLOW_OK;
  }
  GstFlowReturn combined = GST_FLOW_OK;
  const bool keyframe =
      tag->frame_type == FrameType::keyframe || tag->frame_type == FrameType::generated_keyframe;
  for (const VideoTrackPacket &packet : tag->tracks) {
    GST_LOG_OBJECT(element_, "video track %u codec %d kind %d, %zu bytes, timestamp %u",
                   packet.track_id, static_cast<int>(packet.codec), static_cast<int>(packet.kind),
                   packet.payload.size(), msg.timestamp);
    Track *t = track(true, packet.track_id);
    if (!t)
      continue;
    if (t->video.update(packet))
      t->caps_pending = true;
    if (packet.track_id == 0 && t->video.set_hints(hints_))
      t->caps_pending = true;
    if (packet.kind != VideoPacketKind::coded_frames)
      continue;
    // A tag without frame data (the flags byte only, VP6's adjustment byte only) pushes
    // nothing, as in flvdemux.
    const ByteView data = video_frame_data(packet);
    if (data.empty())
      continue;
    if ((t->caps_pending || !t->pad) &&
        !send_caps(*t, true, packet.track_id, t->video.caps(), segment)) {
      frame_dropped(*t, true, packet.track_id, msg.timestamp); // no sequence header yet
      continue;
    }
    GstBuffer *buf = gst_buffer_new_memdup(data.data(), data.size());
    const std::int64_t dts = stamp.at(timeline_) * static_cast<std::int64_t>(GST_MSECOND);
    GST_BUFFER_DTS(buf) = to_clock(dts);
    GST_BUFFER_PTS(buf) = to_clock(dts + presentation_offset_ns(packet));
    if (!keyframe)
      GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    combined = push_buffer(*t, buf);
  }
  return combined;
}

GstFlowReturn ElementaryOutput::push_audio(const Message &msg, Stamp &stamp,
                                           const GstSegment &segment) {
  auto tag = parse_audio_tag(msg.payload);
  if (!tag) {
    GST_WARNING_OBJECT(element_, "audio message of %zu bytes dropped: %s", msg.payload.size(),
                       tag.error().message().c_str());
    return GST_FLOW_OK;
  }
  GstFlowReturn combined = GST_FLOW_OK;
  for (const AudioTrackPacket &packet : tag->tracks) {
    GST_LOG_OBJECT(element_, "audio track %u codec %d kind %d, %zu bytes, timestamp %u",
                   packet.track_id, static_cast<int>(packet.codec), static_cast<int>(packet.kind),
                   packet.payload.size(), msg.timestamp);
    Track *t = track(false, packet.track_id);
    if (!t)
      continue;
    if (t->audio.update(*tag, packet))
      t->caps_pending = true;
    if (packet.kind != AudioPacketKind::coded_frames || packet.payload.empty())
      continue;
    if ((t->caps_pending || !t->pad) &&
        !send_caps(*t, false, packet.track_id, t->audio.caps(), segment)) {
      frame_dropped(*t, false, packet.track_id, msg.timestamp);
      continue;
    }
    GstBuffer *buf = gst_buffer_new_memdup(packet.payload.data(), packet.payload.size());
    const std::int64_t ts = stamp.at(timeline_) * static_cast<std::int64_t>(GST_MSECOND) +
                            static_cast<std::int64_t>(packet.nanosecond_offset);
    GST_BUFFER_DTS(buf) = GST_BUFFER_PTS(buf) = to_clock(ts);
    combined = push_buffer(*t, buf);
  }
  return combined;
}

// The E-RTMP multitrack maps of onMetaData (videoTrackIdInfoMap / audioTrackIdInfoMap): their
// keys are the track ids.
static void add_expected_tracks(const amf::Value &meta, const char *map_key, bool video,
                                std::set<std::pair<bool, std::uint8_t>> &expected) {
  const amf::Value *map = meta.find(map_key);
  const amf::Properties *props = map ? map->properties() : nullptr;
  if (!props)
    return;
  for (const auto &[key, value] : *props) {
    char *end = nullptr;
    const unsigned long id = std::strtoul(key.c_str(), &end, 10);
    if (end && *end == '\0' && !key.empty() && id <= 255 && expected.size() < 2 * kMaxTracksPerKind)
      expected.emplace(video, static_cast<std::uint8_t>(id));
  }
}

void ElementaryOutput::handle_data(const Message &msg) {
  auto decoded = decode_data(msg);
  if (!decoded) {
    GST_WARNING_OBJECT(element_, "undecodable data message dropped: %s",
                       decoded.error().message().c_str());
    return;
  }
  const DataMessage d = unwrap_set_data_frame(*decoded);
  if (d.values.empty())
    return;
  const amf::Value &arg = d.values[0];
  if (d.handler != handler::on_meta_data) {
    const std::int64_t ms = std::max<std::int64_t>(timeline_.position, 0);
    GstStructure *s = data_to_structure(d.handler, arg, ms);
    if (!s)
      return;
    if (gst_structure_has_name(s, "rtmp-text-data")) {
      // Text also as a tag on every pad, as rtmpserversrc does in flv mode.
      GstTagList *tags = text_data_tags(s);
      gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
      for (auto &[key, t] : tracks_)
        if (t->pad)
          gst_pad_push_event(t->pad, gst_event_new_tag(gst_tag_list_ref(tags)));
      gst_tag_list_unref(tags);
    }
    gst_element_post_message(element_, gst_message_new_element(GST_OBJECT(element_), s));
    return;
  }

  StreamMetadata m = metadata_from_amf(arg);
  if (!m.global)
    return;
  GST_DEBUG_OBJECT(element_, "onMetaData tags %" GST_PTR_FORMAT, static_cast<void *>(m.global));
  for (GstTagList **l : {&global_tags_, &video_tags_, &audio_tags_})
    if (*l)
      gst_tag_list_unref(*l);
  global_tags_ = std::exchange(m.global, nullptr);
  video_tags_ = std::exchange(m.video, nullptr);
  audio_tags_ = std::exchange(m.audio, nullptr);
  hints_ = m.video_hints;
  guint64 duration = 0;
  duration_ms_ = gst_tag_list_get_uint64(global_tags_, GST_TAG_DURATION, &duration) && duration
                     ? static_cast<std::int64_t>(duration / GST_MSECOND)
                     : -1;
  if (GstMessage *bus = metadata_message(GST_OBJECT(element_), m))
    gst_element_post_message(element_, bus);

  // Which tracks the publisher announces, for no-more-pads.
  metadata_seen_ = true;
  expected_.clear();
  const auto flag = [&](const char *key) {
    const amf::Value *v = arg.find(key);
    return v && v->as_bool().value_or(false);
  };
  if (flag("hasVideo") || arg.find("videocodecid"))
    expected_.emplace(true, 0);
  if (flag("hasAudio") || arg.find("audiocodecid"))
    expected_.emplace(false, 0);
  add_expected_tracks(arg, "videoTrackIdInfoMap", true, expected_);
  add_expected_tracks(arg, "audioTrackIdInfoMap", false, expected_);

  for (auto &[key, t] : tracks_) {
    if (!t->pad)
      continue;
    if (key.first && key.second == 0 && t->video.set_hints(hints_))
      t->caps_pending = true;
    send_tags(*t, key.first);
  }
}

void ElementaryOutput::check_no_more_pads(std::int64_t ms) {
  if (no_more_pads_ || pad_count() == 0)
    return;
  bool done = false;
  if (metadata_seen_ && !expected_.empty()) {
    done = std::all_of(expected_.begin(), expected_.end(), [&](const auto &key) {
      auto it = tracks_.find(key);
      return it != tracks_.end() && it->second->pad;
    });
  }
  if (!done)
    done = ms - first_media_ms_ >= kNoMorePadsWaitMs || media_messages_ >= kNoMorePadsWaitMessages;
  if (!done)
    return;
  GST_INFO_OBJECT(element_, "no more pads (%zu pads)", pad_count());
  no_more_pads_ = true;
  gst_element_no_more_pads(element_);
}

void ElementaryOutput::push_eos() {
  for (auto &[key, t] : tracks_)
    if (t->pad)
      gst_pad_push_event(t->pad, gst_event_new_eos());
}

} // namespace rtmp::gst
