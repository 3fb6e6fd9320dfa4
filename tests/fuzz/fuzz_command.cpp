// libFuzzer target: command and data messages (RTMP 1.0 sections 7.1.1, 7.1.2). The first byte
// picks the message type (20, 17, 18, 15), the rest is the payload. Whatever decodes is encoded
// again in both encodings and decoded back, which must not fail.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/amf0.hpp"
#include "core/command.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static constexpr std::uint8_t kTypes[] = {20, 17, 18, 15};
  rtmp::Message m;
  m.type = kTypes[data[0] % 4];
  m.payload.assign(data + 1, data + size);
  if (m.type == 20 || m.type == 17) {
    if (auto c = rtmp::decode_command(m)) {
      for (bool amf3 : {false, true})
        if (!rtmp::decode_command(rtmp::encode_command(*c, 1, amf3)))
          std::abort();
      (void)rtmp::parse_connect(*c);
      (void)rtmp::parse_play(*c);
      (void)rtmp::created_stream_id(*c);
      for (const auto &a : c->arguments)
        (void)rtmp::status_from(a);
    }
  } else if (auto d = rtmp::decode_data(m)) {
    (void)rtmp::unwrap_set_data_frame(*d);
    for (bool amf3 : {false, true})
      if (!rtmp::decode_data(rtmp::encode_data(*d, 1, 0, amf3)))
        std::abort();
  }
  return 0;
}
