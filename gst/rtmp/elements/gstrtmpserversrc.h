// rtmpserversrc: an RTMP ingest server inside a pipeline; outputs what a publisher sends as
// FLV (docs/rtmpserversrc.md).
#pragma once

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_RTMP_SERVER_SRC (gst_rtmp_server_src_get_type())
G_DECLARE_FINAL_TYPE(GstRtmpServerSrc, gst_rtmp_server_src, GST, RTMP_SERVER_SRC, GstPushSrc)

G_END_DECLS
