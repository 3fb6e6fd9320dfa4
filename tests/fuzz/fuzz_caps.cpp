// libFuzzer target for the caps and onMetaData mapping (gst/rtmp/elements/codec_caps.h,
// metadata_tags.h): the input is read as an FLV body (tags after an optional header), each tag
// goes where the source element would send it (parse_*_tag -> Video/AudioTrackCaps, onMetaData ->
// metadata_from_amf -> hints), and the raw input is also given to every codec as a configuration
// record and to the AV1 temporal-unit reader.
//
// Invariants (abort on violation): every caps we make is fixed; caps we make for a track that the
// sink accepts come back as headers that parse to the same codec and track.
#include <gst/gst.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "core/amf0.hpp"
#include "core/enhanced.hpp"
#include "core/flv.hpp"
#include "elements/codec_caps.h"
#include "elements/metadata_tags.h"

using namespace rtmp;
using namespace rtmp::gst;

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

void check_caps(GstCaps *caps) {
  if (!caps)
    return;
  check(gst_caps_is_fixed(caps));
  gst_caps_unref(caps);
}

// Source caps -> sink format -> headers -> parser: same codec, same track.
void sink_round_trip(GstCaps *caps, std::uint8_t track, bool video) {
  if (!caps)
    return;
  for (EnhancedMode mode : {EnhancedMode::automatic, EnhancedMode::always}) {
    if (video) {
      auto f = video_send_format(caps, mode, track);
      if (!f)
        continue;
      const Bytes seq = f->sequence_start();
      if (!seq.empty()) {
        auto t = parse_video_tag(seq);
        check(t.ok() && t->tracks.size() == 1 && t->tracks[0].track_id == track);
      }
      Bytes frame = f->frame_header(true, 0);
      frame.push_back(0);
      auto t = parse_video_tag(frame);
      check(t.ok() && t->tracks.size() == 1 && t->tracks[0].codec == f->codec);
    } else {
      auto f = audio_send_format(caps, mode, track);
      if (!f)
        continue;
      Bytes frame = f->frame_header();
      frame.push_back(0);
      auto t = parse_audio_tag(frame);
      check(t.ok() && t->tracks.size() == 1 && t->tracks[0].track_id == track);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// GLib's library constructor allocates a block it never frees (seen as a 16 KiB "leak" from
// dl_init at exit); it is not ours and not per input.
extern "C" const char *__lsan_default_suppressions() {
  return "leak:libglib-2.0.so\n";
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  gst_init(nullptr, nullptr);
  // GLib and GStreamer allocate type classes, quarks and caches once, on first use; do that first
  // use here so that LeakSanitizer does not report it against the first input.
  static const uint8_t kWarmUp[] = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0};
  LLVMFuzzerTestOneInput(kWarmUp, sizeof kWarmUp);
  GstCaps *c = video_caps(VideoCodec::vp9, {}, VideoHints{1, 1, 30, 1, 1});
  gst_caps_unref(c);
  // A g_critical means we called GStreamer with something it refuses: a bug here.
  g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const ByteView input(data, size);

  // The raw input as every codec's configuration record.
  for (int c = 0; c <= static_cast<int>(VideoCodec::vp8); ++c)
    check_caps(video_caps(static_cast<VideoCodec>(c), input, VideoHints{}));
  for (int c = 0; c <= static_cast<int>(AudioCodec::unknown); ++c)
    check_caps(audio_caps(static_cast<AudioCodec>(c), 44100, 16, 2, input));
  if (auto av1 = av1_config_from_temporal_unit(input); av1.ok())
    check_caps(video_caps(VideoCodec::av1, *av1));

  // As an FLV stream.
  FlvReader reader;
  std::vector<FlvTag> tags;
  reader.read(input, tags);
  std::map<std::uint8_t, VideoTrackCaps> video;
  std::map<std::uint8_t, AudioTrackCaps> audio;
  VideoHints hints;
  for (const auto &tag : tags) {
    if (tag.type == static_cast<std::uint8_t>(FlvTagType::script)) {
      auto values = amf::decode_amf0_sequence(tag.data);
      if (values && values->size() >= 2) {
        StreamMetadata m = metadata_from_amf((*values)[1]);
        hints = m.video_hints;
        for (auto &[id, v] : video)
          v.set_hints(hints);
        if (GstMessage *msg = metadata_message(nullptr, m))
          gst_message_unref(msg);
        // And back through the sink's writer.
        MetadataSource src;
        src.tags = m.global;
        src.video_tags = m.video;
        src.audio_tags = m.audio;
        const amf::Value again = metadata_to_amf(src);
        check(again.properties() != nullptr);
      }
    } else if (tag.type == static_cast<std::uint8_t>(FlvTagType::video)) {
      auto info = parse_video_tag(tag.data);
      if (!info)
        continue;
      for (const auto &t : info->tracks) {
        video_frame_data(t);
        auto [it, fresh] = video.try_emplace(t.track_id);
        if (fresh)
          it->second.set_hints(hints);
        if (it->second.update(t)) {
          GstCaps *caps = it->second.caps();
          sink_round_trip(caps, t.track_id, true);
          check_caps(caps);
        }
      }
    } else if (tag.type == static_cast<std::uint8_t>(FlvTagType::audio)) {
      auto info = parse_audio_tag(tag.data);
      if (!info)
        continue;
      for (const auto &t : info->tracks) {
        if (audio[t.track_id].update(*info, t)) {
          GstCaps *caps = audio[t.track_id].caps();
          sink_round_trip(caps, t.track_id, false);
          check_caps(caps);
        }
      }
    }
  }
  return 0;
}
