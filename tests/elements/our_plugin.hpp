// Which plugin an element factory comes from. The system librtmp plugin has the same element
// names as ours (rtmpsrc, rtmpsink): a test binary run without our GST_PLUGIN_PATH would quietly
// test that one. our_plugin.cpp, linked into every element test binary that uses our elements,
// checks before any test that the factories come from plugin "rtmp" in our build directory.
#pragma once

#include <string>

namespace rtmp::test {

// The directory our plugin must be loaded from: $RTMP_PLUGIN_DIR (set by meson test), else the
// build directory this binary was configured in.
std::string our_plugin_dir();

// The file of the plugin that provides `factory_name`, "" when there is no such factory.
std::string plugin_file(const char *factory_name);

} // namespace rtmp::test
