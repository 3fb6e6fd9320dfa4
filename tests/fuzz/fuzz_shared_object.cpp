// libFuzzer target: shared object messages (RTMP 1.0 section 7.1.3). The first byte picks type
// 19 or 16; whatever decodes is encoded again and must decode back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/amf0.hpp"
#include "core/shared_object.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  rtmp::Message m;
  m.type = (data[0] & 1) ? 16 : 19;
  m.payload.assign(data + 1, data + size);
  if (auto so = rtmp::decode_shared_object(m)) {
    if (!rtmp::decode_shared_object(rtmp::encode_shared_object(*so, 0, m.type == 16)))
      std::abort();
  }
  return 0;
}
