// rtmpsrc: plays an RTMP stream as FLV (docs/rtmpsrc.md).
#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RTMP_SRC (gst_rtmp_src_get_type())
// The GType name GstRtmpSrc gives instances the factory's name (rtmpsrc0) in errors and
// logs, and differs from the system librtmp (GstRTMPSrc, GType names are case-sensitive) and
// rtmp2 (GstRtmp2Src) types, so that all three plugins can be loaded in one process.
G_DECLARE_FINAL_TYPE(GstRtmpSrc, gst_rtmp_src, GST, RTMP_SRC, GstPushSrc)

G_END_DECLS
