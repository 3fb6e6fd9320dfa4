// A minimal blocking RTMP server on the sans-IO core (ServerSession with ServerAuthConfig) used
// to check Adobe / Limelight authentication against FFmpeg's own client:
//
//   auth_ffmpeg_server --method adobe --user user --password 'pa@ss' [--port 0]
//                      [--max-connections 6] [--media 10] [--idle-ms 20000]
//                      [--strict-password 1]
//                      [--secure-token-key KEY --secure-token-plain TEXT]
//
// With --secure-token-* the connect _result carries a Limelight-style `secureToken` (TEXT
// encrypted with KEY, core/secure_token.hpp) and every call the client makes is printed as
// "call NAME ARG" (the secureTokenResponse of librtmp's `token` option or of our secure-token).
//
// It prints "port N" once listening, then one line per event of interest ("reject ...",
// "connect ...", "publish ...") and finally a summary line
//   "summary connections=C auth_failures=F accepted=A publish=NAME media=M"
// and exits 0 when a publish was accepted and at least --media media messages arrived by the
// time the client closed that connection, 1
// otherwise (including when --max-connections connections were served without that).
// Connections are served one at a time, which is all FFmpeg's reconnecting client needs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <variant>

#include "core/secure_token.hpp"
#include "core/server_session.hpp"

namespace {

using namespace std::chrono_literals;

struct Options {
  std::string method = "adobe";
  std::string user = "user";
  std::string password = "pa@ss";
  int port = 0;
  int max_connections = 6;
  int media = 10;
  int idle_ms = 20000;
  bool strict_password = false; // do not accept a response over the percent-encoded password
  std::string secure_token_key, secure_token_plain;
};

struct Summary {
  int connections = 0;
  int auth_failures = 0;
  int accepted = 0;
  std::string publish;
  long media = 0;
};

rtmp::Millis now() {
  return std::chrono::duration_cast<rtmp::Millis>(
      std::chrono::steady_clock::now().time_since_epoch());
}

void urandom(std::span<std::uint8_t> out) {
  std::ifstream f("/dev/urandom", std::ios::binary);
  f.read(reinterpret_cast<char *>(out.data()), static_cast<std::streamsize>(out.size()));
}

bool write_all(int fd, const rtmp::Bytes &b) {
  std::size_t off = 0;
  while (off < b.size()) {
    ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Serves one connection until it closes. Returns true when the goal was reached (a publish and
// enough media).
bool serve(int fd, const rtmp::ServerConfig &cfg, const Options &opt, Summary &sum) {
  rtmp::ServerSession s(cfg);
  s.start(now());
  std::uint8_t buf[65536];
  bool done = false;
  bool closed = false;
  while (!closed) {
    // Drain events first: answers go out with the next write.
    while (auto e = s.poll_event()) {
      if (auto *c = std::get_if<rtmp::ConnectRequest>(&*e)) {
        std::printf("connect app=%s\n", c->app.c_str());
        ++sum.accepted;
        s.accept_connect(now());
      } else if (auto *p = std::get_if<rtmp::PublishRequest>(&*e)) {
        std::printf("publish %s (%s)\n", p->name.c_str(), p->type.c_str());
        sum.publish = p->name;
        s.accept_publish(p->stream_id);
      } else if (auto *call = std::get_if<rtmp::IncomingCall>(&*e)) {
        const rtmp::amf::Value *arg = call->command.argument(0);
        std::printf("call %s %s\n", call->command.name.c_str(),
                    arg && arg->as_string() ? arg->as_string()->c_str() : "-");
      } else if (std::get_if<rtmp::Media>(&*e)) {
        if (++sum.media >= opt.media && !sum.publish.empty())
          done = true;
      } else if (auto *err = std::get_if<rtmp::Error>(&*e)) {
        if (err->code == rtmp::make_error_code(rtmp::Errc::auth_failed))
          ++sum.auth_failures;
        std::printf("error %s: %s\n", err->code.message().c_str(), err->description.c_str());
      } else if (auto *n = std::get_if<rtmp::Note>(&*e)) {
        std::printf("note %s\n", n->text.c_str());
      } else if (std::get_if<rtmp::Closed>(&*e)) {
        closed = true;
      }
    }
    if (!write_all(fd, s.take_output()))
      break;
    if (closed)
      break; // after a goal is reached too: FFmpeg closes the stream itself
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, opt.idle_ms);
    if (r <= 0) {
      std::printf("note idle timeout\n");
      break;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      s.peer_closed();
      continue; // drain the Closed event
    }
    s.receive(rtmp::ByteView(buf, static_cast<std::size_t>(n)), now());
  }
  std::fflush(stdout);
  return done;
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--method")
      opt.method = v;
    else if (k == "--user")
      opt.user = v;
    else if (k == "--password")
      opt.password = v;
    else if (k == "--port")
      opt.port = std::atoi(v.c_str());
    else if (k == "--max-connections")
      opt.max_connections = std::atoi(v.c_str());
    else if (k == "--media")
      opt.media = std::atoi(v.c_str());
    else if (k == "--idle-ms")
      opt.idle_ms = std::atoi(v.c_str());
    else if (k == "--strict-password")
      opt.strict_password = v == "1";
    else if (k == "--secure-token-key")
      opt.secure_token_key = v;
    else if (k == "--secure-token-plain")
      opt.secure_token_plain = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  rtmp::ServerConfig cfg;
  cfg.auth.method = opt.method == "llnw"   ? rtmp::auth::Method::llnw
                    : opt.method == "none" ? rtmp::auth::Method::none
                                           : rtmp::auth::Method::adobe;
  cfg.auth.random = urandom;
  cfg.auth.accept_percent_encoded_password = !opt.strict_password;
  cfg.auth.lookup = [&opt](std::string_view u) -> std::optional<std::string> {
    if (u == opt.user)
      return opt.password;
    return std::nullopt;
  };

  if (!opt.secure_token_plain.empty()) {
    auto challenge = rtmp::encrypt_secure_token(opt.secure_token_key, opt.secure_token_plain);
    if (!challenge) {
      std::fprintf(stderr, "secure token: %s\n", challenge.error().message().c_str());
      return 2;
    }
    cfg.secure_token = *challenge;
  }

  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
  if (::bind(ls, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(ls, 4) != 0) {
    std::perror("bind/listen");
    return 2;
  }
  socklen_t len = sizeof addr;
  ::getsockname(ls, reinterpret_cast<sockaddr *>(&addr), &len);
  std::printf("port %d\n", ntohs(addr.sin_port));

  Summary sum;
  bool ok = false;
  while (!ok && sum.connections < opt.max_connections) {
    pollfd p{ls, POLLIN, 0};
    if (::poll(&p, 1, opt.idle_ms) <= 0) {
      std::printf("note no more connections\n");
      break;
    }
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0)
      break;
    ++sum.connections;
    ok = serve(fd, cfg, opt, sum);
    ::close(fd);
  }
  ::close(ls);
  std::printf("summary connections=%d auth_failures=%d accepted=%d publish=%s media=%ld\n",
              sum.connections, sum.auth_failures, sum.accepted, sum.publish.c_str(), sum.media);
  return ok ? 0 : 1;
}
