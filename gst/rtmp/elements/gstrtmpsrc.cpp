// rtmpsrc: GstPushSrc that plays an RTMP stream and outputs it as an FLV byte stream.
//
// Output: first a buffer with the FLV header (flagged HEADER), then one buffer per RTMP
// audio/video/data message, each a complete FLV tag (FLV spec 10.1 E.4.1), so that flvdemux
// and typefind (playbin) work unchanged. The caps carry a `streamheader` with the FLV header,
// the onMetaData tag and the AVC/AAC sequence headers as soon as they are known, so a
// downstream element that joins later (or a tee branch) can start decoding. That conversion is
// elements/flv_output.h, shared with rtmpserversrc.
//
// Threading: the connection is driven from create() (streaming thread); unlock() cancels it
// from the application thread. `lock` protects `settings`, `stats` and the receive-audio/video
// change flags.
#include "elements/gstrtmpsrc.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/command.hpp"
#include "core/flv.hpp"
#include "elements/client_connection.h"
#include "elements/client_settings.h"
#include "elements/element_error.h"
#include "elements/elementary_output.h"
#include "elements/flv_output.h"
#include "elements/no_data_watch.h"

GST_DEBUG_CATEGORY_STATIC(rtmp_src_debug);
#define GST_CAT_DEFAULT rtmp_src_debug

using namespace rtmp;
using namespace rtmp::gst;

namespace {

struct SrcPrivate {
  // Settings, stats and counters shared with other threads, under their one lock.
  ElementState state;

  // Streaming thread only (and the connect thread of async-connect until it is joined).
  std::unique_ptr<ClientConnection> conn;
  AsyncConnect async;
  ClientSettings active;
  bool playing = false;
  bool header_pushed = false;
  bool eos = false;
  // The FLV byte stream, its streamheader and the onMetaData tags (shared with rtmpserversrc).
  FlvOutput out;
  // output=elementary: the per-track pads (shares out's timeline). `mode` is taken from
  // `output` (under state.lock) in start().
  std::unique_ptr<ElementaryOutput> elementary;
  OutputMode mode = OutputMode::flv;
  OutputMode output = OutputMode::flv; // the property, under state.lock
  bool sent_receive_audio = true, sent_receive_video = true;

  // VOD (a recorded stream). duration_ms and seekable are read by queries from any thread.
  std::atomic<gint64> duration_ms{-1};     // from onMetaData "duration"
  std::atomic<bool> recorded{false};       // Stream Is Recorded (RTMP 1.0 section 7.1.7)
  std::atomic<gint64> pending_seek_ms{-1}; // set by do_seek(), sent by the streaming thread
  // After a seek, until NetStream.Seek.Notify (or this deadline, for a server that never
  // answers): media is stale, and the Stream EOF / Play.Stop a server sends while seeking is
  // not our end. GstBaseSrc may apply one seek twice (once per demuxer pad that forwarded it);
  // nginx-rtmp answers only one of two identical seeks, so a duplicate is not sent.
  std::int64_t seek_wait_until_us = 0;
  gint64 last_seek_ms = -1;
  bool paused_sent = false;
  // After a play2 switch, until the new stream's NetStream.Play.Start (or this deadline): the
  // Play.Stop / Stream EOF of the old stream is not our end.
  std::int64_t switch_wait_until_us = 0;
};

} // namespace

struct _GstRtmpSrc {
  GstPushSrc parent;
  SrcPrivate *priv;
};

G_DEFINE_TYPE_WITH_CODE(GstRtmpSrc, gst_rtmp_src, GST_TYPE_PUSH_SRC,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_URI_HANDLER, uri_handler_init))

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define PRIV(obj) (GST_RTMP_SRC(obj)->priv)

// Turns an Outcome into the flow return, posting the error when there is one.
static GstFlowReturn flow_from(GstRtmpSrc *self, Outcome o) {
  return self->priv->conn->flow(o);
}

// play start as FFmpeg sends it (milliseconds; -2000 live-then-recorded, -1000 live only), which
// nginx-rtmp, SRS and FMS all accept.
static double play_start(gint64 start) {
  if (start == -2)
    return -2000;
  if (start == -1)
    return -1000;
  return static_cast<double>(start);
}

static Outcome connect_and_play(GstRtmpSrc *self) {
  SrcPrivate *p = self->priv;
  g_mutex_lock(&p->state.lock);
  p->active = p->state.settings;
  p->state.receive_changed = false;
  p->state.stream_changed = false;
  g_mutex_unlock(&p->state.lock);
  if (p->active.location_error)
    return p->conn->fail_with(*p->active.location_error);
  if (p->active.stream.empty())
    return p->conn->fail_with(
        report_settings("no stream name to play", "set location or the stream property"));
  ClientConnection &c = *p->conn;
  if (Outcome o = c.open(p->active); o != Outcome::ok)
    return o;
  const std::uint32_t sid = c.stream_id();
  const std::string context = "play " + p->active.stream;
  ClientSession &s = c.session();
  const Millis now = net::now_millis();
  // Set Buffer Length before play, as Flash Player does: some servers size their initial burst
  // from it (RTMP 1.0 section 7.1.7, User Control event 3).
  (void)s.set_buffer_length(sid, p->active.buffer_length_ms);
  if (auto ec = s.play(sid, p->active.stream, play_start(p->active.start), -1, true, now))
    return c.fail_event(Error{ec, "could not send play", "", true}, context);
  p->sent_receive_audio = p->sent_receive_video = true;
  if (!p->active.receive_audio) {
    (void)s.receive_audio(sid, false);
    p->sent_receive_audio = false;
  }
  if (!p->active.receive_video) {
    (void)s.receive_video(sid, false);
    p->sent_receive_video = false;
  }
  Outcome o = c.wait(
      [&](Event &e) {
        auto *ps = std::get_if<PlayStarted>(&e);
        return ps && ps->stream_id == sid;
      },
      -1, context);
  if (o == Outcome::ok) {
    GST_INFO_OBJECT(self, "playing %s on stream %u", p->active.location().c_str(), sid);
    p->playing = true;
  }
  p->state.refresh_stats(p->conn.get());
  return o;
}

// How often a create() that waits for media wakes to send changed receive-audio/receive-video.
static constexpr std::int64_t kCommandPollUs = 100 * 1000;

// receive-audio / receive-video changed while playing: tell the server (RTMP 1.0 section
// 7.2.2.2 and 7.2.2.3).
static void apply_receive_flags(GstRtmpSrc *self) {
  SrcPrivate *p = self->priv;
  g_mutex_lock(&p->state.lock);
  const bool changed = p->state.receive_changed;
  const bool audio = p->state.settings.receive_audio, video = p->state.settings.receive_video;
  p->state.receive_changed = false;
  g_mutex_unlock(&p->state.lock);
  if (!changed)
    return;
  const std::uint32_t sid = p->conn->stream_id();
  if (audio != p->sent_receive_audio)
    (void)p->conn->session().receive_audio(sid, audio);
  if (video != p->sent_receive_video)
    (void)p->conn->session().receive_video(sid, video);
  p->sent_receive_audio = audio;
  p->sent_receive_video = video;
}

// `stream` (or a location naming another stream of the same server and application) changed
// while playing: switch to it on the same connection and message stream with play2 (RTMP's
// NetStreamPlayOptions: transition "switch", as Flash's NetStream.play2 sends it; nginx-rtmp
// closes the old stream and plays the new one; FMS/Wowza switch at a keyframe). A change of
// host, port, scheme or application applies to the next connection only.
static void apply_stream_switch(GstRtmpSrc *self) {
  SrcPrivate *p = self->priv;
  g_mutex_lock(&p->state.lock);
  const bool changed = p->state.stream_changed;
  p->state.stream_changed = false;
  const ClientSettings &now = p->state.settings;
  const bool same_server = now.scheme == p->active.scheme && now.host == p->active.host &&
                           now.port == p->active.port && now.application == p->active.application;
  const std::string stream = now.stream;
  const gint64 start = now.start;
  g_mutex_unlock(&p->state.lock);
  if (!changed || stream == p->active.stream || stream.empty())
    return;
  if (!same_server) {
    GST_WARNING_OBJECT(self, "the server or application changed while playing: it applies to the "
                             "next connection (only the stream can switch with play2)");
    return;
  }
  amf::Value options = amf::make_object({{"streamName", stream},
                                         {"oldStreamName", p->active.stream},
                                         {"start", play_start(start)},
                                         {"len", -1.0},
                                         {"transition", std::string("switch")}});
  if (auto ec = p->conn->session().play2(p->conn->stream_id(), std::move(options))) {
    GST_WARNING_OBJECT(self, "could not send play2: %s", ec.message().c_str());
    return;
  }
  GST_INFO_OBJECT(self, "switching from %s to %s (play2)", p->active.stream.c_str(),
                  stream.c_str());
  p->active.stream = stream;
  const guint wait_s = p->active.timeout ? p->active.timeout : kDefaultTimeoutSeconds;
  p->switch_wait_until_us =
      net::monotonic_us() + static_cast<std::int64_t>(wait_s) * G_USEC_PER_SEC;
}

static bool switching(const SrcPrivate *p) {
  return p->switch_wait_until_us != 0 && net::monotonic_us() < p->switch_wait_until_us;
}

static bool seeking(const SrcPrivate *p) {
  return p->seek_wait_until_us != 0 && net::monotonic_us() < p->seek_wait_until_us;
}

static GstFlowReturn end_of_stream(GstRtmpSrc *self, const char *why, bool expected) {
  SrcPrivate *p = self->priv;
  GST_INFO_OBJECT(self, "end of stream: %s", why);
  p->eos = true;
  if (!expected && p->active.no_eof_is_error)
    return flow_from(self, p->conn->fail_event(Closed{why}, "play " + p->active.stream));
  return GST_FLOW_EOS;
}

// Nothing arrived for the no-data limit. librtmp's `timeout` ends the stream as librtmp's failed
// read did, with EOS (so that a recording is finalised), or an error with no-eof-is-error like a
// connection closed without EOF; rtmp2's `idle-timeout` is an error, as in rtmp2src.
static GstFlowReturn no_data(GstRtmpSrc *self, const NoDataLimit &limit,
                             const std::string &context) {
  SrcPrivate *p = self->priv;
  const bool bytes = limit.rule == NoDataRule::bytes;
  const std::string why = "no data for " + std::to_string(limit.seconds) + " s (" +
                          (bytes ? "timeout" : "idle-timeout") + ")";
  if (bytes && !p->active.no_eof_is_error) {
    GST_WARNING_OBJECT(self, "%s: end of stream", why.c_str());
    p->eos = true;
    return GST_FLOW_EOS;
  }
  return flow_from(self, p->conn->fail_with(report_from_rtmp(make_error_code(Errc::timeout), why,
                                                             "", context, Direction::read)));
}

// output=elementary: one message to the track pads. onMetaData's duration is the duration of a
// recorded stream, as in flv mode.
static GstFlowReturn push_elementary(GstRtmpSrc *self, const Message &msg) {
  SrcPrivate *p = self->priv;
  const GstFlowReturn r = p->elementary->push_message(msg);
  if (const std::int64_t d = p->elementary->duration_ms(); d > 0 && d != p->duration_ms) {
    p->duration_ms = d;
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_duration_changed(GST_OBJECT(self)));
  }
  return r;
}

static GstFlowReturn create_buffer(GstRtmpSrc *self, GstBuffer **outbuf);

// In output=elementary mode create() pushes on the track pads itself and returns only to stop
// the streaming thread (flushing, EOS, error): the always `src` pad gets no buffer.
static GstFlowReturn gst_rtmp_src_create(GstPushSrc *psrc, GstBuffer **outbuf) {
  auto *self = GST_RTMP_SRC(psrc);
  SrcPrivate *p = self->priv;
  const GstFlowReturn r = create_buffer(self, outbuf);
  return p->mode == OutputMode::elementary ? p->elementary->finish(r) : r;
}

static GstFlowReturn create_buffer(GstRtmpSrc *self, GstBuffer **outbuf) {
  SrcPrivate *p = self->priv;
  if (p->eos)
    return GST_FLOW_EOS;
  const bool elementary = p->mode == OutputMode::elementary;

  if (!p->header_pushed && !elementary) {
    // The FLV header goes out before we even connect: typefind sees FLV at once, and basesrc
    // pushes the segment, so that tag events can follow.
    p->header_pushed = true;
    *outbuf = p->out.header_buffer();
    return GST_FLOW_OK;
  }
  // async-connect: the connect thread posted its failure already; after a cancellation (a
  // flush while connecting) we connect again here.
  if (std::optional<Outcome> o = p->async.join(); o && *o == Outcome::failed)
    return GST_FLOW_ERROR;
  if (!p->playing) {
    if (GstFlowReturn r = flow_from(self, connect_and_play(self)); r != GST_FLOW_OK)
      return r;
  }

  // Tags wait until flvdemux has pads: a tag event that reaches it before its first
  // audio/video tag has nowhere to go and is dropped.
  if (GstTagList *tags = p->out.take_ready_tags()) {
    guint64 duration = 0;
    if (gst_tag_list_get_uint64(tags, GST_TAG_DURATION, &duration) && duration > 0) {
      p->duration_ms = static_cast<gint64>(duration / GST_MSECOND);
      gst_element_post_message(GST_ELEMENT(self),
                               gst_message_new_duration_changed(GST_OBJECT(self)));
    }
    gst_pad_push_event(GST_BASE_SRC_PAD(self), gst_event_new_tag(tags));
  }

  ClientConnection &c = *p->conn;
  const std::uint32_t sid = c.stream_id();
  const std::string context = "play " + p->active.stream;
  if (const gint64 seek_ms = p->pending_seek_ms.exchange(-1); seek_ms >= 0) {
    // RTMP 1.0 section 7.2.2.7: the server answers NetStream.Seek.Notify, then sends media
    // from the nearest keyframe; whatever arrives before that belongs to the old position.
    GST_INFO_OBJECT(self, "seeking to %" G_GINT64_FORMAT " ms", seek_ms);
    const bool duplicate =
        seek_ms == p->last_seek_ms && net::monotonic_us() < p->seek_wait_until_us;
    if (!duplicate && !c.session().seek(sid, static_cast<double>(seek_ms))) {
      p->last_seek_ms = seek_ms;
      const guint wait_s = p->active.timeout ? p->active.timeout : kDefaultTimeoutSeconds;
      p->seek_wait_until_us =
          net::monotonic_us() + static_cast<std::int64_t>(wait_s) * G_USEC_PER_SEC;
    }
  }
  // The no-data limit (no_data_watch.h) counts from the start of this wait for media; the wait
  // itself wakes at least every kCommandPollUs so that receive-audio/receive-video changed while
  // the server sends nothing still reach it promptly.
  NoDataWatch watch(no_data_limit(p->active.idle_timeout_set, p->active.idle_timeout,
                                  p->active.timeout_set, p->active.timeout));
  watch.start(net::monotonic_us(), c.session().stats().bytes_in);
  for (;;) {
    apply_receive_flags(self);
    for (Bytes &spare : p->out.take_spare_storage()) // payloads of buffers freed downstream
      c.session().give_storage(std::move(spare));
    apply_stream_switch(self);
    const std::int64_t poll = net::monotonic_us() + kCommandPollUs;
    const std::int64_t stall = watch.deadline_us();
    const std::int64_t deadline = stall >= 0 ? std::min(stall, poll) : poll;
    Event e;
    GError *err = nullptr;
    const net::Drive d = c.driver().next_event(e, deadline, &err);
    const bool media = d == net::Drive::ok && std::holds_alternative<Media>(e);
    watch.observe(net::monotonic_us(), c.session().stats().bytes_in, media);
    if (d == net::Drive::deadline) {
      if (!watch.expired(net::monotonic_us()))
        continue; // only the command poll, or bytes that made no event yet
      return no_data(self, watch.limit(), context);
    }
    if (d != net::Drive::ok)
      return flow_from(self, c.fail_drive(d, err, "receive"));
    c.log_event(e);
    if (auto *m = std::get_if<Media>(&e)) {
      // node-media-server v4 sends the media of a play on message stream id 0, not on the
      // stream it created: we play one stream per connection, so 0 is ours too.
      if ((m->msg.stream_id != sid && m->msg.stream_id != 0) || seeking(p))
        continue;
      GST_LOG_OBJECT(self, "message type %u timestamp %u", m->msg.type, m->msg.timestamp);
      if (elementary) {
        if (GstFlowReturn r = push_elementary(self, m->msg); r != GST_FLOW_OK)
          return r;
        p->state.refresh_stats(p->conn.get());
        // A push can block (downstream paused, back-pressure): that time is not the server's
        // silence, so the next wait starts its clock afresh, as a new create() does.
        watch.start(net::monotonic_us(), c.session().stats().bytes_in);
        continue;
      }
      GstBuffer *buf = p->out.message_to_buffer(GST_OBJECT(self), m->msg);
      if (!buf)
        continue;
      if (p->out.take_caps_changed()) {
        GstCaps *caps = p->out.caps();
        gst_base_src_set_caps(GST_BASE_SRC(self), caps);
        gst_caps_unref(caps);
      }
      p->state.refresh_stats(p->conn.get());
      if (gst_base_src_get_do_timestamp(GST_BASE_SRC(self))) {
        // Arrival time instead: GstBaseSrc stamps only buffers that have none.
        GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
      }
      *outbuf = buf;
      return GST_FLOW_OK;
    }
    if (auto *st = std::get_if<Status>(&e); st && st->stream_id == sid && switching(p)) {
      // The new stream starts: its timeline continues ours (monotonic timestamps downstream).
      if (st->info.code == status::play_start) {
        p->switch_wait_until_us = 0;
        p->out.timeline().restart_at(p->out.timeline().highest + 1);
        gst_element_post_message(
            GST_ELEMENT(self),
            gst_message_new_element(GST_OBJECT(self),
                                    gst_structure_new("rtmp-play-switched", "stream", G_TYPE_STRING,
                                                      p->active.stream.c_str(), nullptr)));
      }
      continue;
    }
    if (auto *st = std::get_if<Status>(&e); st && st->stream_id == sid && seeking(p)) {
      // Play.Start / Play.Reset also mark the new position on servers that send no Notify.
      if (st->info.code == status::seek_notify || st->info.code == status::play_start ||
          st->info.code == status::play_reset || st->info.code == status::seek_failed) {
        if (st->info.code == status::seek_failed)
          GST_WARNING_OBJECT(self, "seek failed: %s", st->info.description.c_str());
        p->seek_wait_until_us = 0;
      }
      continue;
    }
    if (auto *rec = std::get_if<StreamIsRecorded>(&e); rec && rec->stream_id == sid) {
      p->recorded = true;
      continue;
    }
    // A seek makes servers end and restart the stream (Stream EOF, Play.Stop): not our end.
    if (auto *ps = std::get_if<PlayStopped>(&e); ps && ps->stream_id == sid) {
      if (seeking(p) || switching(p))
        continue;
      return end_of_stream(self, ps->status_code.c_str(), true);
    }
    if (auto *eof = std::get_if<StreamEof>(&e); eof && eof->stream_id == sid) {
      if (seeking(p) || switching(p))
        continue;
      return end_of_stream(self, "Stream EOF", true);
    }
    if (auto *er = std::get_if<Error>(&e)) {
      if (!er->fatal) {
        GST_WARNING_OBJECT(self, "server error: %s %s", er->status_code.c_str(),
                           er->description.c_str());
        continue;
      }
      return flow_from(self, c.fail_event(e, context));
    }
    if (std::holds_alternative<Closed>(e))
      return end_of_stream(self, "the server closed the connection", false);
  }
}

static gboolean gst_rtmp_src_start(GstBaseSrc *src) {
  auto *self = GST_RTMP_SRC(src);
  SrcPrivate *p = self->priv;
  p->conn = std::make_unique<ClientConnection>(GST_ELEMENT(self), Role::source);
  p->playing = p->header_pushed = p->eos = false;
  p->out.reset();
  p->duration_ms = -1;
  p->recorded = false;
  p->seek_wait_until_us = 0;
  p->switch_wait_until_us = 0;
  p->last_seek_ms = -1;
  p->paused_sent = false;
  g_mutex_lock(&p->state.lock);
  p->mode = p->output;
  g_mutex_unlock(&p->state.lock);
  const ClientSettings settings = p->state.snapshot();
  if (post_refused_location(GST_ELEMENT(self), settings)) // set in READY
    return FALSE;
  gst_base_src_set_live(src, settings.live);
  if (settings.async_connect) {
    GST_INFO_OBJECT(self, "connecting in the background (async-connect)");
    p->async.start(p->conn.get(), [self] { return connect_and_play(self); });
  }
  return TRUE;
}

static gboolean gst_rtmp_src_stop(GstBaseSrc *src) {
  SrcPrivate *p = PRIV(src);
  stop_connection(p->conn, p->async, p->state);
  p->playing = false;
  p->out.reset();
  p->elementary->reset();
  return TRUE;
}

static gboolean gst_rtmp_src_unlock(GstBaseSrc *src) {
  SrcPrivate *p = PRIV(src);
  unlock_connection(p->conn.get());
  return TRUE;
}

static gboolean gst_rtmp_src_unlock_stop(GstBaseSrc *src) {
  SrcPrivate *p = PRIV(src);
  unlock_stop_connection(p->conn.get());
  return TRUE;
}

static GstCaps *gst_rtmp_src_get_caps(GstBaseSrc *src, GstCaps *filter) {
  return PRIV(src)->out.query_caps(GST_BASE_SRC_PAD(src), filter);
}

// A recorded stream (Stream Is Recorded, or a duration in onMetaData) can seek; a live one
// cannot. In output=elementary mode too: ElementaryOutput brings the seek from the track pads to
// GstBaseSrc and its flushes and new segment to the track pads.
static gboolean gst_rtmp_src_is_seekable(GstBaseSrc *src) {
  SrcPrivate *p = PRIV(src);
  return p->recorded || p->duration_ms > 0;
}

// Called by GstBaseSrc with the streaming thread stopped (flushing seek): the seek command is
// sent by the streaming thread when it restarts (the session is not thread-safe).
static gboolean gst_rtmp_src_do_seek(GstBaseSrc *src, GstSegment *segment) {
  SrcPrivate *p = PRIV(src);
  if (segment->format != GST_FORMAT_TIME)
    return FALSE;
  if (p->async.pending() || !p->playing) // the initial segment: nothing to do
    return TRUE;
  p->pending_seek_ms = static_cast<gint64>(segment->start / GST_MSECOND);
  segment->time = segment->start;
  return TRUE;
}

static gboolean gst_rtmp_src_query(GstBaseSrc *src, GstQuery *query) {
  SrcPrivate *p = PRIV(src);
  switch (GST_QUERY_TYPE(query)) {
  case GST_QUERY_DURATION: {
    GstFormat format;
    gst_query_parse_duration(query, &format, nullptr);
    const gint64 ms = p->duration_ms;
    if (format != GST_FORMAT_TIME || ms <= 0)
      return FALSE;
    gst_query_set_duration(query, GST_FORMAT_TIME, ms * GST_MSECOND);
    return TRUE;
  }
  case GST_QUERY_SEEKING: {
    GstFormat format;
    gst_query_parse_seeking(query, &format, nullptr, nullptr, nullptr);
    if (format != GST_FORMAT_TIME)
      break;
    const gint64 ms = p->duration_ms;
    gst_query_set_seeking(query, GST_FORMAT_TIME, gst_rtmp_src_is_seekable(src), 0,
                          ms > 0 ? ms * static_cast<gint64>(GST_MSECOND) : -1);
    return TRUE;
  }
  default:
    break;
  }
  return GST_BASE_SRC_CLASS(gst_rtmp_src_parent_class)->query(src, query);
}

// PAUSED <-> PLAYING of a live source: GstBaseSrc stops the streaming thread when pausing
// (unlock(), then it waits in wait_playing), so the session can be used from here: pause and
// unpause are sent with the position of the last message (RTMP 1.0 section 7.2.2.8).
static void send_pause(GstRtmpSrc *self, bool paused) {
  SrcPrivate *p = self->priv;
  if (p->async.pending() || !p->playing || !p->conn || !p->conn->is_open() ||
      p->paused_sent == paused)
    return;
  const double position = static_cast<double>(p->out.timeline().last);
  if (p->conn->session().pause(p->conn->stream_id(), paused, position))
    return;
  p->paused_sent = paused;
  GError *err = nullptr;
  (void)p->conn->driver().step(&err); // non-blocking write; errors show in the next create()
  g_clear_error(&err);
  GST_INFO_OBJECT(self, "%s at %.0f ms", paused ? "paused" : "unpaused", position);
}

static GstStateChangeReturn gst_rtmp_src_change_state(GstElement *element,
                                                      GstStateChange transition) {
  auto *self = GST_RTMP_SRC(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    const ClientSettings settings = self->priv->state.snapshot();
    if (post_refused_location(element, settings))
      return GST_STATE_CHANGE_FAILURE;
    post_unhonoured_options(element, settings, Role::source);
  }
  const bool live = gst_base_src_is_live(GST_BASE_SRC(element));
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING && live)
    send_pause(self, false);
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_rtmp_src_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED && live && ret != GST_STATE_CHANGE_FAILURE)
    send_pause(self, true);
  return ret;
}

// `output` is this element's own property, numbered after the shared client ones.
static constexpr guint PROP_OUTPUT = PROP_LAST + 100;

static void gst_rtmp_src_set_property(GObject *object, guint prop_id, const GValue *value,
                                      GParamSpec *pspec) {
  if (prop_id == PROP_OUTPUT) {
    SrcPrivate *p = PRIV(object);
    g_mutex_lock(&p->state.lock);
    p->output = static_cast<OutputMode>(g_value_get_enum(value));
    g_mutex_unlock(&p->state.lock);
    return;
  }
  PRIV(object)->state.set_property(object, prop_id, value, pspec);
}

static void gst_rtmp_src_get_property(GObject *object, guint prop_id, GValue *value,
                                      GParamSpec *pspec) {
  if (prop_id == PROP_OUTPUT) {
    SrcPrivate *p = PRIV(object);
    g_mutex_lock(&p->state.lock);
    g_value_set_enum(value, static_cast<gint>(p->output));
    g_mutex_unlock(&p->state.lock);
    return;
  }
  PRIV(object)->state.get_property(object, prop_id, value, pspec);
}

// An application EOS must reach the track pads of output=elementary too (sent_event()).
static gboolean gst_rtmp_src_send_event(GstElement *element, GstEvent *event) {
  SrcPrivate *p = PRIV(element);
  p->elementary->sent_event(event, p->mode);
  return GST_ELEMENT_CLASS(gst_rtmp_src_parent_class)->send_event(element, event);
}

static void gst_rtmp_src_finalize(GObject *object) {
  delete PRIV(object);
  G_OBJECT_CLASS(gst_rtmp_src_parent_class)->finalize(object);
}

static void gst_rtmp_src_init(GstRtmpSrc *self) {
  self->priv = new SrcPrivate();
  self->priv->state.attach(G_OBJECT(self));
  self->priv->elementary =
      std::make_unique<ElementaryOutput>(GST_ELEMENT(self), self->priv->out.timeline());
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  answer_allocation_locally(GST_BASE_SRC_PAD(self));
}

static void gst_rtmp_src_class_init(GstRtmpSrcClass *klass) {
  auto *gobject_class = G_OBJECT_CLASS(klass);
  auto *element_class = GST_ELEMENT_CLASS(klass);
  auto *base_class = GST_BASE_SRC_CLASS(klass);
  auto *push_class = GST_PUSH_SRC_CLASS(klass);

  gobject_class->set_property = gst_rtmp_src_set_property;
  gobject_class->get_property = gst_rtmp_src_get_property;
  gobject_class->finalize = gst_rtmp_src_finalize;
  install_client_properties(gobject_class, Role::source);
  g_object_class_install_property(
      gobject_class, PROP_OUTPUT,
      g_param_spec_enum("output", "Output",
                        "flv: the FLV byte stream on the always pad 'src'; elementary: one "
                        "sometimes pad per track (video_%u, audio_%u) with elementary-stream caps "
                        "('src' then stays unused); default flv",
                        output_mode_get_type(), static_cast<gint>(OutputMode::flv),
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_READY)));

  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_add_pad_template(element_class, video_src_pad_template());
  gst_element_class_add_pad_template(element_class, audio_src_pad_template());
  gst_element_class_set_static_metadata(element_class, "RTMP source", "Source/Network",
                                        "Plays an RTMP stream (rtmp:// and rtmps://) as FLV",
                                        "gst-rtmp");

  base_class->start = gst_rtmp_src_start;
  base_class->stop = gst_rtmp_src_stop;
  base_class->unlock = gst_rtmp_src_unlock;
  base_class->unlock_stop = gst_rtmp_src_unlock_stop;
  base_class->get_caps = gst_rtmp_src_get_caps;
  base_class->is_seekable = gst_rtmp_src_is_seekable;
  base_class->do_seek = gst_rtmp_src_do_seek;
  base_class->query = gst_rtmp_src_query;
  element_class->change_state = gst_rtmp_src_change_state;
  gst_type_mark_as_plugin_api(output_mode_get_type(), static_cast<GstPluginAPIFlags>(0));
  push_class->create = gst_rtmp_src_create;
  element_class->send_event = gst_rtmp_src_send_event;

  GST_DEBUG_CATEGORY_INIT(rtmp_src_debug, "rtmpsrc", 0, "RTMP playing source");
  GST_DEBUG_CATEGORY_INIT(rtmp_client_debug, "rtmpclient", 0, "RTMP client connection");
}
