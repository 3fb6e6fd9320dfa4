// rtmpsink: publishes an FLV stream to an RTMP server (docs/rtmpsink.md).
#pragma once

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RTMP_CLIENT_SINK (gst_rtmp_client_sink_get_type())
// The GType name is GstRtmpClientSink (not GstRTMPSink / GstRtmp2Sink) so that our plugin can
// be loaded in one process with the system librtmp and rtmp2 plugins.
G_DECLARE_FINAL_TYPE(GstRtmpClientSink, gst_rtmp_client_sink, GST, RTMP_CLIENT_SINK, GstBaseSink)

G_END_DECLS
