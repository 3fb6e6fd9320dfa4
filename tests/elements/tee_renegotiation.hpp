// The `tee` scenario of server_sessions.py case `tee` made deterministic, for rtmpsrc and
// rtmpserversrc: a renegotiation while one `tee ! queue` branch holds its buffers must not stop
// the other branch.
//
// In a live pipeline every sink waits in preroll until all sinks prerolled, so the FLV branch of
// `src ! tee ! queue ! sink  tee. ! queue ! flvdemux ! ...` holds the FLV header while flvdemux
// still waits for its audio tag. When flvdemux links a pad, the RECONFIGURE it sends upstream
// makes GstBaseSrc renegotiate before the next buffer, and the serialized ALLOCATION query it
// sends waits in the held queue behind the header: the streaming thread blocks and the audio
// never comes. Here the held branch is a blocking buffer probe and the RECONFIGURE is sent to
// the source's pad as its first buffer (the FLV header) goes out.
#pragma once

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>

namespace rtmp::test {

namespace tee_detail {

inline GstPadProbeReturn hold(GstPad *, GstPadProbeInfo *, gpointer) {
  return GST_PAD_PROBE_OK; // blocking probe: the pad stays blocked while it is installed
}

inline GstPadProbeReturn count(GstPad *, GstPadProbeInfo *, gpointer counter) {
  g_atomic_int_inc(static_cast<gint *>(counter));
  return GST_PAD_PROBE_OK;
}

inline GstPadProbeReturn reconfigure_once(GstPad *pad, GstPadProbeInfo *, gpointer) {
  gst_pad_send_event(pad, gst_event_new_reconfigure());
  return GST_PAD_PROBE_REMOVE;
}

inline GstElement *by_name(GstElement *bin, const char *name) {
  return gst_bin_get_by_name(GST_BIN(bin), name);
}

} // namespace tee_detail

// Runs `source` (a gst-launch description of one element) ! tee with a held branch and a free
// one, calls `feed` once the pipeline plays (with the source element, e.g. to publish to it),
// and returns how many buffers reached the free branch's sink by the time `want` arrived or
// `timeout_ms` passed. The pipeline reaches NULL within 1 s afterwards (checked).
inline int free_branch_buffers_after_renegotiation(const std::string &source,
                                                   const std::function<void(GstElement *)> &feed,
                                                   int want, int timeout_ms) {
  using namespace tee_detail;
  GError *err = nullptr;
  const std::string launch = source + " name=src ! tee name=t "
                                      "t. ! queue name=held ! fakesink async=false sync=false "
                                      "t. ! queue ! fakesink name=free async=false sync=false";
  GstElement *pipe = gst_parse_launch(launch.c_str(), &err);
  EXPECT_NE(pipe, nullptr) << (err ? err->message : "");
  if (!pipe)
    return -1;
  GstElement *src = by_name(pipe, "src"), *held = by_name(pipe, "held");
  GstElement *free_sink = by_name(pipe, "free");
  GstPad *src_pad = gst_element_get_static_pad(src, "src");
  GstPad *held_pad = gst_element_get_static_pad(held, "src");
  GstPad *free_pad = gst_element_get_static_pad(free_sink, "sink");
  const gulong block = gst_pad_add_probe(
      held_pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER),
      hold, nullptr, nullptr);
  gst_pad_add_probe(src_pad, GST_PAD_PROBE_TYPE_BUFFER, reconfigure_once, nullptr, nullptr);
  gint arrived = 0;
  gst_pad_add_probe(free_pad, GST_PAD_PROBE_TYPE_BUFFER, count, &arrived, nullptr);

  EXPECT_NE(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  feed(src);
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(timeout_ms) * 1000;
  while (g_atomic_int_get(&arrived) < want && g_get_monotonic_time() < end)
    g_usleep(10000);
  const int result = g_atomic_int_get(&arrived);

  gst_pad_remove_probe(held_pad, block);
  const auto t0 = std::chrono::steady_clock::now();
  gst_element_set_state(pipe, GST_STATE_NULL);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  for (GstPad *p : {src_pad, held_pad, free_pad})
    gst_object_unref(p);
  for (GstElement *e : {src, held, free_sink, pipe})
    gst_object_unref(e);
  return result;
}

} // namespace rtmp::test
