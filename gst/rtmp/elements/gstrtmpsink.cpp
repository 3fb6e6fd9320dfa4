// rtmpsink: GstBaseSink that publishes FLV to an RTMP server.
//
// Threading: everything that talks to the server runs on the streaming thread (render() and
// the EOS event), through a ClientConnection whose waits are bounded and cancellable. unlock()
// (flushing, PAUSED->READY) cancels the connection's GCancellable from the application thread,
// which is what makes a state change return promptly whatever the server does.
//
// Lock: `lock` protects `settings` (written by set_property from any thread) and `stats`
// (a snapshot the streaming thread refreshes, read by the stats property). The connection
// itself is only touched by the streaming thread, except cancel()/reset_cancel(), which are
// thread-safe.
#include "elements/gstrtmpsink.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gst/pbutils/codec-utils.h>

#include "core/avc_sps.hpp"
#include "core/command.hpp"
#include "core/flv.hpp"
#include "elements/client_connection.h"
#include "elements/client_settings.h"
#include "elements/element_error.h"
#include "elements/sink_request_pads.h"

GST_DEBUG_CATEGORY_STATIC(rtmp_sink_debug);
#define GST_CAT_DEFAULT rtmp_sink_debug

using namespace rtmp;
using namespace rtmp::gst;

namespace {

// Bytes we let the socket queue hold before render() waits (back-pressure): about a second of
// a 2 Mbit/s stream, so a slow link throttles upstream instead of growing a queue here.
constexpr std::size_t kMaxUnsentBytes = 256 * 1024;
// How long EOS waits for the server to confirm the unpublish (NetStream.Unpublish.Success or
// the onFCUnpublish answer): a clean stop must not hold the pipeline when a server (such as
// nginx-rtmp for FCUnpublish) never answers.
constexpr std::int64_t kUnpublishWaitUs = 500 * 1000;
// After a Set Chunk Size that makes chunks smaller, how long the sink waits (reading and
// answering the server) before sending more, see apply_chunk_size().
constexpr std::int64_t kChunkShrinkPauseUs = 100 * 1000;

// AMF0 string "onMetaData" (marker 0x02, length 10): the start of an FLV onMetaData script tag
// (FLV spec 10.1 E.5).
constexpr std::uint8_t kOnMetaDataPrefix[] = {0x02, 0x00, 0x0A, 'o', 'n', 'M', 'e',
                                              't',  'a',  'D',  'a', 't', 'a'};

bool is_on_metadata(ByteView data) {
  return data.size() >= sizeof(kOnMetaDataPrefix) &&
         std::memcmp(data.data(), kOnMetaDataPrefix, sizeof(kOnMetaDataPrefix)) == 0;
}

struct SinkPrivate {
  // Settings, stats and counters shared with other threads, under their one lock.
  ElementState state;

  // Streaming thread only (and the connect thread of async-connect until it is joined).
  std::unique_ptr<ClientConnection> conn;
  AsyncConnect async;
  ClientSettings active; // settings copied at connect time
  bool publishing = false;
  FlvReader reader;
  std::vector<FlvTag> tags;
  std::vector<Bytes> streamheader; // from the caps, fed at publish start
  bool streamheader_sent = false;
  // The entries of `streamheader` that went out at publish start: an in-band HEADER buffer
  // with the same bytes is a copy (flvmux pushes them again), any other one is news (a source
  // such as rtmpserversrc completes its streamheader only as the headers arrive).
  std::vector<Bytes> sent_streamheader;

  // Reconnection (reconnect=true). What a new publish must resend before media: the last
  // onMetaData and sequence headers seen (FLV spec 10.1 E.4.2.1 / E.4.3.1 packet type 0).
  std::optional<FlvTag> last_metadata, last_video_config, last_audio_config;
  std::vector<FlvTag> track_configs; // E-RTMP Multitrack sequence starts, one per kind and track
  bool reconnecting = false;
  guint attempt = 0;
  guint delay_ms = 0;
  std::int64_t next_attempt_us = 0;
  std::string lost_reason;
  std::deque<FlvTag> backlog;  // tags that arrived while disconnected
  bool await_keyframe = false; // reconnected without a keyframe: drop media until one
  std::size_t backlog_bytes = 0;

  // Upstream tags (title, artist, encoder...) merged into every onMetaData we send; a tag event
  // while publishing sends an updated onMetaData.
  GstTagList *taglist = nullptr;
  Bytes merged_metadata_sent; // the last onMetaData payload sent, tags merged and fields filled
  std::uint32_t last_timestamp = 0;

  // peak-kbps pacing: the monotonic time (us) at which what we sent so far is "paid for".
  std::int64_t paced_until_us = 0;

  // Request pads (video_%u / audio_%u, sink_request_pads.h), created in init; `host` is what
  // they call back into (declared first: destroyed after them).
  std::unique_ptr<RequestPadsHost> host;
  std::unique_ptr<SinkRequestPads> request_pads;
  EnhancedMode enhanced = EnhancedMode::automatic; // the `enhanced` property, under state.lock
};

} // namespace

struct _GstRtmpSink {
  GstBaseSink parent;
  SinkPrivate *priv;
};

G_DEFINE_TYPE_WITH_CODE(GstRtmpSink, gst_rtmp_sink, GST_TYPE_BASE_SINK,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, uri_handler_init))

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define PRIV(obj) (GST_RTMP_SINK(obj)->priv)

// Turns an Outcome into the flow return, posting the error when there is one.
static GstFlowReturn flow_from(GstRtmpSink *self, Outcome o) {
  return self->priv->conn->flow(o);
}

// Handles the events the session queued while we were writing. Media-path failures (a fatal
// Error, the connection closing) end the publish.
static Outcome drain_events(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  ClientConnection &c = *p->conn;
  while (auto e = c.session().poll_event()) {
    c.log_event(*e);
    if (const auto *er = std::get_if<Error>(&*e); er && !er->fatal) {
      // A failed call or a warning does not end the publish.
      GST_WARNING_OBJECT(self, "server error: %s %s", er->status_code.c_str(),
                         er->description.c_str());
      continue;
    }
    if (std::holds_alternative<Error>(*e) || std::holds_alternative<Closed>(*e))
      return c.fail_event(*e, "publish " + p->active.stream);
  }
  return Outcome::ok;
}

static bool is_video_config(const FlvTag &t) {
  if (t.type != static_cast<std::uint8_t>(FlvTagType::video) || t.data.size() < 2)
    return false;
  if (t.data[0] & 0x80) // Enhanced RTMP ExVideoTagHeader: PacketType 0 = SequenceStart
    return (t.data[0] & 0x0F) == 0;
  return t.data[1] == 0; // AVCPacketType 0 (also HEVC/AV1 in the legacy-style layout)
}
static bool is_audio_config(const FlvTag &t) {
  if (t.type != static_cast<std::uint8_t>(FlvTagType::audio) || t.data.empty())
    return false;
  if ((t.data[0] >> 4) == 9) // E-RTMP ExAudioTagHeader: AudioPacketType 0 = SequenceStart
    return (t.data[0] & 0x0F) == 0;
  return t.data.size() >= 2 && (t.data[0] >> 4) == 10 && t.data[1] == 0; // AAC, AACPacketType 0
}
// A coded video keyframe (FrameType 1, E.4.3.1; same bits in Enhanced RTMP), not a sequence
// header or end, which carry FrameType 1 too.
static bool is_keyframe(const FlvTag &t) {
  if (t.type != static_cast<std::uint8_t>(FlvTagType::video) || t.data.empty() ||
      ((t.data[0] >> 4) & 0x07) != 1)
    return false;
  if (t.data[0] & 0x80) { // ExVideoTagHeader: PacketType 1 CodedFrames, 3 CodedFramesX
    int type = t.data[0] & 0x0F;
    if (type == 6 && t.data.size() >= 2) // Multitrack: the tracks' PacketType in the next byte
      type = t.data[1] & 0x0F;
    return type == 1 || type == 3;
  }
  const int codec = t.data[0] & 0x0F;
  return (codec != 7 && codec != 12) || (t.data.size() >= 2 && t.data[1] == 1); // AVC NALU
}

// The track id of an E-RTMP Multitrack OneTrack sequence start (ExVideoTagHeader PacketType 6 /
// ExAudioTagHeader AudioPacketType 5, then AvMultitrackType 0 << 4 | PacketType 0, FourCC,
// trackId), or nothing.
static std::optional<std::uint8_t> multitrack_config_track(const FlvTag &t) {
  if (t.data.size() < 7 || (t.data[1] >> 4) != 0 || (t.data[1] & 0x0F) != 0)
    return std::nullopt;
  const bool video = t.type == static_cast<std::uint8_t>(FlvTagType::video) && (t.data[0] & 0x80) &&
                     (t.data[0] & 0x0F) == 6;
  const bool audio = t.type == static_cast<std::uint8_t>(FlvTagType::audio) &&
                     (t.data[0] >> 4) == 9 && (t.data[0] & 0x0F) == 5;
  if (!video && !audio)
    return std::nullopt;
  return t.data[6];
}

static void remember_headers(SinkPrivate *p, const FlvTag &tag) {
  if (tag.type == static_cast<std::uint8_t>(FlvTagType::script) && is_on_metadata(tag.data)) {
    p->last_metadata = tag;
  } else if (is_video_config(tag)) {
    p->last_video_config = tag;
  } else if (is_audio_config(tag)) {
    p->last_audio_config = tag;
  } else if (const auto track = multitrack_config_track(tag)) {
    for (FlvTag &old : p->track_configs)
      if (old.type == tag.type && multitrack_config_track(old) == track) {
        old = tag;
        return;
      }
    if (p->track_configs.size() < 2 * (kMaxTrackId + 1)) // one per track id and kind
      p->track_configs.push_back(tag);
  }
}

// onMetaData fields that upstream tags provide (FLV spec 10.1 E.5 lists the standard keys;
// title/artist/encoder/comment are the de-facto ones FFmpeg and OBS write).
static const struct {
  const char *gst_tag;
  const char *key;
} kMetadataTags[] = {{GST_TAG_TITLE, "title"},
                     {GST_TAG_ARTIST, "artist"},
                     {GST_TAG_ENCODER, "encoder"},
                     {GST_TAG_COMMENT, "comment"},
                     {GST_TAG_COPYRIGHT, "copyright"}};

// onMetaData fields the stream's own headers tell when the publisher left them out: audio rate and
// channels from the AAC AudioSpecificConfig, the codec ids from the tag headers. Only missing
// fields are added; the stream's own values are never replaced.
static void fill_missing_fields(SinkPrivate *p, amf::Properties &props) {
  auto add = [&](const char *key, amf::Value v) {
    for (const auto &kv : props)
      if (kv.first == key)
        return;
    props.emplace_back(key, std::move(v));
  };
  if (p->last_video_config && !p->last_video_config->data.empty()) {
    const Bytes &d = p->last_video_config->data;
    if (!(d[0] & 0x80)) // legacy CodecID (E.4.3.1)
      add("videocodecid", static_cast<double>(d[0] & 0x0F));
    // AVC sequence header (CodecID 7, AVCPacketType 0): the avcC after the 5-byte header.
    if ((d[0] & 0x8F) == 7 && d.size() > 5 && d[1] == 0) {
      if (auto sps = parse_avcc_first_sps(ByteView(d).subspan(5))) {
        add("width", static_cast<double>(sps->width));
        add("height", static_cast<double>(sps->height));
        if (auto fps = sps->framerate())
          add("framerate", *fps);
      }
    } else if (d.size() >= 5) // E-RTMP: the FourCC as a number
      add("videocodecid",
          static_cast<double>(std::uint32_t{d[1]} << 24 | std::uint32_t{d[2]} << 16 |
                              std::uint32_t{d[3]} << 8 | d[4]));
  }
  if (p->last_audio_config && p->last_audio_config->data.size() > 2 &&
      (p->last_audio_config->data[0] >> 4) == 10) { // AAC: AudioSpecificConfig after 2 bytes
    const Bytes &d = p->last_audio_config->data;
    const auto len = static_cast<guint>(d.size() - 2);
    add("audiocodecid", 10.0);
    if (const guint rate = gst_codec_utils_aac_get_sample_rate(d.data() + 2, len))
      add("audiosamplerate", static_cast<double>(rate));
    if (const guint channels = gst_codec_utils_aac_get_channels(d.data() + 2, len))
      add("stereo", channels >= 2);
  }
}

// Returns the onMetaData script payload `data` (or a new one when empty) with the upstream tags
// set in it and the fields the stream's headers tell filled in (fill_missing_fields); `data`
// unchanged when there is nothing to add or it cannot be decoded.
static Bytes merge_tags_into_metadata(SinkPrivate *p, ByteView data) {
  if ((!p->taglist || gst_tag_list_is_empty(p->taglist)) && !p->last_video_config &&
      !p->last_audio_config)
    return Bytes(data.begin(), data.end());
  DataMessage d{std::string(handler::on_meta_data), {amf::make_ecma_array({})}};
  if (!data.empty()) {
    Message m;
    m.type = static_cast<std::uint8_t>(MessageType::data_amf0);
    m.payload.assign(data.begin(), data.end());
    auto decoded = decode_data(m);
    if (!decoded || decoded->values.empty() || !decoded->values[0].properties())
      return Bytes(data.begin(), data.end());
    d = std::move(*decoded);
  }
  amf::Properties &props = *d.values[0].properties();
  auto set = [&](const char *key, amf::Value v) {
    for (auto &[k, old] : props)
      if (k == key) {
        old = std::move(v);
        return;
      }
    props.emplace_back(key, std::move(v));
  };
  for (const auto &t : kMetadataTags) {
    gchar *value = nullptr;
    if (p->taglist && gst_tag_list_get_string(p->taglist, t.gst_tag, &value)) {
      set(t.key, std::string(value));
      g_free(value);
    }
  }
  guint bitrate = 0;
  if (p->taglist && gst_tag_list_get_uint(p->taglist, GST_TAG_BITRATE, &bitrate) && bitrate > 0)
    set("bitrate", static_cast<double>(bitrate) / 1000.0);
  fill_missing_fields(p, props);
  return encode_data(d, 0, 0).payload;
}

static Outcome send_tag(GstRtmpSink *self, FlvTag &tag) {
  SinkPrivate *p = self->priv;
  remember_headers(p, tag);
  ClientSession &s = p->conn->session();
  std::error_code ec;
  p->last_timestamp = tag.timestamp;
  const bool metadata =
      tag.type == static_cast<std::uint8_t>(FlvTagType::script) && is_on_metadata(tag.data);
  if (metadata) {
    // Publishers send onMetaData wrapped in @setDataFrame so that the server keeps it for
    // players that join later (what FFmpeg, OBS and rtmp2sink do).
    p->merged_metadata_sent = merge_tags_into_metadata(p, tag.data);
    ec = s.send_media(p->conn->stream_id(), MessageType::data_amf0, tag.timestamp,
                      prepend_set_data_frame(p->merged_metadata_sent));
  } else {
    ec = s.send_media(p->conn->stream_id(), static_cast<MessageType>(tag.type), tag.timestamp,
                      tag.data);
  }
  if (ec) {
    GST_WARNING_OBJECT(self, "could not send tag: %s", ec.message().c_str());
    return p->conn->fail_event(Error{ec, "could not send media", "", true},
                               "publish " + p->active.stream);
  }
  // A sequence header after an onMetaData that lacked what it tells (an FLV file's onMetaData
  // without audiosamplerate...): the completed onMetaData follows it.
  if (!metadata && p->last_metadata && (is_video_config(tag) || is_audio_config(tag)) &&
      merge_tags_into_metadata(p, p->last_metadata->data) != p->merged_metadata_sent) {
    FlvTag update = *p->last_metadata;
    update.timestamp = tag.timestamp;
    return send_tag(self, update);
  }
  return Outcome::ok;
}

// Parses `data` as (part of) an FLV byte stream into p->tags.
static Outcome parse_flv_bytes(GstRtmpSink *self, ByteView data) {
  SinkPrivate *p = self->priv;
  p->tags.clear();
  const std::error_code ec = p->reader.read(data, p->tags);
  if (ec)
    return p->conn->fail_with(report_from_rtmp(
        ec, "the input is not a valid FLV stream", "",
        "after FLV tag " + std::to_string(p->reader.tags_read()), Direction::write));
  return Outcome::ok;
}

// Sends tags[from..]; on failure `sent` tells how many went to the session.
static Outcome send_tags(GstRtmpSink *self, std::vector<FlvTag> &tags, std::size_t &sent) {
  for (sent = 0; sent < tags.size(); ++sent) {
    if (Outcome o = send_tag(self, tags[sent]); o != Outcome::ok)
      return o;
  }
  return Outcome::ok;
}

static Outcome send_flv_bytes(GstRtmpSink *self, ByteView data) {
  SinkPrivate *p = self->priv;
  if (Outcome o = parse_flv_bytes(self, data); o != Outcome::ok)
    return o;
  std::size_t sent = 0;
  return send_tags(self, p->tags, sent);
}

static Outcome connect_and_publish(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  p->active = p->state.snapshot();
  if (p->active.location_error)
    return p->conn->fail_with(*p->active.location_error);
  if (p->active.stream.empty())
    return p->conn->fail_with(
        report_settings("no stream name to publish", "set location or the stream property"));
  ClientConnection &c = *p->conn;
  if (Outcome o = c.open(p->active); o != Outcome::ok)
    return o;
  const std::uint32_t sid = c.stream_id();
  const std::string context = "publish " + p->active.stream;
  if (auto ec = c.session().publish(sid, p->active.stream, "live", net::now_millis()))
    return c.fail_event(Error{ec, "could not send publish", "", true}, context);
  Outcome o = c.wait(
      [&](Event &e) {
        auto *ps = std::get_if<PublishStarted>(&e);
        return ps && ps->stream_id == sid;
      },
      -1, context);
  if (o != Outcome::ok)
    return o;
  GST_INFO_OBJECT(self, "publishing %s on stream %u", p->active.location().c_str(), sid);
  p->publishing = true;
  p->reader.reset();
  p->state.refresh_stats(p->conn.get());
  return Outcome::ok;
}

// ---- reconnection ---------------------------------------------------------------------------

static void post_reconnect_message(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  GstStructure *st = gst_structure_new("rtmp-reconnect", "attempt", G_TYPE_UINT, p->attempt,
                                       "delay-ms", G_TYPE_UINT, p->delay_ms, "reason",
                                       G_TYPE_STRING, p->lost_reason.c_str(), nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), st));
}

// Keeps `tag` for the next publish; beyond max-queue-bytes the oldest tags are dropped (and
// counted in stats): a live encoder must not make us buffer without bound while a server is
// down.
static void enqueue(SinkPrivate *p, FlvTag &&tag) {
  remember_headers(p, tag);
  p->backlog_bytes += tag.data.size();
  p->backlog.push_back(std::move(tag));
  std::uint64_t dropped = 0;
  while (p->backlog_bytes > p->active.max_queue_bytes && !p->backlog.empty()) {
    p->backlog_bytes -= p->backlog.front().data.size();
    dropped += p->backlog.front().data.size();
    p->backlog.pop_front();
  }
  if (dropped)
    p->state.add_dropped(dropped);
}

// The connection failed while publishing. Without reconnect=true this is the element error;
// with it, tags not sent are kept and the next render() tries to reconnect after the delay.
static GstFlowReturn connection_lost(GstRtmpSink *self, Outcome o, std::vector<FlvTag> unsent) {
  SinkPrivate *p = self->priv;
  if (o == Outcome::cancelled || !p->active.reconnect)
    return flow_from(self, o);
  p->lost_reason = p->conn->error().text;
  GST_WARNING_OBJECT(self, "connection lost (%s): reconnecting", p->lost_reason.c_str());
  p->conn->close();
  p->publishing = false;
  p->reconnecting = true;
  p->attempt = 1;
  p->delay_ms = p->active.reconnect_delay_ms;
  p->next_attempt_us = net::monotonic_us() + static_cast<std::int64_t>(p->delay_ms) * 1000;
  p->state.add_reconnect();
  post_reconnect_message(self);
  for (FlvTag &t : unsent)
    enqueue(p, std::move(t));
  return GST_FLOW_OK;
}

// One reconnection attempt when its time has come: connect, publish, resend metadata and
// sequence headers, then the backlog from its first keyframe on (a decoder cannot start in
// the middle of a GOP; audio before that keyframe is dropped with it so that both resume
// together).
static GstFlowReturn try_reconnect(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  if (net::monotonic_us() < p->next_attempt_us)
    return GST_FLOW_OK;
  Outcome o = connect_and_publish(self);
  if (o == Outcome::cancelled)
    return GST_FLOW_FLUSHING;
  if (o != Outcome::ok) {
    p->conn->close();
    p->lost_reason = p->conn->error().text;
    p->delay_ms = std::min(std::max(p->delay_ms, 1u) * 2, p->active.max_reconnect_delay_ms);
    p->next_attempt_us = net::monotonic_us() + static_cast<std::int64_t>(p->delay_ms) * 1000;
    ++p->attempt;
    GST_INFO_OBJECT(self, "reconnect attempt failed (%s), next in %u ms", p->lost_reason.c_str(),
                    p->delay_ms);
    post_reconnect_message(self);
    return GST_FLOW_OK;
  }
  GST_INFO_OBJECT(self, "reconnected after %u attempt(s)", p->attempt);
  p->reconnecting = false;
  std::vector<FlvTag> resend;
  for (auto *t : {&p->last_metadata, &p->last_video_config, &p->last_audio_config})
    if (*t)
      resend.push_back(**t);
  resend.insert(resend.end(), p->track_configs.begin(), p->track_configs.end());
  const bool has_video =
      p->last_video_config || std::any_of(p->backlog.begin(), p->backlog.end(),
                                          [](const FlvTag &t) { return t.type == 9; });
  std::uint64_t dropped = 0;
  bool started = !has_video;
  for (FlvTag &t : p->backlog) {
    started = started || is_keyframe(t);
    if (started)
      resend.push_back(std::move(t));
    else
      dropped += t.data.size();
  }
  p->backlog.clear();
  p->backlog_bytes = 0;
  if (dropped)
    p->state.add_dropped(dropped);
  // No keyframe in the backlog (a short outage): what follows waits for one too.
  p->await_keyframe = !started;
  std::size_t sent = 0;
  if (Outcome so = send_tags(self, resend, sent); so != Outcome::ok)
    return connection_lost(self, so, {});
  return GST_FLOW_OK;
}

// peak-kbps: waits (still reading and answering the server) until the bytes of `tags` fit the
// configured bitrate since the previous wait. A server or link that cannot take a burst (a
// keyframe after a long GOP) sees at most peak-kbps.
static net::Drive pace(GstRtmpSink *self, const std::vector<FlvTag> &tags) {
  SinkPrivate *p = self->priv;
  g_mutex_lock(&p->state.lock);
  const guint kbps = p->state.settings.peak_kbps; // changeable while playing
  g_mutex_unlock(&p->state.lock);
  if (kbps == 0)
    return net::Drive::ok;
  std::uint64_t bytes = 0;
  for (const FlvTag &t : tags)
    bytes += t.data.size();
  const std::int64_t now = net::monotonic_us();
  // bytes * 8 bits / (kbps * 1000 bit/s), in microseconds.
  p->paced_until_us =
      std::max(p->paced_until_us, now) + static_cast<std::int64_t>(bytes * 8000 / kbps);
  if (p->paced_until_us <= now)
    return net::Drive::ok;
  GError *err = nullptr;
  const net::Drive d = p->conn->driver().idle_until(p->paced_until_us, &err);
  g_clear_error(&err);
  return d;
}

// After a reconnection whose backlog had no keyframe: audio and video up to the next video
// keyframe are dropped (counted in stats), as for the backlog; metadata and sequence headers pass.
static void drop_until_keyframe(SinkPrivate *p, std::vector<FlvTag> &tags) {
  if (!p->await_keyframe)
    return;
  std::uint64_t dropped = 0;
  std::erase_if(tags, [&](const FlvTag &t) {
    if (!p->await_keyframe || t.type == static_cast<std::uint8_t>(FlvTagType::script) ||
        is_video_config(t) || is_audio_config(t))
      return false;
    if (is_keyframe(t)) {
      p->await_keyframe = false;
      return false;
    }
    dropped += t.data.size();
    return true;
  });
  if (dropped)
    p->state.add_dropped(dropped);
}

// async-connect: waits for the connect thread before the streaming thread uses the connection.
// FALSE when it failed (it posted the error); after a cancellation (a flush while connecting)
// the next render() connects again.
static bool settle_async_connect(SinkPrivate *p) {
  const std::optional<Outcome> o = p->async.join();
  return !o || *o != Outcome::failed;
}

// chunk-size changed while publishing: Set Chunk Size goes out at once, between two messages
// (RTMP 1.0 section 5.4.1), and what follows is chunked with the new size.
static void apply_chunk_size(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  g_mutex_lock(&p->state.lock);
  const guint size = p->state.settings.chunk_size;
  g_mutex_unlock(&p->state.lock);
  if (size == p->active.chunk_size)
    return;
  GST_INFO_OBJECT(self, "chunk size %u -> %u", p->active.chunk_size, size);
  const bool shrinking = size < p->active.chunk_size;
  if (p->conn->session().set_chunk_size(size))
    return;
  p->active.chunk_size = size;
  if (!shrinking)
    return;
  // nginx-rtmp 1.2 resizes its input buffer to a smaller chunk size and loses what it had
  // already read behind the Set Chunk Size ("RTMP in chunk stream too big", connection dropped):
  // let the message reach it before the smaller chunks follow. Errors show in the next send.
  GError *err = nullptr;
  const std::int64_t now = net::monotonic_us();
  if (p->conn->driver().flush(0, now + kChunkShrinkPauseUs, &err) == net::Drive::ok)
    (void)p->conn->driver().idle_until(net::monotonic_us() + kChunkShrinkPauseUs, &err);
  g_clear_error(&err);
}

// Sends `tags` (or queues them while reconnecting), then waits for the socket to take them
// (back-pressure, peak-kbps) and handles what the server said meanwhile. Shared by the FLV pad
// and the request pads.
static GstFlowReturn send_or_queue(GstRtmpSink *self, std::vector<FlvTag> &tags) {
  SinkPrivate *p = self->priv;
  if (p->reconnecting) {
    for (FlvTag &t : tags)
      enqueue(p, std::move(t));
    return try_reconnect(self);
  }

  drop_until_keyframe(p, tags);
  apply_chunk_size(self);
  std::size_t sent = 0;
  if (Outcome o = send_tags(self, tags, sent); o != Outcome::ok)
    return connection_lost(self, o,
                           std::vector<FlvTag>(std::make_move_iterator(tags.begin() + sent),
                                               std::make_move_iterator(tags.end())));

  GError *err = nullptr;
  net::Drive d = p->conn->driver().flush(kMaxUnsentBytes, -1, &err);
  if (d != net::Drive::ok && d != net::Drive::closed)
    return connection_lost(self, p->conn->fail_drive(d, err, "send"), {});
  g_clear_error(&err);
  if (d == net::Drive::ok) {
    d = pace(self, tags);
    if (d != net::Drive::ok && d != net::Drive::closed)
      return connection_lost(self, p->conn->fail_drive(d, err, "send"), {});
    g_clear_error(&err);
  }
  const Outcome o = drain_events(self);
  p->state.refresh_stats(p->conn.get());
  if (o != Outcome::ok)
    return connection_lost(self, o, {});
  return GST_FLOW_OK;
}

static GstFlowReturn gst_rtmp_sink_render(GstBaseSink *sink, GstBuffer *buffer) {
  auto *self = GST_RTMP_SINK(sink);
  SinkPrivate *p = self->priv;

  if (!settle_async_connect(p))
    return GST_FLOW_ERROR;
  if (!p->publishing && !p->reconnecting) {
    // The first connection: failing it is an error even with reconnect=true (the settings
    // are more likely wrong than the server down).
    if (GstFlowReturn r = flow_from(self, connect_and_publish(self)); r != GST_FLOW_OK)
      return r;
  }
  if (!p->streamheader_sent) {
    p->streamheader_sent = true;
    p->sent_streamheader = p->streamheader;
    for (const Bytes &h : p->streamheader)
      if (GstFlowReturn r = flow_from(self, send_flv_bytes(self, h)); r != GST_FLOW_OK)
        return r;
  }

  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, RESOURCE, READ, ("could not map the input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  // A header buffer that repeats a streamheader entry already sent would duplicate metadata
  // and sequence headers; one that is not in it must go out.
  if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_HEADER) &&
      std::any_of(p->sent_streamheader.begin(), p->sent_streamheader.end(), [&](const Bytes &h) {
        return h.size() == map.size && std::equal(h.begin(), h.end(), map.data);
      })) {
    gst_buffer_unmap(buffer, &map);
    return GST_FLOW_OK;
  }
  Outcome o = parse_flv_bytes(self, ByteView(map.data, map.size));
  gst_buffer_unmap(buffer, &map);
  if (o != Outcome::ok)
    return flow_from(self, o);

  return send_or_queue(self, p->tags);
}

// EOS: stop-commands, then wait (briefly) until the server confirmed or at least received
// them, so that it sees a clean unpublish rather than a dropped connection.
static void send_stop_commands(GstRtmpSink *self) {
  SinkPrivate *p = self->priv;
  if (!p->publishing || !p->conn || !p->conn->is_open())
    return;
  ClientSession &s = p->conn->session();
  const std::uint32_t sid = p->conn->stream_id();
  const guint flags = p->active.stop_commands;
  if (flags & STOP_FCUNPUBLISH)
    (void)s.unpublish(sid, p->active.stream);
  if (flags & STOP_CLOSESTREAM)
    (void)s.close_stream(sid);
  if (flags & STOP_DELETESTREAM)
    (void)s.delete_stream(sid);
  p->publishing = false;

  const std::int64_t timeout_us =
      static_cast<std::int64_t>(p->active.timeout == 0 ? 5 : p->active.timeout) * G_USEC_PER_SEC;
  GError *err = nullptr;
  net::Drive d = p->conn->driver().flush(0, net::monotonic_us() + timeout_us, &err);
  g_clear_error(&err);
  if (d != net::Drive::ok) {
    GST_WARNING_OBJECT(self, "could not send all data before EOS");
    return;
  }
  if (flags == STOP_NONE)
    return;
  (void)p->conn->wait(
      [&](Event &e) {
        if (std::holds_alternative<Unpublished>(e))
          return true;
        auto *st = std::get_if<Status>(&e);
        return st && st->info.code == status::unpublish_success;
      },
      net::monotonic_us() + kUnpublishWaitUs, "unpublish");
  p->state.refresh_stats(p->conn.get());
}

// Tags from upstream: remembered for every onMetaData we send, and sent at once as an updated
// onMetaData when we are publishing.
static void handle_tags(GstRtmpSink *self, GstEvent *event) {
  SinkPrivate *p = self->priv;
  GstTagList *tl = nullptr;
  gst_event_parse_tag(event, &tl);
  if (!tl)
    return;
  if (!p->taglist)
    p->taglist = gst_tag_list_new_empty();
  gst_tag_list_insert(p->taglist, tl, GST_TAG_MERGE_REPLACE);
  // Before the first buffer (async-connect may have published already) the tags go into the
  // stream's own onMetaData.
  if (!p->publishing || !p->streamheader_sent || !p->conn || !p->conn->is_open())
    return;
  FlvTag meta;
  meta.type = static_cast<std::uint8_t>(FlvTagType::script);
  meta.timestamp = p->last_timestamp;
  meta.data =
      merge_tags_into_metadata(p, p->last_metadata ? ByteView(p->last_metadata->data) : ByteView());
  GST_DEBUG_OBJECT(self, "sending onMetaData updated from tags");
  if (send_tag(self, meta) != Outcome::ok)
    return;
  // Failures surface in the next render().
  GError *err = nullptr;
  (void)p->conn->driver().flush(kMaxUnsentBytes, -1, &err);
  g_clear_error(&err);
}

static gboolean gst_rtmp_sink_event(GstBaseSink *sink, GstEvent *event) {
  auto *self = GST_RTMP_SINK(sink);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS || GST_EVENT_TYPE(event) == GST_EVENT_TAG)
    (void)settle_async_connect(self->priv);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS)
    send_stop_commands(self);
  else if (GST_EVENT_TYPE(event) == GST_EVENT_TAG)
    handle_tags(self, event);
  return GST_BASE_SINK_CLASS(gst_rtmp_sink_parent_class)->event(sink, event);
}

static gboolean gst_rtmp_sink_set_caps(GstBaseSink *sink, GstCaps *caps) {
  auto *self = GST_RTMP_SINK(sink);
  SinkPrivate *p = self->priv;
  GST_DEBUG_OBJECT(self, "caps %" GST_PTR_FORMAT, static_cast<void *>(caps));
  const GstStructure *st = gst_caps_get_structure(caps, 0);
  const GValue *sh = st ? gst_structure_get_value(st, "streamheader") : nullptr;
  std::vector<Bytes> headers;
  if (sh && GST_VALUE_HOLDS_ARRAY(sh)) {
    for (guint i = 0; i < gst_value_array_get_size(sh); ++i) {
      const GValue *v = gst_value_array_get_value(sh, i);
      if (!GST_VALUE_HOLDS_BUFFER(v))
        continue;
      GstBuffer *b = gst_value_get_buffer(v);
      GstMapInfo map;
      if (gst_buffer_map(b, &map, GST_MAP_READ)) {
        headers.emplace_back(map.data, map.data + map.size);
        gst_buffer_unmap(b, &map);
      }
    }
  }
  // The sequence headers flvmux puts in the streamheader are known before its onMetaData is
  // sent, so that one is completed at once (fill_missing_fields) rather than sent twice.
  FlvReader header_reader;
  std::vector<FlvTag> header_tags;
  for (const Bytes &h : headers)
    if (header_reader.read(h, header_tags))
      break;
  for (const FlvTag &t : header_tags)
    if (is_video_config(t) || is_audio_config(t))
      remember_headers(p, t);
  // A streamheader that changes after we started is not re-sent in the middle of the stream
  // (the in-band copies flvmux pushes carry the change); it is kept for the next publish.
  p->streamheader = std::move(headers);
  return TRUE;
}

// ---- request pads video_%u / audio_%u: sink_request_pads.h does the work; this is
// the sink's side of it (RequestPadsHost), the same connection path as the FLV pad.

static EnhancedMode enhanced_mode(SinkPrivate *p) {
  g_mutex_lock(&p->state.lock);
  const EnhancedMode m = p->enhanced;
  g_mutex_unlock(&p->state.lock);
  return m;
}

namespace {

class SinkHost final : public RequestPadsHost {
public:
  explicit SinkHost(GstRtmpSink *self) : self_(self) {}
  // A background connect (async-connect, for request pads added after start()) is finished
  // before they look at the connection.
  bool connected() override {
    (void)settle_async_connect(p());
    return p()->publishing || p()->reconnecting;
  }
  bool publishing() override { return p()->publishing; }
  GstFlowReturn connect(const EnhancedCapabilities &caps) override {
    if (!settle_async_connect(p())) // it failed and posted the error
      return GST_FLOW_ERROR;
    p()->conn->set_enhanced_capabilities(caps);
    return flow_from(self_, connect_and_publish(self_));
  }
  GstFlowReturn send(std::vector<FlvTag> &tags) override { return send_or_queue(self_, tags); }
  std::uint32_t last_timestamp() override { return p()->last_timestamp; }
  void finish() override { send_stop_commands(self_); }
  void cancel(bool cancelled) override {
    if (!p()->conn)
      return;
    if (cancelled)
      p()->conn->driver().cancel();
    else
      p()->conn->driver().reset_cancel();
  }
  EnhancedMode enhanced_mode() override { return ::enhanced_mode(p()); }

private:
  SinkPrivate *p() { return self_->priv; }
  GstRtmpSink *self_;
};

} // namespace

static GstPad *gst_rtmp_sink_request_new_pad(GstElement *element, GstPadTemplate *templ,
                                             const gchar *name, const GstCaps *) {
  if (gst_pad_is_linked(GST_BASE_SINK_PAD(element))) {
    GST_ELEMENT_ERROR(element, CORE, PAD, ("the sink pad and request pads cannot be used together"),
                      ("the video/x-flv sink pad is linked; use flvmux or the request pads"));
    return nullptr;
  }
  return PRIV(element)->request_pads->request(templ, name);
}

static void gst_rtmp_sink_release_pad(GstElement *element, GstPad *pad) {
  PRIV(element)->request_pads->release(pad);
}

// Whether request pads exist, without the request pads' lock (held by a streaming thread while it
// waits for the clock or the server): the `sink` pad is the only always pad.
static bool has_request_pads(GstElement *element) {
  GST_OBJECT_LOCK(element);
  const bool any = element->numsinkpads > 1;
  GST_OBJECT_UNLOCK(element);
  return any;
}

// With request pads, the pipeline's LATENCY query and event are theirs (GstBaseSink would ask and
// tell the unlinked `sink` pad only).
static gboolean gst_rtmp_sink_query(GstElement *element, GstQuery *query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY && has_request_pads(element)) {
    PRIV(element)->request_pads->query_latency(query);
    return TRUE;
  }
  return GST_ELEMENT_CLASS(gst_rtmp_sink_parent_class)->query(element, query);
}

static gboolean gst_rtmp_sink_send_event(GstElement *element, GstEvent *event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_LATENCY && has_request_pads(element))
    return PRIV(element)->request_pads->set_latency(event);
  return GST_ELEMENT_CLASS(gst_rtmp_sink_parent_class)->send_event(element, event);
}

// The FLV pad cannot be linked once request pads exist (and request pads are refused while it is
// linked): the two ways of feeding the sink would interleave nonsense.
static GstPadLinkReturn sink_pad_link(GstPad *pad, GstObject *parent, GstPad *) {
  if (!PRIV(parent)->request_pads->empty()) {
    GST_ELEMENT_ERROR(
        parent, CORE, PAD, ("the sink pad and request pads cannot be used together"),
        ("%s: request pads exist; use them or flvmux into the sink pad", GST_PAD_NAME(pad)));
    return GST_PAD_LINK_REFUSED;
  }
  return GST_PAD_LINK_OK;
}

static gboolean gst_rtmp_sink_start(GstBaseSink *sink) {
  auto *self = GST_RTMP_SINK(sink);
  SinkPrivate *p = self->priv;
  p->conn = std::make_unique<ClientConnection>(GST_ELEMENT(self), Role::sink);
  p->publishing = false;
  p->streamheader_sent = false;
  p->sent_streamheader.clear();
  p->reader.reset();
  p->reconnecting = false;
  p->backlog.clear();
  p->backlog_bytes = 0;
  p->await_keyframe = false;
  p->last_metadata.reset();
  p->last_video_config.reset();
  p->last_audio_config.reset();
  p->track_configs.clear();
  p->last_timestamp = 0;
  p->merged_metadata_sent.clear();
  p->paced_until_us = 0;
  if (p->taglist)
    gst_tag_list_unref(p->taglist);
  p->taglist = nullptr;
  p->request_pads->reset();
  // With request pads the connect waits for every pad's caps instead: the connect command
  // announces their codecs (sink_request_pads.h).
  if (p->state.snapshot().async_connect && p->request_pads->empty()) {
    GST_INFO_OBJECT(self, "connecting in the background (async-connect)");
    p->async.start(p->conn.get(), [self] { return connect_and_publish(self); });
  }
  return TRUE;
}

// GstBaseSink calls start() in NULL->READY: a refused location fails that change before it.
static GstStateChangeReturn gst_rtmp_sink_change_state(GstElement *element,
                                                       GstStateChange transition) {
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    const ClientSettings settings = PRIV(element)->state.snapshot();
    if (post_refused_location(element, settings))
      return GST_STATE_CHANGE_FAILURE;
    post_unhonoured_options(element, settings, Role::sink);
  }
  return GST_ELEMENT_CLASS(gst_rtmp_sink_parent_class)->change_state(element, transition);
}

static gboolean gst_rtmp_sink_stop(GstBaseSink *sink) {
  SinkPrivate *p = PRIV(sink);
  stop_connection(p->conn, p->async, p->state);
  p->publishing = false;
  return TRUE;
}

static gboolean gst_rtmp_sink_unlock(GstBaseSink *sink) {
  SinkPrivate *p = PRIV(sink);
  unlock_connection(p->conn.get());
  return TRUE;
}

static gboolean gst_rtmp_sink_unlock_stop(GstBaseSink *sink) {
  SinkPrivate *p = PRIV(sink);
  unlock_stop_connection(p->conn.get());
  return TRUE;
}

// rtmpsink's own property, after the shared client ones.
constexpr guint PROP_ENHANCED = PROP_LAST + 1;

static void gst_rtmp_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                       GParamSpec *pspec) {
  SinkPrivate *p = PRIV(object);
  if (prop_id == PROP_ENHANCED) {
    g_mutex_lock(&p->state.lock);
    p->enhanced = static_cast<EnhancedMode>(g_value_get_enum(value));
    g_mutex_unlock(&p->state.lock);
    return;
  }
  p->state.set_property(object, prop_id, value, pspec);
}

static void gst_rtmp_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                       GParamSpec *pspec) {
  SinkPrivate *p = PRIV(object);
  if (prop_id == PROP_ENHANCED) {
    g_value_set_enum(value, static_cast<gint>(enhanced_mode(p)));
    return;
  }
  p->state.get_property(object, prop_id, value, pspec);
}

static void gst_rtmp_sink_finalize(GObject *object) {
  if (PRIV(object)->taglist)
    gst_tag_list_unref(PRIV(object)->taglist);
  delete PRIV(object);
  G_OBJECT_CLASS(gst_rtmp_sink_parent_class)->finalize(object);
}

static void gst_rtmp_sink_init(GstRtmpSink *self) {
  self->priv = new SinkPrivate();
  self->priv->state.attach(G_OBJECT(self));
  self->priv->host = std::make_unique<SinkHost>(self);
  self->priv->request_pads =
      std::make_unique<SinkRequestPads>(GST_ELEMENT(self), *self->priv->host);
  gst_pad_set_link_function(GST_BASE_SINK_PAD(self), sink_pad_link);
}

static void gst_rtmp_sink_class_init(GstRtmpSinkClass *klass) {
  auto *gobject_class = G_OBJECT_CLASS(klass);
  auto *element_class = GST_ELEMENT_CLASS(klass);
  auto *base_class = GST_BASE_SINK_CLASS(klass);

  gobject_class->set_property = gst_rtmp_sink_set_property;
  gobject_class->get_property = gst_rtmp_sink_get_property;
  gobject_class->finalize = gst_rtmp_sink_finalize;
  install_client_properties(gobject_class, Role::sink);

  g_object_class_install_property(
      gobject_class, PROP_ENHANCED,
      g_param_spec_enum("enhanced", "Enhanced RTMP",
                        "When the request pads use Enhanced RTMP v2 (FourCC) headers: auto = only "
                        "for codecs and tracks that need them, always = for every codec with a "
                        "FourCC, never = refuse codecs and tracks that need them (default auto)",
                        enhanced_mode_get_type(), static_cast<gint>(EnhancedMode::automatic),
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  SinkRequestPads::add_pad_templates(element_class);
  element_class->request_new_pad = gst_rtmp_sink_request_new_pad;
  element_class->release_pad = gst_rtmp_sink_release_pad;
  element_class->query = gst_rtmp_sink_query;
  element_class->send_event = gst_rtmp_sink_send_event;
  element_class->change_state = gst_rtmp_sink_change_state;
  gst_element_class_set_static_metadata(
      element_class, "RTMP sink", "Sink/Network",
      "Publishes an FLV stream to an RTMP server (rtmp:// and rtmps://)", "gst-rtmp");

  base_class->start = gst_rtmp_sink_start;
  base_class->stop = gst_rtmp_sink_stop;
  base_class->unlock = gst_rtmp_sink_unlock;
  base_class->unlock_stop = gst_rtmp_sink_unlock_stop;
  base_class->render = gst_rtmp_sink_render;
  base_class->set_caps = gst_rtmp_sink_set_caps;
  base_class->event = gst_rtmp_sink_event;

  GST_DEBUG_CATEGORY_INIT(rtmp_sink_debug, "rtmpsink", 0, "RTMP publishing sink");
  GST_DEBUG_CATEGORY_INIT(rtmp_client_debug, "rtmpclient", 0, "RTMP client connection");
}
