#include "elements/element_error.h"

#include "core/error.hpp"
#include "core/librtmp_options.hpp"
#include "core/url.hpp"

namespace rtmp::gst {
namespace {

gint open_code(Direction dir) {
  return dir == Direction::read ? GST_RESOURCE_ERROR_OPEN_READ : GST_RESOURCE_ERROR_OPEN_WRITE;
}
gint io_code(Direction dir) {
  return dir == Direction::read ? GST_RESOURCE_ERROR_READ : GST_RESOURCE_ERROR_WRITE;
}

std::string join(std::string_view a, std::string_view b) {
  std::string s(a);
  if (!b.empty()) {
    s += ": ";
    s += b;
  }
  return s;
}

} // namespace

ErrorReport report_from_gerror(const GError *error, std::string_view stage, std::string_view peer,
                               Direction dir) {
  ErrorReport r;
  r.domain = GST_RESOURCE_ERROR;
  const std::string what = error ? error->message : "unknown error";
  const bool connecting = stage == "connect";
  r.code = connecting ? open_code(dir) : io_code(dir);
  if (error && error->domain == G_RESOLVER_ERROR) {
    r.code = GST_RESOURCE_ERROR_NOT_FOUND;
  } else if (error && error->domain == G_TLS_ERROR) {
    // A certificate the tls-validation-flags refuse is an authorization problem, not I/O.
    if (error->code == G_TLS_ERROR_BAD_CERTIFICATE)
      r.code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
  }
  if (connecting) {
    // GIO already says "Could not connect to <host>: <reason>": keep only the reason, since
    // our sentence names host and port.
    std::string reason = what;
    if (reason.rfind("Could not connect to ", 0) == 0) {
      if (auto colon = reason.find(": "); colon != std::string::npos)
        reason = reason.substr(colon + 2);
    }
    r.text = "could not connect to " + std::string(peer) + ": " + reason;
  } else if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    r.text = "connection to " + std::string(peer) + " timed out";
  else
    r.text = "could not " + std::string(stage) + " (" + std::string(peer) + "): " + what;
  r.debug = std::string("stage=") + std::string(stage) + " peer=" + std::string(peer) +
            " domain=" + (error ? g_quark_to_string(error->domain) : "none") +
            " code=" + std::to_string(error ? error->code : 0);
  return r;
}

ErrorReport report_from_rtmp(std::error_code code, std::string_view description,
                             std::string_view status_code, std::string_view context,
                             Direction dir) {
  ErrorReport r;
  r.domain = GST_RESOURCE_ERROR;
  r.code = io_code(dir);
  std::string why;
  if (code.category() == rtmp_category()) {
    switch (static_cast<Errc>(code.value())) {
    case Errc::connect_rejected:
      r.code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      why = "server rejected connect";
      break;
    case Errc::auth_failed:
      r.code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      why = "authentication failed";
      break;
    case Errc::publish_rejected:
      r.code = GST_RESOURCE_ERROR_OPEN_WRITE;
      why = "server rejected publish";
      break;
    case Errc::play_failed:
      r.code = status_code.find("StreamNotFound") != std::string_view::npos
                   ? GST_RESOURCE_ERROR_NOT_FOUND
                   : GST_RESOURCE_ERROR_OPEN_READ;
      why = "server refused to play";
      break;
    case Errc::command_failed:
      why = "server answered with an error";
      break;
    case Errc::timeout:
      why = "timed out waiting for the server";
      break;
    case Errc::flv_bad_header:
    case Errc::flv_bad_tag:
      // The sink's input, not the server, is malformed.
      r.domain = GST_STREAM_ERROR;
      r.code = GST_STREAM_ERROR_FORMAT;
      why = "invalid FLV input";
      break;
    case Errc::url_invalid:
    case Errc::url_missing_stream:
    case Errc::url_unsupported_scheme:
    case Errc::invalid_argument:
    case Errc::invalid_state:
      r.code = GST_RESOURCE_ERROR_SETTINGS;
      why = "invalid settings";
      break;
    default:
      why =
          error_origin(code) == ErrorOrigin::peer ? "protocol error from the server" : "RTMP error";
      break;
    }
  } else {
    why = "RTMP error";
  }
  r.text = why;
  if (!status_code.empty())
    r.text += ": " + std::string(status_code);
  if (!description.empty() && description != status_code)
    r.text += status_code.empty() ? ": " + std::string(description)
                                  : " (" + std::string(description) + ")";
  r.debug = join(context, code.message());
  return r;
}

ErrorReport report_settings(std::string_view text, std::string_view debug) {
  return {GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, std::string(text), std::string(debug)};
}

ErrorReport report_invalid_location(std::string_view location, std::string_view why,
                                    std::string_view expected) {
  return report_settings("invalid location '" +
                             redact_url_password(librtmp::redact_secrets(location)) +
                             "': " + std::string(why),
                         "expected " + std::string(expected) +
                             "; the element does not start until a valid location is set");
}

static void post(GstElement *element, GstMessageType type, const ErrorReport &r, const char *file,
                 const char *function, int line) {
  // gst_element_message_full() takes ownership of both strings (it is what GST_ELEMENT_ERROR
  // expands to; the macro itself needs compile-time domain and code).
  gst_element_message_full(element, type, r.domain, r.code, g_strdup(r.text.c_str()),
                           g_strdup(r.debug.c_str()), file, function, line);
}

void post_error(GstElement *element, const ErrorReport &r, const char *file, const char *function,
                int line) {
  post(element, GST_MESSAGE_ERROR, r, file, function, line);
}

void post_warning(GstElement *element, const ErrorReport &r, const char *file, const char *function,
                  int line) {
  post(element, GST_MESSAGE_WARNING, r, file, function, line);
}

} // namespace rtmp::gst
