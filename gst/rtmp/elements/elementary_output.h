// The `output=elementary` mode of rtmpsrc and rtmpserversrc: one sometimes pad per
// RTMP track instead of the FLV byte stream of flv_output.h.
//
// Pads are named video_%u / audio_%u after the Enhanced RTMP track id (0 for legacy tags) and
// are added when the track's caps first become negotiable (codec_caps.h: the first sequence
// start, or the first coded frame for codecs without one). Each pad gets stream-start (one group
// id for the element), caps, segment, the tags of the last onMetaData, then buffers:
// DTS = rebased RTMP timestamp (the Timeline of the element's FlvOutput, so that rtmpserversrc's
// restart_at() and rtmpsrc's pause position keep working), PTS = DTS + presentation_offset_ns,
// DELTA_UNIT on video frames that are not keyframes. Sequence start/end and metadata packets only
// change caps or state.
//
// no-more-pads: once every track that onMetaData announces (hasVideo/hasAudio, videocodecid/
// audiocodecid, the keys of E-RTMP videoTrackIdInfoMap/audioTrackIdInfoMap) has a pad, or, when
// something is missing or there is no onMetaData, after kNoMorePadsWaitMs of stream time or
// kNoMorePadsWaitMessages audio/video messages since the first one, whichever comes first.
// A track that shows up later still gets a pad.
//
// Coded frames of a track that has no caps (AVC, HEVC, AV1, AAC, Opus, FLAC before their sequence
// start, or after a refused one) are dropped, as flvdemux does; when that lasts the same bounded
// wait (kNoMorePadsWaitMs of message timestamps or kNoMorePadsWaitMessages frames) the element
// posts one warning for the track, so that a missing pad or a stalled one is not a silent loss.
//
// Seeking (rtmpsrc, recorded streams): a SEEK event on a track pad goes to the element's always
// pad (once per seqnum, although every branch forwards it), where GstBaseSrc performs it; the
// FLUSH_START / FLUSH_STOP it pushes there are pushed on every track pad too, and each track pad
// gets the new segment before its next buffer. SEEKING / DURATION / LATENCY queries on a track
// pad are answered by the always pad. With do-timestamp, DTS is the running time of arrival.
//
// Threading: everything is called from the element's streaming thread, except reset() which is
// called from stop() when that thread is stopped, and the track pad events and the flush probe
// (the seeking thread; they touch only the element's pad list and atomics, and FLUSH_STOP comes
// while GstBaseSrc holds the streaming thread stopped).
#pragma once

#include <gst/base/gstbasesrc.h>
#include <gst/base/gstflowcombiner.h>
#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "core/amf_value.hpp"
#include "core/message.hpp"
#include "elements/codec_caps.h"
#include "elements/flv_output.h"

namespace rtmp::gst {

// At most this many tracks per media kind (video, audio) get state and a pad: a publisher
// that sends a flood of track ids (each message may carry up to 256) gets no more; the rest of
// its tracks are dropped with a warning. Real streams have one to four tracks of each kind.
inline constexpr std::size_t kMaxTracksPerKind = 8;
// The bounded wait for no-more-pads (see above).
inline constexpr std::int64_t kNoMorePadsWaitMs = 1000;
inline constexpr std::uint64_t kNoMorePadsWaitMessages = 100;

// `output` property of rtmpsrc and rtmpserversrc.
enum class OutputMode { flv = 0, elementary = 1 };
GType output_mode_get_type(); // GstRtmpOutputMode

// The sometimes pad templates video_%u / audio_%u (caps: the union of what codec_caps gives).
GstPadTemplate *video_src_pad_template();
GstPadTemplate *audio_src_pad_template();

// The tags of an `rtmp-text-data` structure (data_to_structure): GST_TAG_COMMENT = text,
// GST_TAG_LANGUAGE_CODE when given (both source modes push them downstream).
GstTagList *text_data_tags(const GstStructure *text_data);

class ElementaryOutput {
public:
  // `element` owns the pads; `timeline` rebases the timestamps (the element's FlvOutput one).
  ElementaryOutput(GstElement *element, Timeline &timeline);
  ~ElementaryOutput();
  ElementaryOutput(const ElementaryOutput &) = delete;
  ElementaryOutput &operator=(const ElementaryOutput &) = delete;

  // Removes every pad and forgets all state (stop()).
  void reset();
  // A new publisher (rtmpserversrc): pads are kept; the codec state of each track stays, so
  // that the new publisher's sequence headers renegotiate only when they differ.
  void new_publisher();

  // Handles one audio/video/data message: pushes what it carries on the pads. Returns the
  // combined flow of the pads (GstFlowCombiner); GST_FLOW_OK when nothing was pushed. New pads
  // get a copy of the element's (GstBaseSrc) segment.
  GstFlowReturn push_message(const Message &msg);
  // What create() returns in elementary mode passes through here: the end of the streaming
  // (EOS, an error; not flushing) is EOS on every pad.
  GstFlowReturn finish(GstFlowReturn r);
  // An event the application sends to the element (gst_element_send_event), from the element's
  // send_event before it chains up. On EOS (gst-launch-1.0 -e, a recorder stopping) GstBaseSrc
  // unlocks create() (which then returns flushing) and pushes EOS on the always pad only: in
  // elementary `mode` this makes finish() push it on the track pads too. Any thread.
  void sent_event(GstEvent *event, OutputMode mode) {
    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && mode == OutputMode::elementary)
      eos_requested_ = true;
  }
  // EOS on every pad.
  void push_eos();

  // Duration from the last onMetaData in ms, or -1.
  std::int64_t duration_ms() const { return duration_ms_; }
  std::size_t pad_count() const;

private:
  struct Track;
  // The rebased time of one message, taken from the timeline when first asked for (see
  // push_message()).
  struct Stamp {
    std::uint32_t timestamp;
    std::optional<std::int64_t> ms;
    std::int64_t at(Timeline &t) {
      if (!ms)
        ms = t.rebase(timestamp);
      return *ms;
    }
  };
  GstFlowReturn push_video(const Message &msg, Stamp &stamp, const GstSegment &segment);
  GstFlowReturn push_audio(const Message &msg, Stamp &stamp, const GstSegment &segment);
  void handle_data(const Message &msg);
  Track *track(bool video, std::uint8_t id);
  // Sends caps (creating the pad first when there is none yet); false when there are no caps.
  bool send_caps(Track &t, bool video, std::uint8_t id, GstCaps *caps, const GstSegment &segment);
  void send_tags(Track &t, bool video);
  GstFlowReturn push_buffer(Track &t, GstBuffer *buf);
  // A coded frame of track `t` was dropped for want of caps (see above).
  void frame_dropped(Track &t, bool video, std::uint8_t id, std::uint32_t timestamp);
  void check_no_more_pads(std::int64_t ms);
  static GstPadProbeReturn on_always_pad_flush(GstPad *always, GstPadProbeInfo *info,
                                               gpointer self);
  static gboolean track_pad_event(GstPad *pad, GstObject *parent, GstEvent *event);

  GstElement *element_;
  Timeline &timeline_;
  std::atomic<bool> eos_requested_{false};
  // Seeking (recorded streams): the seqnum of the last seek a track pad passed on (the pipeline's
  // seek comes up every branch), and a new segment owed to every track pad after FLUSH_STOP.
  std::atomic<guint32> last_seek_seqnum_{GST_SEQNUM_INVALID};
  std::atomic<bool> segment_pending_{false};
  std::atomic<guint32> segment_seqnum_{GST_SEQNUM_INVALID};
  GstFlowCombiner *combiner_;
  guint group_id_ = 0;
  std::map<std::pair<bool, std::uint8_t>, std::unique_ptr<Track>> tracks_;
  bool warned_track_limit_ = false;
  // onMetaData
  GstTagList *global_tags_ = nullptr, *video_tags_ = nullptr, *audio_tags_ = nullptr;
  VideoHints hints_;
  std::int64_t duration_ms_ = -1;
  // no-more-pads
  bool metadata_seen_ = false;
  std::set<std::pair<bool, std::uint8_t>> expected_;
  bool no_more_pads_ = false;
  std::int64_t first_media_ms_ = -1;
  std::uint64_t media_messages_ = 0;
};

} // namespace rtmp::gst
