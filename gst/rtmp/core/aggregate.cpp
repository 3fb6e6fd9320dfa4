#include "core/aggregate.hpp"

#include "core/bytes.hpp"

namespace rtmp {
namespace {

// 7.1.6: sub-message header (type, size, timestamp, timestamp extension, stream id) and the
// back pointer that follows each sub-message's data.
constexpr std::size_t kSubHeaderSize = 11;
constexpr std::size_t kBackPointerSize = 4;

} // namespace

Result<std::vector<Message>> split_aggregate(const Message &aggregate,
                                             const AggregateLimits &limits) {
  std::vector<Message> out;
  ByteReader r(aggregate.payload);
  std::uint32_t first_ts = 0;
  while (!r.empty()) {
    std::uint8_t type, ts_ext;
    std::uint32_t size, ts, sub_stream_id;
    if (!r.read_u8(type) || !r.read_u24(size) || !r.read_u24(ts) || !r.read_u8(ts_ext) ||
        !r.read_u24(sub_stream_id))
      return Errc::truncated;
    ByteView data;
    if (!r.read_bytes(size, data))
      return Errc::truncated;
    // The back pointer (size of the previous sub-message and its header) is redundant; senders
    // do not agree on its value so it is not checked, and the last one may be missing.
    if (!r.empty() && !r.skip(kBackPointerSize))
      return Errc::truncated;
    if (type == static_cast<std::uint8_t>(MessageType::aggregate))
      return Errc::malformed; // no recursion: 7.1.6 aggregates carry audio/video/data
    if (out.size() >= limits.max_sub_messages)
      return Errc::limit_exceeded;

    // FLV-style timestamp: the extension byte holds bits 24..31.
    const std::uint32_t sub_ts = ts | static_cast<std::uint32_t>(ts_ext) << 24;
    if (out.empty())
      first_ts = sub_ts;
    Message m;
    m.type = type;
    m.timestamp = aggregate.timestamp + (sub_ts - first_ts); // wraps mod 2^32 on purpose
    m.stream_id = aggregate.stream_id;
    m.chunk_stream_id = aggregate.chunk_stream_id;
    m.payload.assign(data.begin(), data.end());
    out.push_back(std::move(m));
  }
  return out;
}

Message make_aggregate(const std::vector<Message> &messages, std::uint32_t stream_id) {
  Message agg;
  agg.type = static_cast<std::uint8_t>(MessageType::aggregate);
  agg.stream_id = stream_id;
  if (!messages.empty())
    agg.timestamp = messages.front().timestamp;
  ByteWriter w(agg.payload);
  for (const Message &m : messages) {
    w.u8(m.type);
    w.u24(static_cast<std::uint32_t>(m.payload.size()));
    w.u24(m.timestamp & 0xFFFFFF);
    w.u8(static_cast<std::uint8_t>(m.timestamp >> 24));
    w.u24(0);
    w.bytes(m.payload);
    w.u32(static_cast<std::uint32_t>(kSubHeaderSize + m.payload.size()));
  }
  return agg;
}

} // namespace rtmp
