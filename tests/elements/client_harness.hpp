// A GstHarness around our rtmpsink / rtmpsrc for tests that set the location after creating it.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/flv.hpp"

namespace rtmp::test {

// GstHarness starts the element at once, before a test sets its location: with the default
// async-connect=true it would start connecting to the default location right away (as rtmp2
// does). So these harnesses use async-connect=false (connect on the first buffer);
// test_client_connect.cpp covers async-connect=true.
inline GstHarness *client_harness(const char *factory) {
  GstElement *e = gst_element_factory_make(factory, nullptr);
  g_object_set(e, "async-connect", FALSE, nullptr);
  const bool sink = std::strcmp(factory, "rtmpsink") == 0;
  GstHarness *h = gst_harness_new_with_element(e, sink ? "sink" : nullptr, sink ? nullptr : "src");
  gst_object_unref(e);
  return h;
}

// Where the tests' rtmpserversrc (location rtmp://127.0.0.1:0/live/key) listens.
inline std::string server_url(unsigned port) {
  return "rtmp://127.0.0.1:" + std::to_string(port) + "/live/key";
}

// Our rtmpsink in a harness, PLAYING, about to publish FLV to `url`.
inline GstHarness *flv_publisher(const std::string &url) {
  GstHarness *h = client_harness("rtmpsink");
  g_object_set(h->element, "location", url.c_str(), nullptr);
  gst_harness_set_src_caps_str(h, "video/x-flv");
  gst_harness_play(h);
  return h;
}

using FlvTagSpec = std::tuple<std::uint8_t, std::uint32_t, Bytes>; // type, timestamp, payload

// Pushes `header` (an FLV header, or nothing) and `tags` as one buffer; GST_FLOW_ERROR when a tag
// cannot be written.
inline GstFlowReturn push_flv(GstHarness *h, Bytes header, const std::vector<FlvTagSpec> &tags) {
  Bytes stream = std::move(header);
  for (const auto &[type, ts, payload] : tags) {
    Bytes t;
    if (write_flv_tag(type, ts, payload, t))
      return GST_FLOW_ERROR;
    stream.insert(stream.end(), t.begin(), t.end());
  }
  return gst_harness_push(h, gst_buffer_new_memdup(stream.data(), stream.size()));
}

} // namespace rtmp::test
