// Runs one gst-launch style pipeline for the system benchmarks (tests/bench/system.py) and
// prints what arrived, so that a figure is only reported for complete data:
//
//   bench_pipeline 'rtmp2src location=... ! fakesink name=sink'
//   -> {"eos":true,"error":"","sinks":{"sink":{"rendered":1234,"dropped":0}}}
//
// The pipeline runs until EOS, an error, or SIGINT/SIGTERM (a live player never sees EOS: the
// harness stops it once the publisher is done and the counts settle). The process' CPU time is
// measured by the parent (wait4 rusage); this program adds nothing per buffer (the counts come
// from GstBaseSink's "stats" property, read once at the end) and little at startup compared to
// gst-launch-1.0.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <glib-unix.h>
#include <sys/resource.h>
#include <gst/gst.h>

namespace {

// Counts the FLV tags (FLV spec 10.1 annex E) in the byte stream a sink receives, whatever the
// buffer boundaries (rtmp2src and ours push one tag per buffer, librtmp's rtmpsrc pushes 4 KiB
// blocks). A skip counter only: O(1) per buffer plus O(1) per tag, no copy.
struct FlvCounter {
  guint64 bytes = 0;
  guint64 tags = 0;
  guint64 skip = 0; // bytes of the current body + PreviousTagSize still to skip
  guint8 head[11]{};
  std::size_t head_len = 0;
  bool started = false;
  // With BENCH_TAG_TIMES set: (tag type << 32 | timestamp, monotonic µs) of each tag header as it
  // reaches the sink, for the latency benchmark (CLOCK_MONOTONIC is shared by the processes).
  bool log_times = false;
  std::vector<std::pair<guint64, gint64>> times;

  void feed(const guint8 *p, std::size_t n) {
    bytes += n;
    while (n > 0) {
      if (skip > 0) {
        const std::size_t k = skip < n ? static_cast<std::size_t>(skip) : n;
        skip -= k;
        p += k;
        n -= k;
        continue;
      }
      const std::size_t want = (!started ? 9 : 11) - head_len;
      const std::size_t k = want < n ? want : n;
      std::memcpy(head + head_len, p, k);
      head_len += k;
      p += k;
      n -= k;
      if (head_len < (!started ? 9u : 11u))
        continue;
      if (!started) {
        started = true;
        head_len = 0;
        if (head[0] == 'F' && head[1] == 'L' && head[2] == 'V') {
          skip = 4; // PreviousTagSize0
        } else {
          // No file header: these 9 bytes start the first tag.
          head_len = 9;
        }
        continue;
      }
      ++tags;
      if (log_times) {
        const guint64 ts =
            (guint64{head[7]} << 24) | (guint64{head[4]} << 16) | (guint64{head[5]} << 8) | head[6];
        times.emplace_back((guint64{head[0] & 0x1Fu} << 32) | ts, g_get_monotonic_time());
      }
      skip = ((guint64{head[1]} << 16) | (guint64{head[2]} << 8) | head[3]) + 4;
      head_len = 0;
    }
  }
};

// Process CPU (user + sys, all threads) when the first buffer reached a counted sink: the
// figure reported as "stream_cpu" is the CPU spent after it, i.e. without process start, plugin
// loading and connection setup, which do not scale with the bytes moved.
std::atomic<long long> g_first_buffer_cpu_us{-1};

long long process_cpu_us() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

GstPadProbeReturn count_buffer(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *c = static_cast<FlvCounter *>(data);
  if (c->bytes == 0 && g_first_buffer_cpu_us.load() < 0) {
    long long expected = -1;
    g_first_buffer_cpu_us.compare_exchange_strong(expected, process_cpu_us());
  }
  // Each memory on its own: gst_buffer_map() of a buffer made of several memories (ours wrap
  // the payload between a tag header and a PreviousTagSize) merges them into a new one, i.e. a
  // copy of every payload byte that the probe, not the element, would cost.
  auto count = [c](GstBuffer *buf) {
    for (guint i = 0; i < gst_buffer_n_memory(buf); ++i) {
      GstMemory *mem = gst_buffer_peek_memory(buf, i);
      GstMapInfo map;
      if (gst_memory_map(mem, &map, GST_MAP_READ)) {
        c->feed(map.data, map.size);
        gst_memory_unmap(mem, &map);
      }
    }
  };
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    count(GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; i < gst_buffer_list_length(list); ++i)
      count(gst_buffer_list_get(list, i));
  }
  return GST_PAD_PROBE_OK;
}

struct Run {
  GMainLoop *loop = nullptr;
  bool eos = false;
  std::string error;
};

gboolean on_bus(GstBus *, GstMessage *msg, gpointer data) {
  auto *run = static_cast<Run *>(data);
  switch (GST_MESSAGE_TYPE(msg)) {
  case GST_MESSAGE_EOS:
    run->eos = true;
    g_main_loop_quit(run->loop);
    break;
  case GST_MESSAGE_ERROR: {
    GError *err = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    run->error = err ? err->message : "unknown error";
    g_clear_error(&err);
    g_free(debug);
    g_main_loop_quit(run->loop);
    break;
  }
  default:
    break;
  }
  return TRUE;
}

gboolean on_signal(gpointer data) {
  g_main_loop_quit(static_cast<Run *>(data)->loop);
  return G_SOURCE_CONTINUE;
}

std::string json_escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20)
      continue;
    out += c;
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_pipeline 'PIPELINE'\n");
    return 2;
  }
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(argv[1], &err);
  if (!pipeline || err) {
    std::printf("{\"eos\":false,\"error\":\"%s\",\"sinks\":{}}\n",
                json_escape(err ? err->message : "parse failed").c_str());
    return 1;
  }
  // FLV tag counters on the sink pad of every sink named "sink*".
  std::map<std::string, std::unique_ptr<FlvCounter>> counters;
  {
    GstIterator *sit = gst_bin_iterate_sinks(GST_BIN(pipeline));
    GValue v = G_VALUE_INIT;
    while (gst_iterator_next(sit, &v) == GST_ITERATOR_OK) {
      auto *sink = GST_ELEMENT(g_value_get_object(&v));
      gchar *name = gst_element_get_name(sink);
      if (g_str_has_prefix(name, "sink")) {
        auto &c = counters[name] = std::make_unique<FlvCounter>();
        c->log_times = g_getenv("BENCH_TAG_TIMES") != nullptr;
        GstPad *pad = gst_element_get_static_pad(sink, "sink");
        if (pad) {
          gst_pad_add_probe(pad,
                            static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                         GST_PAD_PROBE_TYPE_BUFFER_LIST),
                            count_buffer, c.get(), nullptr);
          gst_object_unref(pad);
        }
      }
      g_free(name);
      g_value_reset(&v);
    }
    g_value_unset(&v);
    gst_iterator_free(sit);
  }
  Run run;
  run.loop = g_main_loop_new(nullptr, FALSE);
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_bus_add_watch(bus, on_bus, &run);
  g_unix_signal_add(SIGINT, on_signal, &run);
  g_unix_signal_add(SIGTERM, on_signal, &run);
  // Tell the parent when the pipeline is up (a player must be subscribed before the publisher
  // starts; the harness also checks nginx's stat page).
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    run.error = "could not set the pipeline to PLAYING";
  } else {
    // Every element has started when set_state() returns (rtmpserversrc: listening with its
    // stream key registered), whereas the port listens as soon as the first one has: a harness
    // that starts N publishers waits for this file, not for the port.
    if (const gchar *ready = g_getenv("BENCH_READY_FILE"))
      g_file_set_contents(ready, "", 0, nullptr);
    g_main_loop_run(run.loop);
  }

  // Counts of every sink that keeps GstBaseSink stats (fakesink does).
  std::string sinks;
  GstIterator *it = gst_bin_iterate_sinks(GST_BIN(pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto *sink = GST_ELEMENT(g_value_get_object(&item));
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(sink), "stats")) {
      GstStructure *stats = nullptr;
      g_object_get(sink, "stats", &stats, nullptr);
      guint64 rendered = 0, dropped = 0;
      if (stats) {
        gst_structure_get_uint64(stats, "rendered", &rendered);
        gst_structure_get_uint64(stats, "dropped", &dropped);
        gst_structure_free(stats);
      }
      gchar *name = gst_element_get_name(sink);
      std::string flv;
      if (auto c = counters.find(name); c != counters.end()) {
        flv = ",\"bytes\":" + std::to_string(c->second->bytes) +
              ",\"flv_tags\":" + std::to_string(c->second->tags);
        if (c->second->log_times) {
          flv += ",\"times\":[";
          for (std::size_t i = 0; i < c->second->times.size(); ++i)
            flv += std::string(i ? "," : "") + "[" + std::to_string(c->second->times[i].first) +
                   "," + std::to_string(c->second->times[i].second) + "]";
          flv += "]";
        }
      }
      sinks += std::string(sinks.empty() ? "" : ",") + "\"" + json_escape(name) +
               "\":{\"rendered\":" + std::to_string(rendered) +
               ",\"dropped\":" + std::to_string(dropped) + flv + "}";
      g_free(name);
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);

  // Printed before the state change to NULL: an element that blocks there (librtmp's rtmpsrc in
  // a blocking read) is killed by the harness, and the counts must survive that.
  const long long first = g_first_buffer_cpu_us.load();
  const double stream_cpu = first < 0 ? -1.0 : (process_cpu_us() - first) / 1e6;
  std::printf("{\"eos\":%s,\"error\":\"%s\",\"stream_cpu\":%.6f,\"sinks\":{%s}}\n",
              run.eos ? "true" : "false", json_escape(run.error).c_str(), stream_cpu,
              sinks.c_str());
  std::fflush(stdout);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_bus_remove_watch(bus);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  g_main_loop_unref(run.loop);
  return run.error.empty() ? 0 : 1;
}
