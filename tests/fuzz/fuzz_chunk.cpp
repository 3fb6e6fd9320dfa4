// libFuzzer target for the chunk stream layer (RTMP 1.0 5.3) and the parsers of what it yields
// (protocol control 5.4, user control 7.1.7, aggregates 7.1.6).
//
// Input: two bytes choosing a split point (the top bit of the first also chooses the phase:
// set, the readers start streaming), then the chunk stream. Oracles besides the sanitizers:
// (1) reading in two pieces gives the same messages and error as reading at once; (2) the
// messages read, re-chunked by ChunkWriter and read back, are unchanged; (3) at the split point,
// the low-water queries are lower bounds: fewer bytes than bytes_to_complete_chunk() complete no
// message, and fewer than bytes_to_complete_message() none unless the peer interleaves (the
// condition under which Connection uses it); (4) no message read is longer than the bound of
// its type in that phase (max_size_of), and a limit error names the bound; (5) reading one
// message at a time (read_some, as Connection does before streaming) gives the same messages and
// error as reading at once.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aggregate.hpp"
#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/control.hpp"

using namespace rtmp;

namespace {

ChunkLimits fuzz_limits() {
  ChunkLimits l;
  l.max_buffered_bytes = 4u << 20; // keep each run small; the limit paths get exercised too
  return l;
}

ChunkReader make_reader(bool streaming) {
  ChunkReader r(fuzz_limits());
  if (streaming)
    r.start_streaming();
  return r;
}

bool same(const std::vector<Message> &a, const std::vector<Message> &b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].timestamp != b[i].timestamp ||
        a[i].stream_id != b[i].stream_id || a[i].chunk_stream_id != b[i].chunk_stream_id ||
        a[i].payload != b[i].payload)
      return false;
  }
  return true;
}

void parse_payload(const Message &m) {
  switch (m.kind()) {
  case MessageType::set_chunk_size:
    (void)parse_set_chunk_size(m.payload);
    break;
  case MessageType::abort:
  case MessageType::acknowledgement:
  case MessageType::window_ack_size:
    (void)parse_u32_payload(m.payload);
    break;
  case MessageType::user_control:
    (void)parse_user_control(m.payload);
    break;
  case MessageType::set_peer_bandwidth:
    if (auto pb = parse_set_peer_bandwidth(m.payload)) {
      PeerBandwidthState s;
      (void)s.on_set_peer_bandwidth(*pb);
    }
    break;
  case MessageType::aggregate:
    (void)split_aggregate(m);
    break;
  default:
    break;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size < 2)
    return 0;
  const ByteView input = ByteView(data, size).subspan(2);
  const std::size_t split = (static_cast<std::size_t>(data[0]) << 8 | data[1]) % (input.size() + 1);
  const bool streaming = (data[0] & 0x80) != 0;

  ChunkReader whole = make_reader(streaming);
  std::vector<Message> a;
  const std::error_code ea = whole.read(input, a);
  for (const Message &m : a)
    if (m.payload.size() > whole.max_size_of(m.type))
      __builtin_trap();
  if (ea == Errc::limit_exceeded && whole.error_detail().empty())
    __builtin_trap();

  ChunkReader stepwise = make_reader(streaming);
  std::vector<Message> d;
  std::error_code ed;
  for (ByteView rest = input; !rest.empty() && !ed;) {
    const std::size_t before = d.size();
    auto used = stepwise.read_some(rest, d);
    if (!used) {
      ed = used.error();
      break;
    }
    if (*used < rest.size() && d.size() == before)
      __builtin_trap(); // it stops early only after a message
    rest = rest.subspan(*used);
  }
  if (ed != ea || !same(a, d))
    __builtin_trap();

  ChunkReader pieces = make_reader(streaming);
  std::vector<Message> b;
  std::error_code eb = pieces.read(input.first(split), b);
  if (!eb) {
    const ByteView rest = input.subspan(split);
    const std::size_t by_chunk = pieces.bytes_to_complete_chunk();
    const std::size_t by_message = pieces.bytes_to_complete_message();
    for (const std::size_t q : {by_chunk, by_message}) {
      if (q < 2)
        continue;
      ChunkReader probe = pieces;
      std::vector<Message> early;
      (void)probe.read(rest.first(std::min(q - 1, rest.size())), early);
      if (!early.empty() && (q == by_chunk || !probe.peer_interleaves()))
        __builtin_trap();
    }
    eb = pieces.read(rest, b);
  }
  if (ea != eb || !same(a, b))
    __builtin_trap();

  for (const Message &m : a)
    parse_payload(m);

  // Re-chunk what was read and read it back.
  ChunkWriter w;
  Bytes wire;
  for (const Message &m : a) {
    if (w.write(m, wire))
      __builtin_trap(); // everything the reader yields is writable
    if (m.kind() == MessageType::set_chunk_size)
      w.set_chunk_size(*parse_set_chunk_size(m.payload));
  }
  ChunkReader again = make_reader(streaming);
  std::vector<Message> c;
  if (again.read(wire, c) || !same(a, c))
    __builtin_trap();
  return 0;
}
