/* An RTMP ingest in one process: rtmpserversrc accepts publishers of application "live" whose
 * stream key is in the list given on the command line, demuxes the stream and counts what
 * arrived. The "on-publish" handler decides; the bus reports each publish and its end.
 *
 *   ingest_keys PORT KEY...      e.g.  ingest_keys 1935 camera1 camera2
 *   ffmpeg -re -i clip.flv -c copy -f flv rtmp://127.0.0.1:1935/live/camera1
 *
 * It prints one line per decision and per bus message, and exits 0 at the end of the first
 * accepted stream (the publisher left: EOS) after printing the buffers that arrived on each
 * branch; exit 1 on an error.
 *
 * Build: cc ingest_keys.c -o ingest_keys $(pkg-config --cflags --libs gstreamer-1.0)
 * Run with our plugin: GST_PLUGIN_PATH=<build>/gst/rtmp/elements (or an installed plugin). */
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char **keys; /* NULL-terminated, the stream keys that may publish */
  GMainLoop *loop;
  int status;
  gint video_buffers, audio_buffers; /* updated on the streaming threads */
} Ingest;

/* Emitted on the listener thread: look the key up, don't block for long. */
static gboolean on_publish(GstElement *src, const gchar *application, const gchar *stream_key,
                           const gchar *query, const gchar *address, gpointer user_data) {
  Ingest *ingest = user_data;
  gboolean ok = g_strv_contains((const gchar *const *)ingest->keys, stream_key);
  (void)src;
  (void)query;
  g_print("on-publish: %s publishes %s/%s: %s\n", address, application, stream_key,
          ok ? "accepted" : "rejected");
  return ok; /* FALSE: the publisher gets NetStream.Publish.BadName */
}

/* Counted on the streaming threads of the two branches. */
static GstPadProbeReturn count_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer counter) {
  (void)pad;
  (void)info;
  g_atomic_int_inc((gint *)counter);
  return GST_PAD_PROBE_OK;
}

static void count_branch(GstElement *pipeline, const char *sink_name, gint *counter) {
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), sink_name);
  GstPad *pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, counter, NULL);
  gst_object_unref(pad);
  gst_object_unref(sink);
}

static gboolean on_bus_message(GstBus *bus, GstMessage *msg, gpointer user_data) {
  Ingest *ingest = user_data;
  (void)bus;
  switch (GST_MESSAGE_TYPE(msg)) {
  case GST_MESSAGE_ELEMENT: {
    const GstStructure *s = gst_message_get_structure(msg);
    if (s && g_str_has_prefix(gst_structure_get_name(s), "rtmp-")) {
      gchar *text = gst_structure_to_string(s);
      g_print("bus: %s\n", text);
      g_free(text);
    }
    break;
  }
  case GST_MESSAGE_ERROR: {
    GError *err = NULL;
    gchar *debug = NULL;
    gst_message_parse_error(msg, &err, &debug);
    g_printerr("error from %s: %s (%s)\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message,
               debug ? debug : "");
    g_clear_error(&err);
    g_free(debug);
    ingest->status = 1;
    g_main_loop_quit(ingest->loop);
    break;
  }
  case GST_MESSAGE_EOS:
    g_print("end of stream: %d video buffers, %d audio buffers\n",
            g_atomic_int_get(&ingest->video_buffers), g_atomic_int_get(&ingest->audio_buffers));
    g_main_loop_quit(ingest->loop);
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 3) {
    g_printerr("usage: %s PORT KEY...\n", argv[0]);
    return 2;
  }
  Ingest ingest = {.keys = &argv[2], .loop = g_main_loop_new(NULL, FALSE)};
  gchar *description = g_strdup_printf(
      "rtmpserversrc name=srv location=rtmp://127.0.0.1:%s/live/* ! flvdemux name=d "
      "d.video ! queue ! fakesink name=video sync=false "
      "d.audio ! queue ! fakesink name=audio sync=false",
      argv[1]);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch(description, &err);
  g_free(description);
  if (!pipeline) {
    g_printerr("could not build the pipeline: %s\n", err->message);
    return 1;
  }
  GstElement *srv = gst_bin_get_by_name(GST_BIN(pipeline), "srv");
  g_signal_connect(srv, "on-publish", G_CALLBACK(on_publish), &ingest);
  gst_object_unref(srv);
  count_branch(pipeline, "video", &ingest.video_buffers);
  count_branch(pipeline, "audio", &ingest.audio_buffers);

  GstBus *bus = gst_element_get_bus(pipeline);
  gst_bus_add_watch(bus, on_bus_message, &ingest);
  gst_object_unref(bus);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr("the pipeline did not start (see the error above)\n");
    ingest.status = 1;
  } else {
    g_print("listening on port %s, keys:", argv[1]);
    for (char **k = ingest.keys; *k; ++k)
      g_print(" %s", *k);
    g_print("\n");
    g_main_loop_run(ingest.loop);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  g_main_loop_unref(ingest.loop);
  return ingest.status;
}
