// Micro-benchmarks of the sans-IO core (issue 6, item 6): chunk writer and reader against memcpy
// of the same payload bytes (the physical limit), AMF0 encode/decode of the two AMF payloads every
// session carries (onMetaData, connect), FLV tag reassembly from tiny and large input buffers, and
// a ClientSession -> ServerSession media pipe.
//
// Each benchmark reports bytes_per_second over the media payload bytes it moves, so that
// tests/bench/micro_report.py can divide by the memcpy figure of the same size. Every benchmark
// checks what came out (message count and total payload) and stops with SkipWithError when data
// went missing: a fast result that lost data is a failure.
//
// Smoke mode: `bench_core --benchmark_min_time=0.01` runs everything once, quickly.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "core/amf0.hpp"
#include "core/chunk_reader.hpp"
#include "core/chunk_writer.hpp"
#include "core/client_session.hpp"
#include "core/command.hpp"
#include "core/flv.hpp"
#include "core/server_session.hpp"

namespace {

using namespace rtmp;

// Work done inside the pass_* functions, for instruction counts under callgrind: run one
// benchmark with `valgrind --tool=callgrind --toggle-collect='*pass_*'` and BENCH_CORE_TOTALS=1;
// the collected instructions divided by these totals (printed at exit) give instructions per
// payload byte or per operation, independent of the other load on the machine
// (tests/bench/profile_core.sh).
std::uint64_t g_pass_count = 0;
std::uint64_t g_pass_bytes = 0;

struct TotalsPrinter {
  ~TotalsPrinter() {
    if (std::getenv("BENCH_CORE_TOTALS"))
      std::fprintf(stderr, "bench_core totals: passes=%llu bytes=%llu\n",
                   static_cast<unsigned long long>(g_pass_count),
                   static_cast<unsigned long long>(g_pass_bytes));
  }
} g_totals_printer;

void count_pass(std::size_t bytes) {
  ++g_pass_count;
  g_pass_bytes += bytes;
}

// A media burst as a high-bitrate H.264/AAC stream produces it: one large video frame (key
// frame or P frame at several Mbit/s) and a few AAC frames. The sizes are fixed so that runs are
// comparable; the contents are pseudo-random so that nothing compresses or short-circuits.
struct Frame {
  MessageType type;
  std::uint32_t timestamp;
  Bytes payload;
};

std::vector<Frame> make_frames(std::size_t count) {
  std::mt19937 rng(42);
  std::vector<Frame> frames;
  std::uint32_t ts = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Frame f;
    const bool video = i % 3 != 2;
    f.type = video ? MessageType::video : MessageType::audio;
    // Video 20..60 KB (a 10 Mbit/s stream at 25 fps averages 50 KB), AAC ~ 370 bytes.
    const std::size_t size = video ? 20000 + rng() % 40000 : 360 + rng() % 20;
    f.payload.resize(size);
    for (auto &b : f.payload)
      b = static_cast<std::uint8_t>(rng());
    f.timestamp = ts;
    ts += video ? 40 : 23;
    frames.push_back(std::move(f));
  }
  return frames;
}

const std::vector<Frame> &frames() {
  static const std::vector<Frame> f = make_frames(96);
  return f;
}

std::size_t payload_bytes(const std::vector<Frame> &fs) {
  std::size_t n = 0;
  for (const auto &f : fs)
    n += f.payload.size();
  return n;
}

Message to_message(const Frame &f) {
  Message m;
  m.type = static_cast<std::uint8_t>(f.type);
  m.timestamp = f.timestamp;
  m.stream_id = 1;
  m.payload = f.payload;
  return m;
}

// The physical limit: copying the same payload bytes once, frame by frame, into a reused buffer.
[[gnu::noinline]] void pass_memcpy(const std::vector<Frame> &fs, Bytes &dst) {
  std::size_t pos = 0;
  for (const auto &f : fs) {
    std::memcpy(dst.data() + pos, f.payload.data(), f.payload.size());
    pos += f.payload.size();
  }
  count_pass(pos);
}

void BM_Memcpy(benchmark::State &state) {
  const auto &fs = frames();
  Bytes dst(payload_bytes(fs));
  for (auto _ : state) {
    pass_memcpy(fs, dst);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes(fs)));
}
BENCHMARK(BM_Memcpy);

// ChunkWriter: messages into one reused output buffer (what a session's take_output() swaps
// out). The Message objects are built before timing, so only chunking is measured.
[[gnu::noinline]] bool pass_chunk_writer(ChunkWriter &w, const std::vector<Message> &msgs,
                                         Bytes &out) {
  out.clear();
  std::size_t bytes = 0;
  for (const auto &m : msgs) {
    if (w.write(m, out))
      return false;
    bytes += m.payload.size();
  }
  count_pass(bytes);
  return true;
}

void BM_ChunkWriter(benchmark::State &state) {
  const auto chunk_size = static_cast<std::uint32_t>(state.range(0));
  const auto &fs = frames();
  std::vector<Message> msgs;
  for (const auto &f : fs)
    msgs.push_back(to_message(f));
  ChunkWriter w;
  w.set_chunk_size(chunk_size);
  Bytes out;
  for (auto _ : state) {
    if (!pass_chunk_writer(w, msgs, out)) {
      state.SkipWithError("ChunkWriter::write failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  // Header overhead of this chunk size, for the report.
  state.counters["wire_bytes_per_payload_byte"] =
      static_cast<double>(out.size()) / static_cast<double>(payload_bytes(fs));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes(fs)));
}
BENCHMARK(BM_ChunkWriter)->Arg(128)->Arg(4096)->Arg(65536);

// ChunkReader: the chunked stream of the same frames, complete messages collected and released.
// One pass over the wire in 64 KiB reads (what one g_socket_receive into a large buffer returns
// under load); returns the payload bytes of the messages that came out (0 on error).
[[gnu::noinline]] std::size_t pass_chunk_reader(const Bytes &wire, std::uint32_t chunk_size,
                                                std::vector<Message> &out) {
  constexpr std::size_t kReadSize = 64 * 1024;
  // A fresh reader per pass (cheap: no allocation until the first chunk): the wire starts with
  // type 0 headers, so a reused reader would see timestamps jump backwards.
  ChunkReader r;
  r.set_chunk_size(chunk_size);
  std::size_t total = 0;
  for (std::size_t pos = 0; pos < wire.size(); pos += kReadSize) {
    const std::size_t n = std::min(kReadSize, wire.size() - pos);
    if (r.read(ByteView(wire).subspan(pos, n), out))
      return 0;
    for (const auto &m : out)
      total += m.payload.size();
    out.clear();
  }
  count_pass(total);
  return total;
}

void BM_ChunkReader(benchmark::State &state) {
  const auto chunk_size = static_cast<std::uint32_t>(state.range(0));
  const auto &fs = frames();
  ChunkWriter w;
  w.set_chunk_size(chunk_size);
  Bytes wire;
  for (const auto &f : fs)
    if (w.write(to_message(f), wire)) {
      state.SkipWithError("ChunkWriter::write failed");
      return;
    }
  std::vector<Message> out;
  out.reserve(fs.size());
  for (auto _ : state) {
    if (pass_chunk_reader(wire, chunk_size, out) != payload_bytes(fs)) {
      state.SkipWithError("ChunkReader failed or lost payload bytes");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes(fs)));
}
BENCHMARK(BM_ChunkReader)->Arg(128)->Arg(4096)->Arg(65536);

// ---- AMF0 (AMF0 spec 2.x) ------------------------------------------------------------------

// onMetaData as FFmpeg's FLV muxer writes it for H.264/AAC (AMF0 string + ECMA array).
std::vector<amf::Value> on_metadata() {
  amf::Properties p = {
      {"duration", 120.0},          {"width", 1920.0},
      {"height", 1080.0},           {"videodatarate", 6835.9375},
      {"framerate", 25.0},          {"videocodecid", 7.0},
      {"audiodatarate", 125.0},     {"audiosamplerate", 48000.0},
      {"audiosamplesize", 16.0},    {"stereo", true},
      {"audiocodecid", 10.0},       {"major_brand", "isom"},
      {"minor_version", "512"},     {"compatible_brands", "isomiso2avc1mp41"},
      {"encoder", "Lavf59.27.100"}, {"filesize", 104857600.0},
  };
  return {amf::Value("onMetaData"), amf::make_ecma_array(std::move(p))};
}

// The connect command (RTMP 1.0 section 7.2.1.1) as FFmpeg sends it when playing.
Command connect_command() {
  auto p = ConnectParams::for_play("live", "rtmp://127.0.0.1:1935/live");
  return make_connect(p, 1);
}

[[gnu::noinline]] std::size_t pass_amf0_encode(const std::vector<amf::Value> &values) {
  Bytes b = amf::encode_amf0(values);
  benchmark::DoNotOptimize(b.data());
  count_pass(b.size());
  return b.size();
}

[[gnu::noinline]] bool pass_amf0_decode(const Bytes &wire) {
  auto r = amf::decode_amf0_sequence(wire);
  benchmark::DoNotOptimize(r);
  count_pass(wire.size());
  return r.ok() && r->size() == 2;
}

[[gnu::noinline]] std::size_t pass_command_encode(const Command &cmd) {
  Message m = encode_command(cmd, 0);
  benchmark::DoNotOptimize(m.payload.data());
  count_pass(m.payload.size());
  return m.payload.size();
}

[[gnu::noinline]] bool pass_command_decode(const Message &m) {
  auto r = decode_command(m);
  benchmark::DoNotOptimize(r);
  count_pass(m.payload.size());
  return r.ok() && r->name == "connect";
}

void BM_Amf0EncodeOnMetaData(benchmark::State &state) {
  const auto values = on_metadata();
  std::size_t size = 0;
  for (auto _ : state)
    size = pass_amf0_encode(values);
  state.counters["bytes"] = static_cast<double>(size);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_Amf0EncodeOnMetaData);

void BM_Amf0DecodeOnMetaData(benchmark::State &state) {
  const auto values = on_metadata();
  const Bytes wire = amf::encode_amf0(values);
  for (auto _ : state) {
    if (!pass_amf0_decode(wire)) {
      state.SkipWithError("onMetaData did not decode");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_Amf0DecodeOnMetaData);

void BM_Amf0EncodeConnect(benchmark::State &state) {
  const Command cmd = connect_command();
  std::size_t size = 0;
  for (auto _ : state)
    size = pass_command_encode(cmd);
  state.counters["bytes"] = static_cast<double>(size);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_Amf0EncodeConnect);

void BM_Amf0DecodeConnect(benchmark::State &state) {
  const Message m = encode_command(connect_command(), 0);
  for (auto _ : state) {
    if (!pass_command_decode(m)) {
      state.SkipWithError("connect did not decode");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.payload.size()));
}
BENCHMARK(BM_Amf0DecodeConnect);

// ---- FLV tag reassembly (FLV spec 10.1 annex E) ----------------------------------------------

const Bytes &flv_file() {
  static const Bytes file = [] {
    Bytes b = make_flv_header({});
    for (const auto &f : frames())
      (void)write_flv_tag(static_cast<std::uint8_t>(f.type), f.timestamp, f.payload, b);
    return b;
  }();
  return file;
}

// FlvReader fed `range(0)` bytes at a time: 1 is the worst case a sink can be handed (an
// upstream that splits buffers arbitrarily), 4096 is filesrc's default blocksize and 65536 a
// large read.
// Returns the number of tags read (0 on error).
[[gnu::noinline]] std::size_t pass_flv_reader(const Bytes &file, std::size_t step,
                                              std::vector<FlvTag> &tags) {
  FlvReader r;
  tags.clear();
  for (std::size_t pos = 0; pos < file.size(); pos += step) {
    const std::size_t n = std::min(step, file.size() - pos);
    if (r.read(ByteView(file).subspan(pos, n), tags))
      return 0;
  }
  count_pass(file.size());
  return tags.size();
}

void BM_FlvReader(benchmark::State &state) {
  const auto step = static_cast<std::size_t>(state.range(0));
  const Bytes &file = flv_file();
  std::vector<FlvTag> tags;
  tags.reserve(frames().size());
  for (auto _ : state) {
    if (pass_flv_reader(file, step, tags) != frames().size()) {
      state.SkipWithError("FlvReader failed or lost tags");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * file.size()));
}
BENCHMARK(BM_FlvReader)->Arg(1)->Arg(4096)->Arg(65536);

// ---- ClientSession -> ServerSession ----------------------------------------------------------

HandshakeOptions fixed_handshake(std::uint8_t seed) {
  HandshakeOptions o;
  o.random_fill = [seed](std::span<std::uint8_t> out) {
    std::uint8_t v = seed;
    for (auto &b : out)
      b = v = static_cast<std::uint8_t>(v * 37 + 11);
  };
  return o;
}

// A publishing client joined to a server by an in-memory pipe; the server accepts everything.
struct PublishPipe {
  ClientSession client;
  ServerSession server;
  Millis now{1000};
  std::uint32_t stream_id = 0;
  bool failed = false;
  Bytes c2s, s2c;

  static ClientConfig client_config(std::uint32_t chunk_size) {
    ClientConfig c;
    c.app = "live";
    c.tc_url = "rtmp://127.0.0.1/live";
    c.handshake = fixed_handshake(1);
    c.chunk_size = chunk_size;
    return c;
  }
  static ServerConfig server_config() {
    ServerConfig s;
    s.handshake = fixed_handshake(2);
    return s;
  }

  explicit PublishPipe(std::uint32_t chunk_size)
      : client(client_config(chunk_size)), server(server_config()) {
    server.start(now);
    client.start(now);
    settle();
    if (client.create_stream(now))
      failed = true;
    settle();
    if (stream_id == 0 || client.publish(stream_id, "bench", "live", now))
      failed = true;
    settle();
  }

  // Moves bytes both ways and answers requests until both sides are quiet (setup only).
  void settle() {
    for (int round = 0; round < 1000; ++round) {
      while (auto e = server.poll_event()) {
        if (std::holds_alternative<ConnectRequest>(*e))
          failed |= static_cast<bool>(server.accept_connect(now));
        else if (auto *p = std::get_if<PublishRequest>(&*e))
          failed |= static_cast<bool>(server.accept_publish(p->stream_id));
        else if (std::holds_alternative<Error>(*e))
          failed = true;
      }
      while (auto e = client.poll_event()) {
        if (auto *s = std::get_if<StreamCreated>(&*e))
          stream_id = s->stream_id;
        else if (std::holds_alternative<Error>(*e))
          failed = true;
      }
      client.take_output(c2s);
      server.take_output(s2c);
      if (c2s.empty() && s2c.empty())
        return;
      if (!c2s.empty())
        failed |= static_cast<bool>(server.receive(c2s, now));
      if (!s2c.empty())
        failed |= static_cast<bool>(client.receive(s2c, now));
    }
    failed = true;
  }
};

// Returns the media payload bytes the server delivered as Media events (0 on error).
[[gnu::noinline]] std::size_t pass_session(PublishPipe &p, const std::vector<Frame> &fs,
                                           std::uint32_t ts_base) {
  std::size_t media = 0, bytes = 0;
  for (const auto &f : fs)
    if (p.client.send_media(p.stream_id, f.type, ts_base + f.timestamp, f.payload))
      return 0;
  p.client.take_output(p.c2s);
  if (p.server.receive(p.c2s, p.now))
    return 0;
  while (auto e = p.server.poll_event()) {
    if (auto *m = std::get_if<Media>(&*e)) {
      ++media;
      bytes += m->msg.payload.size();
    }
  }
  // Acknowledgements flow back to the client.
  p.server.take_output(p.s2c);
  if (!p.s2c.empty() && p.client.receive(p.s2c, p.now))
    return 0;
  while (p.client.poll_event()) {
  }
  if (media != fs.size())
    return 0;
  count_pass(bytes);
  return bytes;
}

// send_media -> take_output -> receive -> poll_event for a burst of frames per iteration, with
// the acknowledgements flowing back: the whole core cost of one published stream on a server.
void BM_SessionPipe(benchmark::State &state) {
  const auto &fs = frames();
  PublishPipe p(static_cast<std::uint32_t>(state.range(0)));
  if (p.failed) {
    state.SkipWithError("session setup failed");
    return;
  }
  std::uint32_t ts_base = 0;
  for (auto _ : state) {
    if (pass_session(p, fs, ts_base) != payload_bytes(fs)) {
      state.SkipWithError("session pipe failed or lost media");
      return;
    }
    ts_base += 4000;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes(fs)));
}
BENCHMARK(BM_SessionPipe)->Arg(128)->Arg(4096)->Arg(65536);

} // namespace

BENCHMARK_MAIN();
