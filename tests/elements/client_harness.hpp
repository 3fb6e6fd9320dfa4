// A GstHarness around our rtmpsink / rtmpsrc for tests that set the location after creating it.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <cstring>

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

} // namespace rtmp::test
