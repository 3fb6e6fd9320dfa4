// Admission policy of a server: which connections get a place in its connection table and which
// ones give theirs up, so that a flood of connections that do nothing cannot lock out the ones
// that publish or play.
//
// The connections that matter are those with a stream role (publishing or playing): they are
// never evicted and never timed out here. Every other connection holds its place only while it
// is on its way to a role:
// - before connect is answered, the session's handshake timeout bounds it;
// - once connected, it has `role_timeout` to publish or play (and again after it stops), or it
//   is dropped ("role-timeout");
// - when the table is full (`max_connections`), a newcomer evicts the oldest connection without
//   a role ("evicted"), and is refused only when every connection has a role;
// - one address holds at most `max_per_address` places: a newcomer from an address that has
//   them all evicts the oldest connection of that address without a role
//   ("evicted-per-address"), or is refused ("max-connections-per-address").
// A connection that is already closing (flushing its last answer) is evicted before any other.
//
// Plain object without I/O: the driver reports the facts (accepted, connected, role started or
// ended, closing, gone) with `now` and acts on the verdicts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/message.hpp"

namespace rtmp {

// One listener thread serves this many connections without effort (a connected idle one costs
// about 12 KiB and next to no CPU: docs/rtmpserversrc.md, Admission); it stays below the 1024
// descriptors a process gets by default, with room for the pipeline's own.
inline constexpr std::size_t kDefaultMaxConnections = 512;
// Enough for the encoders of a studio or an event behind one NAT address; one address cannot
// take more than a small part of the table.
inline constexpr std::size_t kDefaultMaxConnectionsPerAddress = 16;
// From the answer to connect to publish or play: encoders and players ask at once (a few round
// trips), so seconds are plenty even over a slow link.
inline constexpr Millis kDefaultRoleTimeout{5000};

struct AdmissionConfig {
  std::size_t max_connections = kDefaultMaxConnections;           // at least 1
  std::size_t max_per_address = kDefaultMaxConnectionsPerAddress; // 0: no limit
  Millis role_timeout = kDefaultRoleTimeout;                      // 0: none
};

class Admission {
public:
  using Id = std::uint64_t;

  enum class Stage {
    handshake, // accepted, connect not answered yet
    connected, // connect accepted, no stream role
    role,      // publishing or playing
  };

  struct Verdict {
    bool admit = false;
    // Closed first to make room for the newcomer (admit is true then).
    std::optional<Id> evict;
    // Why `evict` goes, or why the newcomer is refused (admit false).
    const char *reason = nullptr;
  };

  explicit Admission(AdmissionConfig cfg = {}) : cfg_(cfg) {}

  // What to do with a newcomer from `address` (the peer's IP address, without the port). It is
  // not recorded: close `evict` (remove()), then add() the newcomer.
  Verdict admit(std::string_view address) const;

  // Ids must grow with time (the order in which connections are evicted).
  void add(Id id, std::string address, Millis now);
  // Connect accepted, a role started, or a role ended (back to connected: the role timeout runs
  // again from `now`).
  void set_stage(Id id, Stage stage, Millis now);
  void set_closing(Id id);
  void remove(Id id);

  // When `id` is dropped for having no role (nullopt: no such deadline now).
  std::optional<Millis> deadline(Id id) const;
  bool expired(Id id, Millis now) const;

  std::size_t size() const { return conns_.size(); }
  std::size_t count(std::string_view address) const;
  const AdmissionConfig &config() const { return cfg_; }

private:
  struct Conn {
    std::string address;
    Stage stage = Stage::handshake;
    bool closing = false;
    Millis since{0}; // entered `stage`
  };
  // The first to evict among the connections that `match` accepts, or nullopt.
  template <class Match> std::optional<Id> victim(Match match) const;

  AdmissionConfig cfg_;
  std::map<Id, Conn> conns_; // by id: oldest first
  std::map<std::string, std::size_t, std::less<>> per_address_;
};

// Keeps a warning that may repeat for every connection of a flood to one line per interval: the
// first one goes out, then at most one per `interval`, which tells how many were left out.
class WarningLimiter {
public:
  static constexpr Millis kDefaultInterval{5000};
  explicit WarningLimiter(Millis interval = kDefaultInterval) : interval_(interval) {}

  // nullopt: stay silent; otherwise write the warning, with the number of them left out since
  // the last one written.
  std::optional<std::uint64_t> allow(Millis now);

private:
  Millis interval_;
  std::optional<Millis> last_;
  std::uint64_t suppressed_ = 0;
};

} // namespace rtmp
