// rtmpsrc: plays an RTMP stream as FLV (docs/rtmpsrc.md).
#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RTMP_CLIENT_SRC (gst_rtmp_client_src_get_type())
// The GType name is GstRtmpClientSrc (not GstRTMPSrc / GstRtmp2Src) so that our plugin can
// be loaded in one process with the system librtmp and rtmp2 plugins.
G_DECLARE_FINAL_TYPE(GstRtmpClientSrc, gst_rtmp_client_src, GST, RTMP_CLIENT_SRC, GstPushSrc)

G_END_DECLS
