// libFuzzer target: a librtmp-style location ("rtmp://h/app/key live=1 conn=O:1 ...") as a user or
// a playlist writes it. Whatever parses must survive escape_value() (each decoded option value,
// escaped again, decodes back to the same bytes) and redact_secrets() (it still parses).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/librtmp_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  std::string why;
  auto location = rtmp::librtmp::parse_location(in, &why);
  // What an error message quotes: still a location that parses whenever the original did.
  const std::string redacted = rtmp::librtmp::redact_secrets(in);
  if (!location.ok())
    return 0;
  if (!rtmp::librtmp::parse_location(redacted).ok())
    std::abort();
  const auto space = in.find(' ');
  if (space == std::string_view::npos)
    return 0;
  auto options = rtmp::librtmp::split_options(in.substr(space + 1));
  if (!options.ok())
    std::abort(); // parse_location accepted what split_options refuses
  for (const auto &o : options.value()) {
    auto back = rtmp::librtmp::decode_escapes(rtmp::librtmp::escape_value(o.value));
    if (!back.ok() || back.value() != o.value)
      std::abort();
  }
  return 0;
}
