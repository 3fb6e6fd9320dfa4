// Paced RTMP publisher load generator for the Scale benchmark (issue 6, item 4): N connections
// from one single-threaded process, each publishing the tags of one FLV file in real time
// (paced by the tag timestamps, looped until the duration is over). Built on our own sans-IO
// ClientSession, with plain non-blocking sockets and poll(), so that the load costs little next
// to the server being measured.
//
//   rtmp_load HOST PORT APP STREAM_PREFIX N FILE.flv SECONDS [--hold]
//   -> {"connections":N,"publishing":N,"tags_sent":...,"bytes_sent":...,"behind":0,...,
//       "sent":[tags sent by STREAM_PREFIX0, ...]}
//
// --hold: print the result line when the publishing window ends, then keep the connections open
// until stdin is closed, so that the caller can sample the server's CPU at the end of the window
// before the disconnections (EOS, teardown; a server that exits ends its threads, and per-thread
// figures like /proc/PID/task/*/schedstat are lost with them) are charged to it.
//
// "behind" counts connections whose unsent output ever exceeded kBehindBytes: the server did not
// read fast enough to keep up with real time. "max_connect_ms" is the longest TCP connect: the
// kernel answers a SYN at once while the server's accept queue has room, so 1000 ms or more means
// a SYN was dropped and retransmitted (the listen backlog overflowed).
//
// The connects are non-blocking and all go out at once: a blocking connect() that waits for a
// SYN retransmission would leave the connections already accepted unserviced, until the server
// closes them for not completing the RTMP handshake (what made N = 200 fail, docs/performance.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/client_session.hpp"
#include "core/flv.hpp"

namespace {

using namespace rtmp;
using Clock = std::chrono::steady_clock;

// Output a connection may hold unsent before it counts as falling behind real time: about 2 s
// of a 600 kbit/s stream.
constexpr std::size_t kBehindBytes = 150 * 1024;

Millis now_ms(Clock::time_point t0) {
  return std::chrono::duration_cast<Millis>(Clock::now() - t0);
}

struct Conn {
  int fd = -1;
  bool connecting = true;
  Millis connect_started{0};
  std::unique_ptr<ClientSession> session;
  std::uint32_t stream_id = 0;
  bool publishing = false;
  bool failed = false;
  bool behind = false;
  Millis start{0};      // when pacing started (all connections publishing)
  std::size_t next = 0; // next tag to send
  std::uint32_t loop_offset = 0;
  Bytes out;
  std::size_t out_pos = 0;
  std::uint64_t tags_sent = 0;
  std::uint64_t bytes_sent = 0;
};

// Starts a non-blocking connect; the socket becomes writable when it is done.
int connect_to(const std::string &host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

void flush(Conn &c) {
  Bytes more = c.session->take_output();
  if (!more.empty()) {
    if (c.out_pos == c.out.size()) {
      c.out.swap(more);
      c.out_pos = 0;
    } else {
      c.out.insert(c.out.end(), more.begin(), more.end());
    }
  }
  while (c.out_pos < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        c.failed = true;
      break;
    }
    c.out_pos += static_cast<std::size_t>(n);
  }
  if (c.out.size() - c.out_pos > kBehindBytes)
    c.behind = true;
  if (c.out_pos == c.out.size()) {
    c.out.clear();
    c.out_pos = 0;
  }
}

} // namespace

int main(int argc, char **argv) {
  const bool hold = argc == 9 && std::string(argv[8]) == "--hold";
  if (argc != 8 && !hold) {
    std::fprintf(stderr,
                 "usage: rtmp_load HOST PORT APP STREAM_PREFIX N FILE.flv SECONDS [--hold]\n");
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string app = argv[3];
  const std::string prefix = argv[4];
  const int count = std::atoi(argv[5]);
  const double seconds = std::atof(argv[7]);

  std::ifstream in(argv[6], std::ios::binary);
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<FlvTag> tags;
  FlvReader reader;
  if (reader.read(file, tags) || tags.empty()) {
    std::fprintf(stderr, "rtmp_load: cannot read %s\n", argv[6]);
    return 1;
  }
  const std::uint32_t file_duration = tags.back().timestamp + 40;

  const auto t0 = Clock::now();
  std::vector<Conn> conns(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Conn &c = conns[static_cast<std::size_t>(i)];
    c.fd = connect_to(host, port);
    c.connect_started = now_ms(t0);
    if (c.fd < 0) {
      c.failed = true;
      continue;
    }
    ClientConfig cfg;
    cfg.app = app;
    cfg.tc_url = "rtmp://" + host + ":" + std::to_string(port) + "/" + app;
    c.session = std::make_unique<ClientSession>(cfg);
  }
  Millis max_connect{0};
  int rejected = 0;

  const Millis end = Millis(static_cast<long long>(seconds * 1000));
  std::vector<pollfd> pfds(conns.size());
  std::vector<std::uint8_t> buf(64 * 1024);
  Millis publish_end{0};
  while (true) {
    const Millis now = now_ms(t0);
    bool all_started = true;
    for (auto &c : conns)
      all_started &= c.failed || c.publishing;
    if (all_started && publish_end == Millis{0}) {
      // Everyone publishes from now on: pacing starts together, so that the load is steady.
      publish_end = now + end;
      for (auto &c : conns)
        c.start = now;
    }
    if (publish_end != Millis{0} && now >= publish_end)
      break;
    if (now > end + Millis(30000)) // connections that never start publishing
      break;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      pfds[i].fd = conns[i].failed ? -1 : conns[i].fd;
      pfds[i].events =
          conns[i].connecting ? POLLOUT : POLLIN | (conns[i].out.empty() ? 0 : POLLOUT);
      pfds[i].revents = 0;
    }
    poll(pfds.data(), pfds.size(), 5);
    const Millis t = now_ms(t0);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn &c = conns[i];
      if (c.failed)
        continue;
      if (c.connecting) {
        if (!pfds[i].revents)
          continue;
        int error = 0;
        socklen_t len = sizeof error;
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
          c.failed = true;
          continue;
        }
        c.connecting = false;
        max_connect = std::max(max_connect, t - c.connect_started);
        c.session->start(t);
        flush(c);
        continue;
      }
      if (pfds[i].revents & POLLIN) {
        const ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
          c.failed = true;
          continue;
        }
        c.session->receive(ByteView(buf.data(), static_cast<std::size_t>(n)), t);
      }
      while (auto e = c.session->poll_event()) {
        if (std::holds_alternative<Connected>(*e)) {
          c.session->create_stream(t);
        } else if (auto *s = std::get_if<StreamCreated>(&*e)) {
          c.stream_id = s->stream_id;
          c.session->publish(c.stream_id, prefix + std::to_string(i), "live", t);
        } else if (std::holds_alternative<PublishStarted>(*e)) {
          c.publishing = true;
        } else if (auto *err = std::get_if<Error>(&*e); err && (err->fatal || !c.publishing)) {
          // A refused publish (NetStream.Publish.BadName: no element has that stream key) is
          // not fatal to the session, but this connection would wait for ever.
          if (!err->fatal && rejected++ < 3)
            std::fprintf(stderr, "rtmp_load: %s%d: %s\n", prefix.c_str(), static_cast<int>(i),
                         err->description.c_str());
          c.failed = true;
        } else if (std::holds_alternative<Closed>(*e)) {
          c.failed = true;
        }
      }
      // Real-time pacing: every tag whose timestamp has come, looping the file.
      while (c.publishing && publish_end != Millis{0}) {
        const FlvTag &tag = tags[c.next];
        const std::uint32_t ts = tag.timestamp + c.loop_offset;
        if (Millis(ts) > t - c.start)
          break;
        if (tag.type == 8 || tag.type == 9) {
          c.session->send_media(c.stream_id, static_cast<MessageType>(tag.type), ts, tag.data);
          ++c.tags_sent;
          c.bytes_sent += tag.data.size();
        }
        if (++c.next == tags.size()) {
          c.next = 0;
          c.loop_offset += file_duration;
        }
      }
      flush(c);
    }
  }

  std::uint64_t tags_sent = 0, bytes_sent = 0;
  int publishing = 0, behind = 0, failed = 0;
  std::string per_stream; // tags sent by each connection, in stream key order
  for (auto &c : conns) {
    if (!per_stream.empty())
      per_stream += ',';
    per_stream += std::to_string(c.tags_sent);
    tags_sent += c.tags_sent;
    bytes_sent += c.bytes_sent;
    publishing += c.publishing ? 1 : 0;
    behind += c.behind ? 1 : 0;
    failed += c.failed ? 1 : 0;
  }
  std::printf("{\"connections\":%d,\"publishing\":%d,\"failed\":%d,\"behind\":%d,"
              "\"tags_sent\":%llu,\"bytes_sent\":%llu,\"max_connect_ms\":%lld,\"rejected\":%d,"
              "\"sent\":[%s]}\n",
              count, publishing, failed, behind, static_cast<unsigned long long>(tags_sent),
              static_cast<unsigned long long>(bytes_sent),
              static_cast<long long>(max_connect.count()), rejected, per_stream.c_str());
  std::fflush(stdout);
  if (hold) {
    char line[256];
    while (std::fgets(line, sizeof line, stdin) != nullptr) {
    }
  }
  for (auto &c : conns)
    if (c.fd >= 0)
      close(c.fd);
  return failed ? 1 : 0;
}
