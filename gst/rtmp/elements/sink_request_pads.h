// rtmpsink's request pads video_%u / audio_%u: elementary streams without flvmux.
//
// Each pad turns its caps into a Video/AudioSendFormat (codec_caps.h) and its buffers into FLV
// tags (header + frame), queued in a TrackInterleaver that hands them back in decode-time order.
// From there they take the sink's own path (RequestPadsHost: connect, publish, reconnect with its
// backlog, pacing, stop commands), the same as the tags of the video/x-flv `sink` pad.
//
// Lock: one mutex serialises the pads' streaming threads (the connection is used by one at a
// time) and guards the pad states, the interleaver and the metadata. Application threads take it
// to add or remove pads.
#pragma once

#include <gst/gst.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "elements/codec_caps.h"
#include "elements/track_interleaver.h"

namespace rtmp::gst {

// E-RTMP track ids are UI8 (the Multitrack TrackId field): video_0 .. video_255.
inline constexpr guint kMaxTrackId = 255;

// What the request pads need from the sink. Called with the pads' lock held, from a pad's
// streaming thread (except cancel(), from any thread).
class RequestPadsHost {
public:
  virtual ~RequestPadsHost() = default;
  // Publishing, or reconnecting with a backlog (reconnect=true).
  virtual bool connected() = 0;
  virtual bool publishing() = 0;
  // Connects and publishes, announcing `caps` in the connect command.
  virtual GstFlowReturn connect(const EnhancedCapabilities &caps) = 0;
  // Sends (or queues while reconnecting) the tags, as for the FLV pad.
  virtual GstFlowReturn send(std::vector<FlvTag> &tags) = 0;
  // The timestamp of the last tag sent (for an onMetaData sent between media).
  virtual std::uint32_t last_timestamp() = 0;
  // All pads ended: the stop commands (unpublish).
  virtual void finish() = 0;
  // Cancels (true) / re-arms (false) what blocks on the server, so that flushing and state
  // changes return promptly.
  virtual void cancel(bool cancelled) = 0;
  virtual EnhancedMode enhanced_mode() = 0;
};

GType enhanced_mode_get_type();

struct RequestPad;

class SinkRequestPads {
public:
  SinkRequestPads(GstElement *element, RequestPadsHost &host);
  ~SinkRequestPads();
  SinkRequestPads(const SinkRequestPads &) = delete;
  SinkRequestPads &operator=(const SinkRequestPads &) = delete;

  // The video_%u / audio_%u templates.
  static void add_pad_templates(GstElementClass *klass);

  // GstElement::request_new_pad: a pad for the next free (or the asked-for) track id, or nullptr.
  // Turns the sink's asynchronous state changes off (it has no preroll on these pads).
  GstPad *request(GstPadTemplate *templ, const gchar *name);
  void release(GstPad *pad);
  bool empty();
  // A new start (NULL->READY): queues, EOS and metadata state forgotten; the pads' formats are
  // kept and their sequence headers sent again.
  void reset();

  // The element's LATENCY query (from the pipeline): what the linked pads' peers answer,
  // combined as a muxer does, plus the sink's own part as GstBaseSink adds it (processing
  // deadline and render delay when syncing). Always answered.
  void query_latency(GstQuery *query);
  // The pipeline's LATENCY event: kept for the clock wait and forwarded upstream through every
  // linked request pad.
  bool set_latency(GstEvent *event);

private:
  friend struct RequestPadFunctions;
  GstFlowReturn pump(bool drain);
  GstFlowReturn interleave(RequestPad &rp, std::unique_lock<std::mutex> &locker);
  GstFlowReturn chain(RequestPad &rp, GstBuffer *buffer);
  bool set_caps(RequestPad &rp, GstCaps *caps);
  bool event(RequestPad &rp, GstEvent *event);
  bool query(RequestPad &rp, GstQuery *query);
  void set_flushing(RequestPad &rp, bool flushing, bool cancel);
  void set_linked(GstPad *pad, bool linked);
  StallLimit stall_limit();
  GstCaps *allowed_caps(const RequestPad &rp);
  void refused_for_enhanced_never(RequestPad &rp, GstCaps *caps);
  FlvTag metadata(std::uint32_t timestamp) const;
  bool wait_for_clock(std::uint32_t timestamp_ms);
  void set_clock_flushing(bool flushing);
  EnhancedCapabilities capabilities() const;
  std::vector<GstPad *> linked_request_pads();

  GstElement *element_;
  RequestPadsHost &host_;
  std::mutex lock_;
  // A track pushed or ended, a pad was unlinked or released, or a pad is flushing.
  std::condition_variable queue_changed_;
  std::vector<std::unique_ptr<RequestPad>> pads_;
  TrackInterleaver interleaver_;
  GstTagList *global_tags_ = nullptr; // title, artist... from the pads' global tag events
  bool metadata_dirty_ = false;       // onMetaData to (re)send before the next tags
  Bytes sent_metadata_;               // the last one sent: an unchanged one is not sent again
  bool eos_posted_ = false;
  // The clock wait of `sync` and what the pipeline's latency query and event said (under
  // clock_lock_, so that a flush can unschedule the wait and the pipeline can ask for the latency
  // while lock_ is held by a waiting thread).
  std::mutex clock_lock_;
  GstClockID clock_id_ = nullptr;
  bool clock_flushing_ = false;
  GstClockTime latency_ = 0;   // from the LATENCY event: added to every clock wait
  bool upstream_live_ = false; // from the LATENCY query: a linked pad's upstream is live
};

} // namespace rtmp::gst
