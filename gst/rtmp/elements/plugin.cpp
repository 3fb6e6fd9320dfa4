// Registration of the "rtmp" plugin (libgstrtmp.so). The only global state of the plugin.
#include <gst/gst.h>

static gboolean plugin_init(GstPlugin *plugin) {
  (void)plugin;
  return TRUE;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, rtmp,
                  "RTMP source, sink and ingest server on a sans-IO C++ core", plugin_init, VERSION,
                  "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
