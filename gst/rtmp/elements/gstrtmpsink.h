// rtmpsink: publishes an FLV stream to an RTMP server (docs/rtmpsink.md).
#pragma once

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RTMP_SINK (gst_rtmp_sink_get_type())
// The GType name GstRtmpSink gives instances the factory's name (rtmpsink0) in errors and
// logs, and differs from the system librtmp (GstRTMPSink, GType names are case-sensitive) and
// rtmp2 (GstRtmp2Sink) types, so that all three plugins can be loaded in one process.
G_DECLARE_FINAL_TYPE(GstRtmpSink, gst_rtmp_sink, GST, RTMP_SINK, GstBaseSink)

G_END_DECLS
