// Registration of the "rtmp" plugin (libgstrtmp.so). The only global state of the plugin.
#include <gst/gst.h>

#include "elements/gstrtmpserversrc.h"
#include "elements/gstrtmpsink.h"
#include "elements/gstrtmpsrc.h"

// PRIMARY + 2: above rtmp2src/rtmp2sink (PRIMARY + 1) and librtmp's (PRIMARY), so that playbin
// and autoplugging pick ours for rtmp:// URIs.
static constexpr guint kClientRank = GST_RANK_PRIMARY + 2;

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean ok = TRUE;
  ok &= gst_element_register(plugin, "rtmpsink", kClientRank, GST_TYPE_RTMP_SINK);
  ok &= gst_element_register(plugin, "rtmpsrc", kClientRank, GST_TYPE_RTMP_SRC);
  // A server is never autoplugged: it opens a port.
  ok &= gst_element_register(plugin, "rtmpserversrc", GST_RANK_NONE, GST_TYPE_RTMP_SERVER_SRC);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, rtmp,
                  "RTMP source, sink and ingest server on a sans-IO C++ core", plugin_init, VERSION,
                  "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
