// Small helpers the element tests share: property getters, buffer bytes, wall-clock timing, a
// refused loopback port and the ERROR messages of an element outside a pipeline.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <chrono>
#include <string>

#include "core/bytes.hpp"

namespace rtmp::test {

inline std::string get_string(GstElement *e, const char *prop) {
  gchar *v = nullptr;
  g_object_get(e, prop, &v, nullptr);
  std::string s = v ? v : "";
  g_free(v);
  return s;
}

// A string GLib allocated (gst_caps_to_string, ...), freed.
inline std::string take_string(gchar *s) {
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

inline Bytes buffer_bytes(GstBuffer *b) {
  Bytes out(gst_buffer_get_size(b));
  gst_buffer_extract(b, 0, out.data(), out.size());
  return out;
}

inline double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// A loopback port nothing listens on: bind, read the port, close.
inline guint16 refused_port() {
  GSocket *s =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a = g_inet_socket_address_new(lo, 0);
  g_socket_bind(s, a, TRUE, nullptr);
  GSocketAddress *local = g_socket_get_local_address(s, nullptr);
  const guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  g_object_unref(local);
  g_object_unref(a);
  g_object_unref(lo);
  g_socket_close(s, nullptr);
  g_object_unref(s);
  return port;
}

inline std::string refused_url() {
  return "rtmp://127.0.0.1:" + std::to_string(refused_port()) + "/live/x";
}

// Watches the ERROR messages of an element that is not in a pipeline (a GstHarness element has
// no bus of its own).
struct ErrorWatch {
  GstBus *bus = gst_bus_new();
  explicit ErrorWatch(GstElement *e) { gst_element_set_bus(e, bus); }
  ~ErrorWatch() { gst_object_unref(bus); }
  ErrorWatch(const ErrorWatch &) = delete;
  ErrorWatch &operator=(const ErrorWatch &) = delete;
  // Text of the first error, "" when none within `ms`; `domain` / `code` get the GError's.
  std::string wait(int ms, GQuark *domain = nullptr, gint *code = nullptr) {
    GstMessage *m = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(ms) * GST_MSECOND,
                                               GST_MESSAGE_ERROR);
    if (!m)
      return {};
    GError *err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    std::string text = err->message;
    if (domain)
      *domain = err->domain;
    if (code)
      *code = err->code;
    g_error_free(err);
    gst_message_unref(m);
    return text;
  }
};

} // namespace rtmp::test
