// A gtest global environment: before any test, every element factory of ours must come from
// plugin "rtmp" loaded from our build directory, or the binary fails at once saying how to run it.
#include "our_plugin.hpp"

#include <gst/gst.h>
#include <gtest/gtest.h>

namespace rtmp::test {

std::string our_plugin_dir() {
  const char *dir = g_getenv("RTMP_PLUGIN_DIR");
  return dir ? dir : RTMP_BUILD_PLUGIN_DIR;
}

std::string plugin_file(const char *factory_name) {
  GstElementFactory *f = gst_element_factory_find(factory_name);
  if (!f)
    return {};
  GstPlugin *p = gst_plugin_feature_get_plugin(GST_PLUGIN_FEATURE(f));
  std::string file = p && gst_plugin_get_filename(p) ? gst_plugin_get_filename(p) : "";
  if (p)
    gst_object_unref(p);
  gst_object_unref(f);
  return file;
}

namespace {

class OurPlugin : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    const std::string dir = our_plugin_dir();
    const std::string how = "run these tests with `meson test -C <build> <name>`, or set "
                            "GST_PLUGIN_PATH=" +
                            dir + " and GST_REGISTRY to a private file";
    for (const char *name : {"rtmpsink", "rtmpsrc", "rtmpserversrc"}) {
      GstElementFactory *f = gst_element_factory_find(name);
      if (!f)
        FAIL() << "no element " << name << ": " << how;
      const std::string plugin = gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(f));
      gst_object_unref(f);
      const std::string file = plugin_file(name);
      if (plugin != "rtmp" || file.rfind(dir, 0) != 0)
        FAIL() << name << " comes from plugin '" << plugin << "' in " << file
               << " (the system librtmp plugin has the same element names), not from our build "
                  "directory "
               << dir << ": " << how;
    }
  }
};

[[maybe_unused]] ::testing::Environment *const kOurPlugin =
    ::testing::AddGlobalTestEnvironment(new OurPlugin);

} // namespace

} // namespace rtmp::test
