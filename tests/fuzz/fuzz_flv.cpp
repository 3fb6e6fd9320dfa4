// libFuzzer target for the media parsers: FlvReader (fed whole and split at a point chosen by
// the input), parse_video_tag / parse_audio_tag on every tag and on the raw input, the
// write-back of what parsed, and parse_rtmp_url on the input as text.
//
// Invariants checked (abort on violation): splitting the input never changes the tags or the
// error; whatever parses writes back to bytes that parse again to the same shape.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "core/url.hpp"

using namespace rtmp;

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

void video_round_trip(ByteView payload) {
  auto info = parse_video_tag(payload);
  if (!info)
    return;
  auto written = write_video_tag(*info);
  if (!written)
    return; // e.g. legacy unknown codecs, which the writer cannot name
  auto again = parse_video_tag(*written);
  check(again.ok());
  check(again->tracks.size() == info->tracks.size());
  check(again->is_command_frame == info->is_command_frame);
  for (std::size_t i = 0; i < info->tracks.size(); ++i) {
    check(again->tracks[i].kind == info->tracks[i].kind);
    check(again->tracks[i].fourcc == info->tracks[i].fourcc);
    check(again->tracks[i].payload.size() == info->tracks[i].payload.size());
  }
}

void audio_round_trip(ByteView payload) {
  auto info = parse_audio_tag(payload);
  if (!info)
    return;
  auto written = write_audio_tag(*info);
  if (!written)
    return;
  auto again = parse_audio_tag(*written);
  check(again.ok());
  check(again->tracks.size() == info->tracks.size());
  for (std::size_t i = 0; i < info->tracks.size(); ++i) {
    check(again->tracks[i].kind == info->tracks[i].kind);
    check(again->tracks[i].codec == info->tracks[i].codec);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const ByteView input(data, size);

  // A small max_tag_size so that the limit path is reached too.
  const FlvLimits limits{size % 2 ? 1u << 16 : 1u << 24};
  FlvReader whole(limits);
  std::vector<FlvTag> tags;
  const std::error_code ec = whole.read(input, tags);

  const std::size_t split = size ? (data[0] * 131u + size) % (size + 1) : 0;
  FlvReader halves(limits);
  std::vector<FlvTag> split_tags;
  std::error_code split_ec = halves.read(input.first(split), split_tags);
  if (!split_ec)
    split_ec = halves.read(input.subspan(split), split_tags);
  check(split_ec == ec);
  check(split_tags == tags);
  if (!ec)
    check(halves.buffered() == whole.buffered());

  for (const auto &tag : tags) {
    if (tag.type == 9)
      video_round_trip(tag.data);
    else if (tag.type == 8)
      audio_round_trip(tag.data);
  }
  video_round_trip(input);
  audio_round_trip(input);

  auto url =
      parse_rtmp_url(std::string_view(reinterpret_cast<const char *>(data), size), size % 3 == 0);
  // to_string() percent-encodes, so it can be up to three times longer than what was parsed:
  // the round trip holds only while the re-encoded form is within the parser's length limit.
  if (url && url->to_string().size() <= kMaxUrlLength) {
    auto again = parse_rtmp_url(url->to_string(), false);
    check(again.ok());
    check(again->host == url->host && again->port == url->port);
    check(again->application == url->application && again->stream == url->stream);
    check(again->username == url->username && again->password == url->password);
  }
  return 0;
}
