// A location the element refuses never sends the stream anywhere: rtmpsrc, rtmpsink and
// rtmpserversrc keep the refusal, fail their start with GST_RESOURCE_ERROR_SETTINGS naming the
// location and what is wrong with it, and connect (or listen) nowhere; their URI handlers return
// the error. Each client test points the fields a refused location leaves in place (host, port,
// application, stream) at a loopback listener, so that connecting with them would show there.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client_harness.hpp"
#include "element_test_util.hpp"
#include "our_plugin.hpp"

using namespace rtmp::test;

namespace {

class InvalidLocation : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

// A loopback socket that listens and never accepts: the kernel completes TCP handshakes into
// its backlog on its own, so a connection attempt shows as a pending connection.
class SilentListener {
public:
  SilentListener() {
    sock_ =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *a = g_inet_socket_address_new(lo, 0);
    EXPECT_TRUE(g_socket_bind(sock_, a, TRUE, nullptr));
    EXPECT_TRUE(g_socket_listen(sock_, nullptr));
    GSocketAddress *local = g_socket_get_local_address(sock_, nullptr);
    port_ = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
    g_object_unref(local);
    g_object_unref(a);
    g_object_unref(lo);
    g_socket_set_blocking(sock_, FALSE);
  }
  ~SilentListener() {
    g_socket_close(sock_, nullptr);
    g_object_unref(sock_);
  }
  SilentListener(const SilentListener &) = delete;
  SilentListener &operator=(const SilentListener &) = delete;

  guint16 port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }

  // Connections that arrived, waiting up to `ms` for a first one.
  int accepted(int ms) {
    GCancellable *none = nullptr;
    g_socket_set_timeout(sock_, 0);
    int n = 0;
    GError *err = nullptr;
    if (!g_socket_condition_timed_wait(sock_, G_IO_IN, static_cast<gint64>(ms) * 1000, none,
                                       &err)) {
      g_clear_error(&err);
      return 0;
    }
    while (GSocket *c = g_socket_accept(sock_, none, nullptr)) {
      ++n;
      g_socket_close(c, nullptr);
      g_object_unref(c);
    }
    return n;
  }

private:
  GSocket *sock_ = nullptr;
  guint16 port_ = 0;
};

// How long a test waits for a connection that must not come: an element that connected at start
// (async-connect) reaches a loopback listener within milliseconds.
constexpr int kNoConnectionWaitMs = 300;

// The locations the client elements refuse, for a listener on `port`: librtmp-style options
// after the URL, no stream name, another scheme, no host (the default port), nothing at all.
std::vector<std::string> bad_client_locations(const std::string &port) {
  return {"rtmp://127.0.0.1:" + port + "/live/key live=maybe", "rtmp://127.0.0.1:" + port + "/x",
          "http://127.0.0.1:" + port + "/live/x", "rtmp:///live/x", ""};
}

// Points the fields a refused location leaves in place at the listener.
void aim_fields_at(GstElement *e, const SilentListener &l) {
  g_object_set(e, "host", "127.0.0.1", "port", static_cast<gint>(l.port()), "application", "live",
               "stream", "key", nullptr);
}

struct ErrorSeen {
  std::string text;
  GQuark domain = 0;
  gint code = 0;
};

ErrorSeen first_error(ErrorWatch &w) {
  ErrorSeen e;
  e.text = w.wait(2000, &e.domain, &e.code);
  return e;
}

void expect_names_location(const ErrorSeen &e, const std::string &location) {
  EXPECT_EQ(e.domain, GST_RESOURCE_ERROR) << e.text;
  EXPECT_EQ(e.code, GST_RESOURCE_ERROR_SETTINGS) << e.text;
  EXPECT_NE(e.text.find("invalid location '" + location + "'"), std::string::npos)
      << "error: " << e.text;
}

// The warning a running element posts, "" when none within `ms`.
std::string first_warning(GstBus *bus, int ms) {
  GstMessage *m = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(ms) * GST_MSECOND,
                                             GST_MESSAGE_WARNING);
  if (!m)
    return {};
  GError *err = nullptr;
  gst_message_parse_warning(m, &err, nullptr);
  std::string text = err->message;
  g_error_free(err);
  gst_message_unref(m);
  return text;
}

} // namespace

TEST_F(InvalidLocation, ClientsFailToStartAndConnectNowhere) {
  SilentListener listener;
  for (const char *factory : {"rtmpsink", "rtmpsrc"}) {
    for (const bool async_connect : {true, false}) {
      for (const std::string &bad : bad_client_locations(listener.port_text())) {
        SCOPED_TRACE(std::string(factory) + " async-connect=" + (async_connect ? "1" : "0") +
                     " location='" + bad + "'");
        GstElement *e = gst_element_factory_make(factory, nullptr);
        ASSERT_NE(e, nullptr);
        aim_fields_at(e, listener);
        g_object_set(e, "async-connect", static_cast<gboolean>(async_connect), "location",
                     bad.c_str(), nullptr);
        ErrorWatch watch(e);
        EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
        EXPECT_EQ(GST_STATE(e), GST_STATE_NULL); // NULL->READY failed, before the base class
        expect_names_location(first_error(watch), bad);
        // Ours is the only error: no "failed to post a proper error message" from the base class.
        EXPECT_EQ(watch.wait(0), "");
        gst_element_set_state(e, GST_STATE_NULL);
        gst_object_unref(e);
        EXPECT_EQ(listener.accepted(kNoConnectionWaitMs), 0);
      }
    }
  }
}

TEST_F(InvalidLocation, ARefusedLocationDoesNotFallBackToThePreviousOne) {
  SilentListener listener;
  for (const char *factory : {"rtmpsink", "rtmpsrc"}) {
    SCOPED_TRACE(factory);
    GstElement *e = gst_element_factory_make(factory, nullptr);
    const std::string good = "rtmp://127.0.0.1:" + listener.port_text() + "/live/key";
    const std::string bad = good + " live=maybe";
    g_object_set(e, "location", good.c_str(), "location", bad.c_str(), nullptr);
    // The fields (and the location read back) still name the previous destination...
    EXPECT_EQ(get_string(e, "location"), good);
    ErrorWatch watch(e);
    // ...but the element does not go there.
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    expect_names_location(first_error(watch), bad);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
    EXPECT_EQ(listener.accepted(kNoConnectionWaitMs), 0);
  }
}

TEST_F(InvalidLocation, SourcesRefuseALocationSetInReadyAtStart) {
  SilentListener listener;
  for (const char *factory : {"rtmpsrc", "rtmpserversrc"}) {
    SCOPED_TRACE(factory);
    GstElement *e = gst_element_factory_make(factory, nullptr);
    // rtmpsrc: the listener; rtmpserversrc: a free port.
    const std::string good = std::string(factory) == "rtmpsrc"
                                 ? "rtmp://127.0.0.1:" + listener.port_text() + "/live/key"
                                 : "rtmp://127.0.0.1:0/live/key";
    g_object_set(e, "location", good.c_str(), nullptr);
    ASSERT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    const std::string bad = "rtmp:///live/x";
    g_object_set(e, "location", bad.c_str(), nullptr);
    ErrorWatch watch(e);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    expect_names_location(first_error(watch), bad);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
    EXPECT_EQ(listener.accepted(kNoConnectionWaitMs), 0);
  }
}

TEST_F(InvalidLocation, AValidLocationClearsTheRefusal) {
  SilentListener listener;
  for (const char *factory : {"rtmpsink", "rtmpsrc"}) {
    SCOPED_TRACE(factory);
    GstElement *e = gst_element_factory_make(factory, nullptr);
    const std::string good = "rtmp://127.0.0.1:" + listener.port_text() + "/live/key";
    g_object_set(e, "location", "rtmp:///live/x", "timeout", 30u, nullptr);
    g_object_set(e, "location", good.c_str(), nullptr);
    ErrorWatch watch(e);
    EXPECT_NE(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    // async-connect (the default) connects at start: the listener sees it.
    EXPECT_EQ(listener.accepted(5000), 1);
    EXPECT_EQ(watch.wait(0), "");
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
}

TEST_F(InvalidLocation, ALocationRefusedWhileRunningWarnsAndTheNextConnectFails) {
  SilentListener listener;
  // async-connect=false: PLAYING without a connection; the first buffer connects.
  GstHarness *h = client_harness("rtmpsink");
  const std::string good = "rtmp://127.0.0.1:" + listener.port_text() + "/live/key";
  g_object_set(h->element, "location", good.c_str(), nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  const std::string bad = "rtmp://127.0.0.1:" + listener.port_text() + "/x";
  g_object_set(h->element, "location", bad.c_str(), nullptr);
  const std::string warning = first_warning(bus, 1000);
  EXPECT_NE(warning.find("invalid location '" + bad + "'"), std::string::npos) << warning;

  gst_harness_set_src_caps_str(h, "video/x-flv");
  EXPECT_EQ(gst_harness_push(h, gst_buffer_new_allocate(nullptr, 13, nullptr)), GST_FLOW_ERROR);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 2 * GST_SECOND, GST_MESSAGE_ERROR);
  ASSERT_NE(m, nullptr);
  GError *err = nullptr;
  gst_message_parse_error(m, &err, nullptr);
  EXPECT_TRUE(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS))
      << err->message;
  EXPECT_NE(std::string(err->message).find(bad), std::string::npos) << err->message;
  g_error_free(err);
  gst_message_unref(m);
  gst_harness_teardown(h);
  gst_object_unref(bus);
  EXPECT_EQ(listener.accepted(kNoConnectionWaitMs), 0);
}

// GStreamer itself refuses "" (not a URI) and schemes we do not list ("http") before our
// handler sees them; these are the URIs that reach it.
std::vector<std::string> bad_client_uris(const std::string &port) {
  return {"rtmp://127.0.0.1:" + port + "/live/key live=maybe", "rtmp://127.0.0.1:" + port + "/x",
          "rtmp:///live/x", "rtmps://"};
}

TEST_F(InvalidLocation, ALocationRefusedInReadyWarnsTheSinkThatConnectedThere) {
  SilentListener listener;
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  const std::string good = "rtmp://127.0.0.1:" + listener.port_text() + "/live/key";
  g_object_set(e, "location", good.c_str(), "timeout", 30u, nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  // GstBaseSink starts in NULL->READY: async-connect connects to the valid location then.
  ASSERT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  EXPECT_EQ(listener.accepted(5000), 1);
  const std::string bad = good + " live=maybe";
  g_object_set(e, "location", bad.c_str(), nullptr);
  const std::string warning = first_warning(bus, 1000);
  EXPECT_NE(warning.find("invalid location '" + bad + "'"), std::string::npos) << warning;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
  gst_object_unref(bus);
}

TEST_F(InvalidLocation, ClientUriHandlersReturnTheError) {
  SilentListener listener;
  for (const char *factory : {"rtmpsink", "rtmpsrc"}) {
    for (const std::string &bad : bad_client_uris(listener.port_text())) {
      SCOPED_TRACE(std::string(factory) + " uri='" + bad + "'");
      GstElement *e = gst_element_factory_make(factory, nullptr);
      aim_fields_at(e, listener);
      GError *err = nullptr;
      EXPECT_FALSE(gst_uri_handler_set_uri(GST_URI_HANDLER(e), bad.c_str(), &err));
      ASSERT_NE(err, nullptr);
      EXPECT_EQ(err->domain, GST_URI_ERROR);
      EXPECT_NE(std::string(err->message).find("invalid location '" + bad + "'"), std::string::npos)
          << err->message;
      g_clear_error(&err);
      // An application that goes on regardless gets the refusal at start, not the old fields.
      ErrorWatch watch(e);
      EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
      expect_names_location(first_error(watch), bad);
      gst_element_set_state(e, GST_STATE_NULL);
      gst_object_unref(e);
      EXPECT_EQ(listener.accepted(kNoConnectionWaitMs), 0);
    }
    GstElement *e = gst_element_factory_make(factory, nullptr);
    GError *err = nullptr;
    EXPECT_FALSE(gst_uri_handler_set_uri(GST_URI_HANDLER(e), "http://127.0.0.1/live/x", &err));
    EXPECT_TRUE(g_error_matches(err, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL));
    g_clear_error(&err);
    gst_object_unref(e);
  }
  // What playbin / uridecodebin do: our elements refuse an rtmp:// URI they cannot use (another
  // plugin's element may still take it).
  const std::string ours = our_plugin_dir();
  for (const GstURIType type : {GST_URI_SRC, GST_URI_SINK}) {
    const std::string uri = "rtmp://127.0.0.1:" + listener.port_text() + "/x";
    GError *err = nullptr;
    GstElement *e = gst_element_make_from_uri(type, uri.c_str(), nullptr, &err);
    if (e) {
      const char *name = GST_OBJECT_NAME(gst_element_get_factory(e));
      EXPECT_NE(plugin_file(name).rfind(ours, 0), 0u) << name << " took " << uri;
      gst_object_unref(e);
    } else {
      ASSERT_NE(err, nullptr);
    }
    g_clear_error(&err);
  }
}

TEST_F(InvalidLocation, CredentialsOfARefusedLocationAreNotShown) {
  GstElement *e = gst_element_factory_make("rtmpsink", nullptr);
  g_object_set(e, "location", "rtmp://bob:secret@127.0.0.1/live/key live=maybe", nullptr);
  ErrorWatch watch(e);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  const std::string text = watch.wait(2000);
  EXPECT_NE(text.find("rtmp://bob:***@127.0.0.1/live/key live=maybe"), std::string::npos) << text;
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

// ---- rtmpserversrc: a refused location listens nowhere ---------------------------------------

// Whether something listens on 127.0.0.1:`port`.
bool listening_on(guint16 port) {
  GSocketClient *client = g_socket_client_new();
  g_socket_client_set_timeout(client, 2);
  const std::string where = "127.0.0.1:" + std::to_string(port);
  GSocketConnection *c =
      g_socket_client_connect_to_host(client, where.c_str(), 0, nullptr, nullptr);
  if (c)
    g_object_unref(c);
  g_object_unref(client);
  return c != nullptr;
}

TEST_F(InvalidLocation, ServerFailsToStartAndListensNowhere) {
  const guint16 port = refused_port();
  const std::string p = std::to_string(port);
  // "rtmp://host:port/x" is a valid listen location (application x, any stream key).
  for (const std::string &bad :
       {"rtmp://127.0.0.1:" + p + "/live/key live=1", "http://127.0.0.1:" + p + "/live/x",
        std::string("rtmp:///live/x"), std::string("")}) {
    SCOPED_TRACE("location='" + bad + "'");
    GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
    ASSERT_NE(e, nullptr);
    // The fields a refused location leaves in place name a free port.
    g_object_set(e, "host", "127.0.0.1", "port", static_cast<guint>(port), "location", bad.c_str(),
                 nullptr);
    ErrorWatch watch(e);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    EXPECT_EQ(GST_STATE(e), GST_STATE_NULL);
    expect_names_location(first_error(watch), bad);
    EXPECT_EQ(watch.wait(0), "");
    guint bound = 1;
    g_object_get(e, "bound-port", &bound, nullptr);
    EXPECT_EQ(bound, 0u);
    EXPECT_FALSE(listening_on(port));
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
}

TEST_F(InvalidLocation, ServerAcceptsAnApplicationWithoutStreamKey) {
  GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
  g_object_set(e, "location", "rtmp://127.0.0.1:0/x", nullptr);
  EXPECT_EQ(get_string(e, "application"), "x");
  EXPECT_EQ(get_string(e, "stream-key"), "");
  ErrorWatch watch(e);
  EXPECT_NE(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ(watch.wait(0), "");
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

TEST_F(InvalidLocation, ServerValidLocationClearsTheRefusal) {
  GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
  g_object_set(e, "location", "rtmp:///live/x", "location", "rtmp://127.0.0.1:0/live/key", nullptr);
  ErrorWatch watch(e);
  EXPECT_NE(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  guint bound = 0;
  g_object_get(e, "bound-port", &bound, nullptr);
  EXPECT_NE(bound, 0u);
  EXPECT_EQ(watch.wait(0), "");
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

TEST_F(InvalidLocation, ServerUriHandlerReturnsTheErrorNamingTheUri) {
  const std::string p = std::to_string(refused_port());
  for (const std::string &bad :
       {"rtmpserver://127.0.0.1:" + p + "/live/key live=1", std::string("rtmpserver:///live/x"),
        std::string("rtmpservers://")}) {
    SCOPED_TRACE("uri='" + bad + "'");
    GstElement *e = gst_element_factory_make("rtmpserversrc", nullptr);
    GError *err = nullptr;
    EXPECT_FALSE(gst_uri_handler_set_uri(GST_URI_HANDLER(e), bad.c_str(), &err));
    ASSERT_NE(err, nullptr);
    EXPECT_NE(std::string(err->message).find("invalid location '" + bad + "'"), std::string::npos)
        << err->message;
    g_clear_error(&err);
    ErrorWatch watch(e);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    expect_names_location(first_error(watch), bad);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
}
