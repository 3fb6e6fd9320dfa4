// onMetaData <-> GStreamer tags. See metadata_tags.h.
#include "metadata_tags.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace rtmp::gst {

StreamMetadata::~StreamMetadata() {
  if (global)
    gst_tag_list_unref(global);
  if (video)
    gst_tag_list_unref(video);
  if (audio)
    gst_tag_list_unref(audio);
  if (extra)
    gst_structure_free(extra);
}

StreamMetadata::StreamMetadata(StreamMetadata &&o) noexcept
    : global(std::exchange(o.global, nullptr)), video(std::exchange(o.video, nullptr)),
      audio(std::exchange(o.audio, nullptr)), extra(std::exchange(o.extra, nullptr)),
      video_hints(o.video_hints) {}

StreamMetadata &StreamMetadata::operator=(StreamMetadata &&o) noexcept {
  if (this != &o) {
    StreamMetadata tmp(std::move(*this));
    global = std::exchange(o.global, nullptr);
    video = std::exchange(o.video, nullptr);
    audio = std::exchange(o.audio, nullptr);
    extra = std::exchange(o.extra, nullptr);
    video_hints = o.video_hints;
  }
  return *this;
}

namespace {

constexpr std::array<const char *, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char *, 7> kWeekdays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// A string GStreamer can hold: bounded and valid UTF-8 (tags and structure strings must be).
const std::string *tag_string(const amf::Value &v) {
  const std::string *s = v.as_string();
  if (!s || s->empty() || s->size() > kMaxMetadataStringBytes ||
      !g_utf8_validate(s->data(), static_cast<gssize>(s->size()), nullptr))
    return nullptr;
  return s;
}

std::optional<double> finite_number(const amf::Value &v) {
  auto n = v.as_number();
  if (!n || !std::isfinite(*n))
    return std::nullopt;
  return n;
}

// Field names become GQuarks: keep them printable and short, replacing what would not survive
// gst_structure_to_string.
std::string field_name(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (!out.empty() && !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z')))
    out.insert(out.begin(), 'f');
  return out;
}

// AMF value -> GValue for the "rtmp-metadata" structure; false when the value is dropped.
// `budget` counts fields across nesting levels (kMaxMetadataFields).
bool to_gvalue(const amf::Value &v, GValue &out, std::size_t depth, std::size_t &budget);

GstStructure *properties_to_structure(const char *name, const amf::Properties &props,
                                      std::size_t depth, std::size_t &budget) {
  GstStructure *s = gst_structure_new_empty(name);
  for (const auto &[key, value] : props) {
    if (budget == 0)
      break;
    const std::string fname = field_name(key);
    if (fname.empty())
      continue;
    GValue gv = G_VALUE_INIT;
    if (to_gvalue(value, gv, depth + 1, budget)) {
      --budget;
      gst_structure_take_value(s, fname.c_str(), &gv);
    }
  }
  return s;
}

bool to_gvalue(const amf::Value &v, GValue &out, std::size_t depth, std::size_t &budget) {
  if (depth > kMaxMetadataDepth)
    return false;
  if (const auto *b = v.get_if<bool>()) {
    g_value_init(&out, G_TYPE_BOOLEAN);
    g_value_set_boolean(&out, *b);
    return true;
  }
  if (const auto *i = v.get_if<amf::Integer>()) {
    g_value_init(&out, G_TYPE_INT);
    g_value_set_int(&out, i->value);
    return true;
  }
  if (const auto *d = v.get_if<double>()) {
    if (!std::isfinite(*d))
      return false;
    g_value_init(&out, G_TYPE_DOUBLE);
    g_value_set_double(&out, *d);
    return true;
  }
  if (v.as_string()) {
    const std::string *s = tag_string(v);
    if (!s)
      return false;
    g_value_init(&out, G_TYPE_STRING);
    g_value_set_string(&out, s->c_str());
    return true;
  }
  if (const auto *date = v.get_if<amf::Date>()) {
    // AMF0 date (2.13): ms since the epoch, UTC. Beyond year 9999 GDateTime gives up.
    if (!std::isfinite(date->ms_since_epoch) || std::fabs(date->ms_since_epoch) > 2.5e14)
      return false;
    GDateTime *g = g_date_time_new_from_unix_utc(
        static_cast<gint64>(std::floor(date->ms_since_epoch / 1000.0)));
    if (!g)
      return false;
    GstDateTime *dt = gst_date_time_new_from_g_date_time(g); // takes g
    if (!dt)
      return false;
    g_value_init(&out, GST_TYPE_DATE_TIME);
    g_value_take_boxed(&out, dt);
    return true;
  }
  if (const amf::Properties *props = v.properties()) {
    if (const auto *array = v.get_if<amf::Array>(); array && !array->dense.empty())
      ; // a mixed AMF3 array: handled as a list below
    else {
      g_value_init(&out, GST_TYPE_STRUCTURE);
      g_value_take_boxed(&out, properties_to_structure("object", *props, depth, budget));
      return true;
    }
  }
  if (const auto *array = v.get_if<amf::Array>()) {
    g_value_init(&out, GST_TYPE_ARRAY);
    for (const auto &item : array->dense) {
      if (budget == 0)
        break;
      GValue gv = G_VALUE_INIT;
      if (to_gvalue(item, gv, depth + 1, budget)) {
        --budget;
        gst_value_array_append_and_take_value(&out, &gv);
      }
    }
    return true;
  }
  return false; // null, undefined, XML, byte arrays, vectors...: nothing a tag reader wants
}

GstTagList *stream_tags() {
  GstTagList *t = gst_tag_list_new_empty();
  gst_tag_list_set_scope(t, GST_TAG_SCOPE_STREAM);
  return t;
}

void add_bitrate(GstTagList *&list, double kbps) {
  if (!list)
    list = stream_tags();
  // flvdemux multiplies by 1024 and FFmpeg's flv muxer writes bit_rate / 1024: the same here,
  // so a stream through FFmpeg or our sink comes back with the bitrate it had.
  // Clamped: a peer's kbps times 1024 can exceed what the guint tag holds.
  const auto bps = static_cast<guint>(std::min(kbps * 1024.0, static_cast<double>(G_MAXUINT)));
  gst_tag_list_add(list, GST_TAG_MERGE_REPLACE, GST_TAG_BITRATE, bps, GST_TAG_NOMINAL_BITRATE, bps,
                   nullptr);
}

} // namespace

GstDateTime *parse_creation_date(const char *text) {
  if (!text)
    return nullptr;
  // ctime form, "Fri Oct 15 15:13:16 2004" (what Flash tools and FFmpeg write).
  char weekday[4] = {}, month[4] = {};
  int day = 0, hh = 0, mm = 0, ss = 0, year = 0;
  if (std::sscanf(text, " %3s %3s %d %d:%d:%d %d", weekday, month, &day, &hh, &mm, &ss, &year) ==
      7) {
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
      if (std::strcmp(month, kMonths[i]) == 0 && year > 0 && year <= 9999 && day >= 1 &&
          day <= 31 && hh >= 0 && hh < 24 && mm >= 0 && mm < 60 && ss >= 0 && ss < 60)
        return gst_date_time_new(0.0, year, static_cast<gint>(i) + 1, day, hh, mm, ss);
    }
    return nullptr;
  }
  return gst_date_time_new_from_iso8601_string(text);
}

StreamMetadata metadata_from_amf(const amf::Value &meta) {
  StreamMetadata m;
  const amf::Properties *props = meta.properties();
  if (!props)
    return m;
  m.global = gst_tag_list_new_empty();
  gst_tag_list_set_scope(m.global, GST_TAG_SCOPE_GLOBAL);
  m.video = stream_tags();
  m.audio = stream_tags();
  GstStructure *extra = gst_structure_new_empty(kRtmpMetadataStructureName);
  std::size_t budget = kMaxMetadataFields;
  auto as_int = [](std::optional<double> n, int max) {
    return n && *n > 0 && *n <= max ? static_cast<int>(*n) : 0;
  };
  for (const auto &[key, value] : *props) {
    if (budget == 0)
      break;
    --budget;
    const std::string *text = tag_string(value);
    const auto number = finite_number(value);
    bool mapped = true;
    if (key == "title" && text) {
      gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, text->c_str(), nullptr);
    } else if ((key == "artist" || key == "creator" || key == "author") && text) {
      gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_ARTIST, text->c_str(), nullptr);
    } else if ((key == "comment" || key == "description") && text) {
      gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_COMMENT, text->c_str(), nullptr);
    } else if (key == "copyright" && text) {
      gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_COPYRIGHT, text->c_str(), nullptr);
    } else if ((key == "encoder" || key == "metadatacreator") && text) {
      gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_ENCODER, text->c_str(), nullptr);
    } else if (key == "creationdate" && text) {
      GstDateTime *dt = parse_creation_date(text->c_str());
      mapped = dt != nullptr;
      if (dt) {
        gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_DATE_TIME, dt, nullptr);
        gst_date_time_unref(dt);
      }
    } else if (key == "duration" && number) {
      // Live publishers send 0: no duration is known, so no tag.
      if (*number > 0 && *number < kMaxMetadataDurationSeconds)
        gst_tag_list_add(m.global, GST_TAG_MERGE_REPLACE, GST_TAG_DURATION,
                         static_cast<guint64>(*number * GST_SECOND), nullptr);
    } else if (key == "videodatarate" && number && *number > 0 && *number < kMaxMetadataKbps) {
      add_bitrate(m.video, *number);
    } else if (key == "audiodatarate" && number && *number > 0 && *number < kMaxMetadataKbps) {
      add_bitrate(m.audio, *number);
    } else if (key == "width" && number) {
      m.video_hints.width = as_int(number, kMaxVideoDimension);
    } else if (key == "height" && number) {
      m.video_hints.height = as_int(number, kMaxVideoDimension);
    } else if ((key == "framerate" || key == "videoframerate") && number) {
      m.video_hints.framerate = *number >= kMinFrameRate && *number <= kMaxFrameRate ? *number : 0;
    } else if (key == "AspectRatioX" && number) {
      m.video_hints.par_n = as_int(number, kMaxAspectTerm);
    } else if (key == "AspectRatioY" && number) {
      m.video_hints.par_d = as_int(number, kMaxAspectTerm);
    } else {
      mapped = false;
    }
    if (mapped)
      continue;
    const std::string fname = field_name(key);
    GValue gv = G_VALUE_INIT;
    if (!fname.empty() && to_gvalue(value, gv, 1, budget))
      gst_structure_take_value(extra, fname.c_str(), &gv);
  }
  if (gst_structure_n_fields(extra) > 0)
    m.extra = extra;
  else
    gst_structure_free(extra);
  return m;
}

GstMessage *metadata_message(GstObject *src, const StreamMetadata &m) {
  if (!m.extra)
    return nullptr;
  return gst_message_new_element(src, gst_structure_copy(m.extra));
}

namespace {

void put(amf::Properties &p, const char *key, amf::Value v) {
  p.emplace_back(key, std::move(v));
}

std::optional<std::string> tag_text(const GstTagList *tags, const char *tag) {
  gchar *s = nullptr;
  if (!tags || !gst_tag_list_get_string(tags, tag, &s) || !s)
    return std::nullopt;
  std::string out = s;
  g_free(s);
  return out;
}

guint tag_bitrate(const GstTagList *tags) {
  guint bps = 0;
  if (tags && !gst_tag_list_get_uint(tags, GST_TAG_BITRATE, &bps))
    gst_tag_list_get_uint(tags, GST_TAG_NOMINAL_BITRATE, &bps);
  return bps;
}

// "Fri Oct 15 15:13:16 2004": the form flvdemux and Flash tools read.
std::string ctime_string(GstDateTime *dt) {
  const int y = gst_date_time_get_year(dt);
  const int mo = gst_date_time_has_month(dt) ? gst_date_time_get_month(dt) : 1;
  const int d = gst_date_time_has_day(dt) ? gst_date_time_get_day(dt) : 1;
  const bool time = gst_date_time_has_time(dt);
  const int hh = time ? gst_date_time_get_hour(dt) : 0;
  const int mi = time ? gst_date_time_get_minute(dt) : 0;
  const int ss = gst_date_time_has_second(dt) ? gst_date_time_get_second(dt) : 0;
  GDate *date = g_date_new_dmy(static_cast<GDateDay>(d), static_cast<GDateMonth>(mo),
                               static_cast<GDateYear>(y));
  const int wd = g_date_valid(date) ? static_cast<int>(g_date_get_weekday(date)) : 1;
  g_date_free(date);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %s %d %02d:%02d:%02d %d", kWeekdays[(wd - 1) % 7],
                kMonths[(mo - 1) % 12], d, hh, mi, ss, y);
  return buf;
}

} // namespace

amf::Value metadata_to_amf(const MetadataSource &source) {
  amf::Properties p;
  const GstTagList *tags = source.tags;
  put(p, "duration", 0.0);
  if (const VideoSendFormat *v = source.video) {
    if (v->width > 0)
      put(p, "width", static_cast<double>(v->width));
    if (v->height > 0)
      put(p, "height", static_cast<double>(v->height));
    if (const guint bps = tag_bitrate(source.video_tags); bps > 0)
      put(p, "videodatarate", bps / 1024.0);
    if (v->fps_n > 0 && v->fps_d > 0)
      put(p, "framerate", static_cast<double>(v->fps_n) / v->fps_d);
    put(p, "videocodecid",
        static_cast<double>(v->enhanced ? v->fourcc : static_cast<std::uint32_t>(v->codec)));
  }
  if (const AudioSendFormat *a = source.audio) {
    if (const guint bps = tag_bitrate(source.audio_tags); bps > 0)
      put(p, "audiodatarate", bps / 1024.0);
    if (a->rate_hz > 0)
      put(p, "audiosamplerate", static_cast<double>(a->rate_hz));
    put(p, "audiosamplesize", static_cast<double>(a->bits > 0 ? a->bits : 16));
    if (a->channels > 0)
      put(p, "stereo", a->channels >= 2);
    put(p, "audiocodecid",
        static_cast<double>(a->enhanced ? a->fourcc : static_cast<std::uint32_t>(a->codec)));
  }
  const std::pair<const char *, const char *> strings[] = {
      {"title", GST_TAG_TITLE},         {"artist", GST_TAG_ARTIST},   {"comment", GST_TAG_COMMENT},
      {"copyright", GST_TAG_COPYRIGHT}, {"encoder", GST_TAG_ENCODER},
  };
  for (const auto &[key, tag] : strings)
    if (auto s = tag_text(tags, tag); s && s->size() <= kMaxMetadataStringBytes)
      put(p, key, *s);
  GstDateTime *dt = nullptr;
  if (tags && gst_tag_list_get_date_time(tags, GST_TAG_DATE_TIME, &dt) && dt) {
    if (gst_date_time_has_year(dt))
      put(p, "creationdate", ctime_string(dt));
    gst_date_time_unref(dt);
  }
  return amf::make_ecma_array(std::move(p));
}

} // namespace rtmp::gst
