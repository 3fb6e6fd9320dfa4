#include "core/admission.hpp"

#include <utility>

namespace rtmp {

template <class Match> std::optional<Admission::Id> Admission::victim(Match match) const {
  std::optional<Id> oldest;
  for (const auto &[id, c] : conns_) {
    if (c.stage == Stage::role || !match(c))
      continue;
    if (c.closing)
      return id; // leaving anyway
    if (!oldest)
      oldest = id;
  }
  return oldest;
}

Admission::Verdict Admission::admit(std::string_view address) const {
  Verdict v;
  if (cfg_.max_per_address != 0 && count(address) >= cfg_.max_per_address) {
    // Making room within the address also frees a place in the table.
    v.evict = victim([&](const Conn &c) { return c.address == address; });
    v.admit = v.evict.has_value();
    v.reason = v.admit ? "evicted-per-address" : "max-connections-per-address";
    return v;
  }
  if (conns_.size() >= cfg_.max_connections) {
    v.evict = victim([](const Conn &) { return true; });
    v.admit = v.evict.has_value();
    v.reason = v.admit ? "evicted" : "max-connections";
    return v;
  }
  v.admit = true;
  return v;
}

void Admission::add(Id id, std::string address, Millis now) {
  ++per_address_[address];
  conns_[id] = Conn{std::move(address), Stage::handshake, false, now};
}

void Admission::set_stage(Id id, Stage stage, Millis now) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.stage == stage)
    return;
  it->second.stage = stage;
  it->second.since = now;
}

void Admission::set_closing(Id id) {
  if (auto it = conns_.find(id); it != conns_.end())
    it->second.closing = true;
}

void Admission::remove(Id id) {
  auto it = conns_.find(id);
  if (it == conns_.end())
    return;
  auto a = per_address_.find(it->second.address);
  if (a != per_address_.end() && --a->second == 0)
    per_address_.erase(a);
  conns_.erase(it);
}

std::optional<Millis> Admission::deadline(Id id) const {
  auto it = conns_.find(id);
  if (it == conns_.end() || cfg_.role_timeout.count() <= 0 ||
      it->second.stage != Stage::connected || it->second.closing)
    return std::nullopt;
  return it->second.since + cfg_.role_timeout;
}

bool Admission::expired(Id id, Millis now) const {
  const auto d = deadline(id);
  return d && *d <= now;
}

std::size_t Admission::count(std::string_view address) const {
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

std::optional<std::uint64_t> WarningLimiter::allow(Millis now) {
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  return std::exchange(suppressed_, 0);
}

} // namespace rtmp
