// The ONE place where failures become GST_ELEMENT_ERROR / GST_ELEMENT_WARNING messages.
//
// Why one place: the bus must tell the user what happened in one sentence ("could not connect
// to 127.0.0.1:1935: Connection refused", "server rejected publish: NetStream.Publish.BadName
// (...)"), with a GStreamer error domain/code an application can switch on, and with the
// technical detail in the debug string. Both client elements (and the reconnect logic) call
// these helpers instead of formatting their own messages.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <string>
#include <string_view>
#include <system_error>

namespace rtmp::gst {

// Whether the element reads from the server (rtmpsrc) or writes to it (rtmpsink): it selects
// GST_RESOURCE_ERROR_OPEN_READ/READ vs OPEN_WRITE/WRITE like other network elements do.
enum class Direction { read, write };

// What to post: a GStreamer domain and code, a human message and a debug string.
struct ErrorReport {
  GQuark domain = 0;
  gint code = 0;
  std::string text;
  std::string debug;
};

// A GIO/TLS/resolver error while connecting or moving bytes. `stage` says what we were doing
// ("connect", "send", "receive"); `peer` is "host:port".
ErrorReport report_from_gerror(const GError *error, std::string_view stage, std::string_view peer,
                               Direction dir);

// An error of the RTMP core (a session Error event or a local failure). `status_code` is the
// server's own code when it sent one ("NetStream.Publish.BadName"), `description` the server's
// or the core's description; `context` names what we were doing ("publish live/test").
ErrorReport report_from_rtmp(std::error_code code, std::string_view description,
                             std::string_view status_code, std::string_view context, Direction dir);

// A local misconfiguration (a missing stream name, a certificate that does not load...).
ErrorReport report_settings(std::string_view text, std::string_view debug);

// A location the element refused: GST_RESOURCE_ERROR_SETTINGS, "invalid location '<location>':
// <why>" with the password of the location (and the key of a librtmp token= option) replaced by
// "***". `expected` (the form the element
// takes, "rtmp[s]://host[:port]/application/stream") goes into the debug string.
ErrorReport report_invalid_location(std::string_view location, std::string_view why,
                                    std::string_view expected);

// Posts `r` as an error (or a warning) message of `element`.
void post_error(GstElement *element, const ErrorReport &r, const char *file, const char *function,
                int line);
void post_warning(GstElement *element, const ErrorReport &r, const char *file, const char *function,
                  int line);

} // namespace rtmp::gst

#define RTMP_POST_ERROR(element, report)                                                           \
  ::rtmp::gst::post_error(GST_ELEMENT(element), (report), __FILE__, GST_FUNCTION, __LINE__)
#define RTMP_POST_WARNING(element, report)                                                         \
  ::rtmp::gst::post_warning(GST_ELEMENT(element), (report), __FILE__, GST_FUNCTION, __LINE__)
