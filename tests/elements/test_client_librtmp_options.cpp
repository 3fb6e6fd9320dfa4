// librtmp-style locations on rtmpsrc / rtmpsink ("rtmp://h/app/key live=1 buffer=1000"): each
// option with a meaning here lands on the property of that meaning, a malformed one refuses the
// location (GST_RESOURCE_ERROR_SETTINGS naming it), one without a meaning warns once when the
// element starts, the URI handler takes such a URI, and what the options say reaches the server
// in connect (FakeRtmpServer records it).
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/flv.hpp"
#include "element_test_util.hpp"
#include "fake_server.hpp"
#include "our_plugin.hpp"

using namespace rtmp;
using namespace rtmp::test;

namespace {

class LibrtmpOptions : public ::testing::Test {
protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

GstElement *make(const char *factory, const std::string &location) {
  GstElement *e = gst_element_factory_make(factory, nullptr);
  g_object_set(e, "async-connect", FALSE, "location", location.c_str(), nullptr);
  return e;
}

guint get_uint(GstElement *e, const char *prop) {
  guint v = 0;
  g_object_get(e, prop, &v, nullptr);
  return v;
}

// Texts of the WARNING messages on `bus` within `ms`.
std::vector<std::string> warnings(GstBus *bus, int ms) {
  std::vector<std::string> out;
  while (GstMessage *m = gst_bus_timed_pop_filtered(
             bus, static_cast<GstClockTime>(ms) * GST_MSECOND, GST_MESSAGE_WARNING)) {
    GError *err = nullptr;
    gst_message_parse_warning(m, &err, nullptr);
    out.emplace_back(err->message);
    g_error_free(err);
    gst_message_unref(m);
  }
  return out;
}

Bytes flv_file() {
  Bytes f = make_flv_header(FlvHeader{true, true});
  write_flv_tag(8, 0, Bytes{0xAF, 0x00, 0x12, 0x10}, f);
  write_flv_tag(9, 0, Bytes{0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 7}, f);
  return f;
}

} // namespace

TEST_F(LibrtmpOptions, HonouredOptionsSetTheirProperties) {
  const std::string location =
      "rtmp://h:1936/url-app/url-key app=other/inst playpath=mp4:film.mp4 "
      "tcUrl=rtmp://h:1936/other/inst pageUrl=http://p/a\\20b.html swfUrl=http://p/x.swf "
      "flashVer=WIN\\2011,1,102,55 token=sesame timeout=30 buffer=1000 live=0 start=2.5";
  for (const char *factory : {"rtmpsrc", "rtmpsink"}) {
    GstElement *e = make(factory, location);
    EXPECT_EQ(get_string(e, "host"), "h") << factory;
    EXPECT_EQ(get_string(e, "application"), "other/inst") << factory;
    EXPECT_EQ(get_string(e, "stream"), "mp4:film.mp4") << factory;
    EXPECT_EQ(get_string(e, "tc-url"), "rtmp://h:1936/other/inst") << factory;
    EXPECT_EQ(get_string(e, "page-url"), "http://p/a b.html") << factory;
    EXPECT_EQ(get_string(e, "swf-url"), "http://p/x.swf") << factory;
    EXPECT_EQ(get_string(e, "flash-version"), "WIN 11,1,102,55") << factory;
    EXPECT_EQ(get_string(e, "secure-token"), "sesame") << factory;
    EXPECT_EQ(get_uint(e, "timeout"), 30u) << factory;
    // The location reads back as the URL of what it names; the options are the properties.
    EXPECT_EQ(get_string(e, "location"), "rtmp://h:1936/other/inst/mp4:film.mp4") << factory;
    gst_object_unref(e);
  }
  GstElement *src = make("rtmpsrc", location);
  gboolean live = TRUE;
  gint64 start = 0;
  g_object_get(src, "live", &live, "start", &start, nullptr);
  EXPECT_FALSE(live);
  EXPECT_EQ(start, 2500);
  EXPECT_EQ(get_uint(src, "buffer-length"), 1000u);
  // librtmp's timeout is "no data for that long": `timeout` says that by itself as long as
  // idle-timeout is not set (no_data_watch.h), so the option leaves idle-timeout alone.
  EXPECT_EQ(get_uint(src, "idle-timeout"), 0u);
  gst_object_unref(src);
}

TEST_F(LibrtmpOptions, LivePlaysLiveOnly) {
  GstElement *src = make("rtmpsrc", "rtmp://h/live/key live=1");
  gboolean live = FALSE;
  gint64 start = 0;
  g_object_get(src, "live", &live, "start", &start, nullptr);
  EXPECT_TRUE(live);
  EXPECT_EQ(start, -1); // librtmp plays a live stream with start -1
  EXPECT_EQ(get_string(src, "tc-url"), "");
  // A location replaces what only a location says (tcUrl) and leaves the rest.
  g_object_set(src, "location", "rtmp://h/live/key tcUrl=rtmp://x/y", nullptr);
  EXPECT_EQ(get_string(src, "tc-url"), "rtmp://x/y");
  g_object_set(src, "location", "rtmp://h/live/key", nullptr);
  EXPECT_EQ(get_string(src, "tc-url"), "");
  gst_object_unref(src);
}

TEST_F(LibrtmpOptions, MalformedOptionIsARefusedLocation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rtmp://127.0.0.1/live/key live=maybe", "live=maybe"},
      {"rtmp://127.0.0.1/live/key buffer", "'buffer'"},
      {"rtmp://127.0.0.1/live/key conn=O:1", "conn"},
      {"rtmp://127.0.0.1/live/key pageUrl=a\\2", "pageUrl"},
      {"rtmp://127.0.0.1/live/key plypath=x", "plypath"},
  };
  for (const char *factory : {"rtmpsrc", "rtmpsink"}) {
    for (const auto &[location, names] : cases) {
      GstElement *e = make(factory, location);
      ErrorWatch w(e);
      EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << location;
      GQuark domain = 0;
      gint code = 0;
      const std::string text = w.wait(1000, &domain, &code);
      EXPECT_EQ(domain, GST_RESOURCE_ERROR) << text;
      EXPECT_EQ(code, GST_RESOURCE_ERROR_SETTINGS) << text;
      EXPECT_NE(text.find("invalid location"), std::string::npos) << text;
      EXPECT_NE(text.find(names), std::string::npos) << factory << ": " << text;
      gst_element_set_state(e, GST_STATE_NULL);
      gst_object_unref(e);
    }
  }
}

TEST_F(LibrtmpOptions, TheTokenOfARefusedLocationIsNotShown) {
  GstElement *e = make("rtmpsrc", "rtmp://127.0.0.1/live/key token=s3cret live=maybe");
  ErrorWatch w(e);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  const std::string text = w.wait(1000);
  EXPECT_NE(text.find("token=*** live=maybe"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

TEST_F(LibrtmpOptions, OptionWithoutMeaningWarnsOnce) {
  const std::string location = "rtmp://127.0.0.1:" + std::to_string(refused_port()) +
                               "/live/key swfVfy=1 socks=proxy:1080 swfVfy=0 live=1";
  for (const char *factory : {"rtmpsrc", "rtmpsink"}) {
    GstElement *e = make(factory, location);
    ErrorWatch w(e);
    ASSERT_NE(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE) << factory;
    const auto seen = warnings(w.bus, 200);
    ASSERT_EQ(seen.size(), 2u) << factory;
    EXPECT_NE(seen[0].find("'swfVfy'"), std::string::npos) << seen[0];
    EXPECT_NE(seen[1].find("'socks'"), std::string::npos) << seen[1];
    EXPECT_EQ(w.wait(0), "");
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
}

TEST_F(LibrtmpOptions, SinkWarnsAboutPlayOnlyOptions) {
  GstElement *e = make("rtmpsink", "rtmp://127.0.0.1:" + std::to_string(refused_port()) +
                                       "/live/key buffer=100 live=1");
  ErrorWatch w(e);
  ASSERT_NE(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  const auto seen = warnings(w.bus, 200);
  ASSERT_EQ(seen.size(), 1u); // live=1 is what a publisher does anyway
  EXPECT_NE(seen[0].find("'buffer'"), std::string::npos) << seen[0];
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

TEST_F(LibrtmpOptions, UriHandlerTakesOptions) {
  GError *err = nullptr;
  GstElement *src =
      gst_element_make_from_uri(GST_URI_SRC, "rtmp://h/live/key live=0 buffer=250", nullptr, &err);
  ASSERT_NE(src, nullptr) << (err ? err->message : "");
  EXPECT_EQ(std::string(GST_OBJECT_NAME(gst_element_get_factory(src))), "rtmpsrc");
  gboolean live = TRUE;
  g_object_get(src, "live", &live, nullptr);
  EXPECT_FALSE(live);
  EXPECT_EQ(get_uint(src, "buffer-length"), 250u);
  gst_object_unref(src);

  GstElement *sink = gst_element_make_from_uri(
      GST_URI_SINK, "rtmp://h/live/key flashVer=FMLE/3.0\\20(compatible)", nullptr, &err);
  ASSERT_NE(sink, nullptr) << (err ? err->message : "");
  EXPECT_EQ(get_string(sink, "flash-version"), "FMLE/3.0 (compatible)");
  gst_object_unref(sink);

  // A malformed option: our handler refuses the URI, naming the option (another plugin's
  // element may still take it when make_from_uri goes on to the next factory).
  GstElement *ours = gst_element_factory_make("rtmpsrc", nullptr);
  EXPECT_FALSE(
      gst_uri_handler_set_uri(GST_URI_HANDLER(ours), "rtmp://h/live/key live=maybe", &err));
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(err->message).find("live=maybe"), std::string::npos) << err->message;
  g_clear_error(&err);
  gst_object_unref(ours);
  GstElement *bad =
      gst_element_make_from_uri(GST_URI_SRC, "rtmp://h/live/key live=maybe", nullptr, &err);
  if (bad) {
    const char *name = GST_OBJECT_NAME(gst_element_get_factory(bad));
    EXPECT_NE(plugin_file(name).rfind(our_plugin_dir(), 0), 0u) << name;
    gst_object_unref(bad);
  }
  g_clear_error(&err);
}

TEST_F(LibrtmpOptions, ConnectCarriesTheOptions) {
  FakeRtmpServer server;
  const std::string port = std::to_string(server.port());
  GstElement *sink = gst_element_factory_make("rtmpsink", nullptr);
  const std::string location =
      "rtmp://127.0.0.1:" + port + "/wrong/path app=live playpath=test " +
      "tcUrl=rtmp://example.com/live pageUrl=http://p/page.html swfUrl=http://p/x.swf " +
      "flashVer=FMLE/3.0\\20(test) conn=B:1 conn=S:authMe conn=O:1 conn=NN:code:1.23 " +
      "conn=NS:flag:ok conn=O:0 conn=Z:";
  g_object_set(sink, "async-connect", FALSE, "location", location.c_str(), nullptr);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *appsrc = gst_element_factory_make("appsrc", nullptr);
  ASSERT_NE(appsrc, nullptr);
  GstCaps *caps = gst_caps_from_string("video/x-flv");
  g_object_set(appsrc, "caps", caps, "format", GST_FORMAT_TIME, nullptr);
  gst_caps_unref(caps);
  gst_bin_add_many(GST_BIN(pipeline), appsrc, sink, nullptr);
  ASSERT_TRUE(gst_element_link(appsrc, sink));
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  const Bytes flv = flv_file();
  GstFlowReturn ret = GST_FLOW_OK;
  g_signal_emit_by_name(appsrc, "push-buffer", gst_buffer_new_memdup(flv.data(), flv.size()), &ret);
  ASSERT_TRUE(server.wait_until([&] { return server.published().size() >= 2; }, 3000));

  const auto c = server.connect_request();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->app, "live");
  EXPECT_EQ(c->tc_url, "rtmp://example.com/live");
  EXPECT_EQ(c->flash_ver, "FMLE/3.0 (test)");
  EXPECT_EQ(c->command_object.string_at("pageUrl"), "http://p/page.html");
  EXPECT_EQ(c->command_object.string_at("swfUrl"), "http://p/x.swf");
  const std::vector<amf::Value> expected{
      amf::Value(true), amf::Value("authMe"),
      amf::make_object({{"code", amf::Value(1.23)}, {"flag", amf::Value("ok")}}),
      amf::Value(amf::Null{})};
  EXPECT_EQ(c->args, expected);
  EXPECT_TRUE(server.saw("PublishRequest"));
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}
