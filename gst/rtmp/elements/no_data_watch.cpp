#include "elements/no_data_watch.h"

namespace rtmp::gst {

NoDataLimit no_data_limit(bool idle_timeout_set, unsigned idle_timeout, bool timeout_set,
                          unsigned timeout) {
  if (idle_timeout_set)
    return idle_timeout ? NoDataLimit{NoDataRule::media, idle_timeout} : NoDataLimit{};
  const unsigned seconds = timeout_set ? timeout : kLibrtmpSrcDefaultTimeoutSeconds;
  return seconds ? NoDataLimit{NoDataRule::bytes, seconds} : NoDataLimit{};
}

void NoDataWatch::start(std::int64_t now_us, std::uint64_t bytes_in) {
  last_news_us_ = now_us;
  bytes_in_ = bytes_in;
}

void NoDataWatch::observe(std::int64_t now_us, std::uint64_t bytes_in, bool media) {
  const bool bytes_moved = bytes_in != bytes_in_;
  bytes_in_ = bytes_in;
  if (media || (limit_.rule == NoDataRule::bytes && bytes_moved))
    last_news_us_ = now_us;
}

std::int64_t NoDataWatch::deadline_us() const {
  if (limit_.rule == NoDataRule::none)
    return -1;
  return last_news_us_ + static_cast<std::int64_t>(limit_.seconds) * 1'000'000;
}

bool NoDataWatch::expired(std::int64_t now_us) const {
  const std::int64_t d = deadline_us();
  return d >= 0 && now_us >= d;
}

} // namespace rtmp::gst
