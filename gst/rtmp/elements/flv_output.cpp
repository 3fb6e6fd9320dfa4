#include "elements/flv_output.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/command.hpp"
#include "core/flv.hpp"

GST_DEBUG_CATEGORY_STATIC(rtmp_flv_debug);
#define GST_CAT_DEFAULT rtmp_flv_debug

namespace rtmp::gst {
namespace {

// Metadata fields turned into an extended-comment tag ("key=value") are bounded: onMetaData
// is peer-controlled and a hostile one could carry thousands of keys.
constexpr std::size_t kMaxMetadataTags = 64;
constexpr std::size_t kMaxMetadataValueLength = 256;

std::optional<std::string> short_string(const amf::Value &v) {
  if (const std::string *s = v.as_string())
    return s->substr(0, kMaxMetadataValueLength);
  if (auto n = v.as_number()) {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return std::string(g_ascii_dtostr(buf, sizeof(buf), *n));
  }
  if (auto b = v.as_bool())
    return std::string(*b ? "true" : "false");
  return std::nullopt;
}

GstBuffer *bytes_to_buffer(const Bytes &b) {
  return gst_buffer_new_memdup(b.data(), b.size());
}

// From this payload size on, the output buffer wraps the message payload instead of copying it
// (docs/performance.md, play profile): below it, one copy costs less than the two extra
// GstMemory blocks that carry the tag header and the PreviousTagSize around a wrapped payload.
constexpr std::size_t kWrapMinPayload = 4096;

} // namespace

void StoragePool::put(Bytes &&b) {
  std::lock_guard<std::mutex> hold(mutex_);
  if (free_.size() < ChunkReader::kMaxSpareStorage)
    free_.push_back(std::move(b));
}

std::vector<Bytes> StoragePool::take_all() {
  std::vector<Bytes> out;
  std::lock_guard<std::mutex> hold(mutex_);
  out.swap(free_);
  return out;
}

namespace {

// What a wrapped payload memory owns: the vector, and where it goes when the memory is freed.
struct HeldPayload {
  Bytes bytes;
  std::shared_ptr<StoragePool> pool;
};

void release_payload(gpointer data) {
  auto *held = static_cast<HeldPayload *>(data);
  if (held->pool)
    held->pool->put(std::move(held->bytes));
  delete held;
}

} // namespace

GstBuffer *flv_tag_buffer(std::uint8_t type, std::uint32_t timestamp, Bytes &&payload,
                          std::shared_ptr<StoragePool> pool) {
  const std::size_t size = payload.size();
  Bytes header, trailer;
  if (write_flv_tag_header(type, timestamp, size, header))
    return nullptr;
  write_flv_previous_tag_size(size, trailer);
  if (size < kWrapMinPayload) {
    GstBuffer *buf =
        gst_buffer_new_allocate(nullptr, header.size() + size + trailer.size(), nullptr);
    gst_buffer_fill(buf, 0, header.data(), header.size());
    gst_buffer_fill(buf, header.size(), payload.data(), size);
    gst_buffer_fill(buf, header.size() + size, trailer.data(), trailer.size());
    return buf;
  }
  // Header memory + the payload's own storage (freed with the last reference to the memory) +
  // trailer memory: one GstBuffer, no copy of the payload.
  GstBuffer *buf = gst_buffer_new_memdup(header.data(), header.size());
  auto *held = new HeldPayload{std::move(payload), std::move(pool)};
  gst_buffer_append_memory(buf, gst_memory_new_wrapped(static_cast<GstMemoryFlags>(0),
                                                       held->bytes.data(), held->bytes.size(), 0,
                                                       held->bytes.size(), held, release_payload));
  GstMemory *tail = gst_allocator_alloc(nullptr, trailer.size(), nullptr);
  gst_buffer_append_memory(buf, tail);
  gst_buffer_fill(buf, header.size() + size, trailer.data(), trailer.size());
  return buf;
}

namespace {

GstPadProbeReturn answer_allocation(GstPad *, GstPadProbeInfo *info, gpointer) {
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY(info);
  if ((GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_PUSH) &&
      GST_QUERY_TYPE(query) == GST_QUERY_ALLOCATION)
    return GST_PAD_PROBE_HANDLED; // answered (no requirements), not forwarded
  return GST_PAD_PROBE_OK;
}

} // namespace

void answer_allocation_locally(GstPad *srcpad) {
  gst_pad_add_probe(srcpad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, answer_allocation, nullptr,
                    nullptr);
}

bool is_video_config(ByteView p) {
  if (p.size() < 2)
    return false;
  if (p[0] & 0x80) // Enhanced RTMP: IsExHeader, PacketType in the low nibble
    return (p[0] & 0x0F) == 0;
  return (p[0] & 0x0F) == 7 && p[1] == 0; // AVC, AVCPacketType 0
}

bool is_audio_config(ByteView p) {
  return p.size() >= 2 && (p[0] >> 4) == 10 && p[1] == 0;
}

// onMetaData (FLV spec 10.1 E.5 "onMetaData") to tags: the fields with a GStreamer tag of the
// same meaning, and every scalar field as an extended comment so nothing is lost (width,
// height, framerate, codec ids...).
GstTagList *metadata_to_tags(const amf::Value &meta) {
  const amf::Properties *props = meta.properties();
  if (!props)
    return nullptr;
  GstTagList *tags = gst_tag_list_new_empty();
  std::size_t n = 0;
  for (const auto &[key, value] : *props) {
    if (n++ >= kMaxMetadataTags)
      break;
    const auto text = short_string(value);
    const auto number = value.as_number();
    if (key == "title" && text) {
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, text->c_str(), nullptr);
    } else if (key == "artist" && text) {
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_ARTIST, text->c_str(), nullptr);
    } else if ((key == "encoder" || key == "metadatacreator") && text) {
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_ENCODER, text->c_str(), nullptr);
    } else if (key == "duration" && number && std::isfinite(*number) && *number > 0 &&
               *number < 1e9) {
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DURATION,
                       static_cast<guint64>(*number * GST_SECOND), nullptr);
    } else if ((key == "videodatarate" || key == "audiodatarate") && number &&
               std::isfinite(*number) && *number > 0 && *number < 1e7) {
      // kbit/s in onMetaData; the sum is the stream's bitrate.
      guint prev = 0;
      gst_tag_list_get_uint(tags, GST_TAG_BITRATE, &prev);
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_BITRATE,
                       prev + static_cast<guint>(*number * 1000), nullptr);
    }
    if (text) {
      const std::string comment = key.substr(0, kMaxMetadataValueLength) + "=" + *text;
      gst_tag_list_add(tags, GST_TAG_MERGE_APPEND, GST_TAG_EXTENDED_COMMENT, comment.c_str(),
                       nullptr);
    }
  }
  return tags;
}

namespace {

// A GstStructure field name from a peer-controlled key: letters, digits and "-_.:+" only
// (what gst_structure_to_string() can print back), starting with a letter; nullopt if empty.
std::optional<std::string> field_name(std::string_view key) {
  if (key.empty())
    return std::nullopt;
  std::string out = g_ascii_isalpha(key.front()) ? "" : "p";
  for (char ch : key.substr(0, kMaxMetadataValueLength)) {
    const bool ok =
        g_ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':' || ch == '+';
    out.push_back(ok ? ch : '_');
  }
  return out;
}

} // namespace

GstStructure *data_to_structure(std::string_view handler, const amf::Value &arg,
                                std::int64_t timestamp_ms) {
  if (!arg.properties())
    return nullptr;
  const auto ts = static_cast<guint64>(std::max<std::int64_t>(timestamp_ms, 0));
  auto text_at = [&](std::string_view key) -> std::optional<std::string> {
    if (const amf::Value *v = arg.find(key))
      return short_string(*v);
    return std::nullopt;
  };
  if (handler == handler::on_text_data) {
    // onTextData: {text, language} (Adobe Flash Video File Format Specification, "onTextData";
    // FFmpeg's flvdec reads the same two fields).
    GstStructure *s = gst_structure_new("rtmp-text-data", "text", G_TYPE_STRING,
                                        text_at("text").value_or("").c_str(), "timestamp-ms",
                                        G_TYPE_UINT64, ts, nullptr);
    if (auto lang = text_at("language"))
      gst_structure_set(s, "language", G_TYPE_STRING, lang->c_str(), nullptr);
    return s;
  }
  if (handler == handler::on_cue_point) {
    // onCuePoint: {name, time (seconds), type ("event" | "navigation"), parameters {...}}.
    GstStructure *s = gst_structure_new("rtmp-cue-point", "name", G_TYPE_STRING,
                                        text_at("name").value_or("").c_str(), "type", G_TYPE_STRING,
                                        text_at("type").value_or("").c_str(), "timestamp-ms",
                                        G_TYPE_UINT64, ts, nullptr);
    if (const amf::Value *t = arg.find("time");
        t && t->as_number() && std::isfinite(*t->as_number()))
      gst_structure_set(s, "time", G_TYPE_DOUBLE, *t->as_number(), nullptr);
    GstStructure *params = gst_structure_new_empty("parameters");
    if (const amf::Value *pv = arg.find("parameters"); pv && pv->properties()) {
      std::size_t n = 0;
      for (const auto &[key, value] : *pv->properties()) {
        if (n++ >= kMaxMetadataTags)
          break;
        const auto name = field_name(key);
        const auto text = short_string(value);
        if (name && text)
          gst_structure_set(params, name->c_str(), G_TYPE_STRING, text->c_str(), nullptr);
      }
    }
    gst_structure_set(s, "parameters", GST_TYPE_STRUCTURE, params, nullptr);
    gst_structure_free(params);
    return s;
  }
  return nullptr;
}

FlvOutput::FlvOutput() : flv_header_(make_flv_header(FlvHeader{true, true})) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(rtmp_flv_debug, "rtmpflv", 0, "RTMP messages to FLV tags");
    g_once_init_leave(&once, 1);
  }
}

FlvOutput::~FlvOutput() {
  if (pending_tags_)
    gst_tag_list_unref(pending_tags_);
  if (data_structure_)
    gst_structure_free(data_structure_);
}

GstStructure *FlvOutput::take_data_structure() {
  GstStructure *s = data_structure_;
  data_structure_ = nullptr;
  return s;
}

void FlvOutput::reset() {
  timeline_ = Timeline{};
  metadata_tag_.reset();
  video_config_tag_.reset();
  audio_config_tag_.reset();
  caps_dirty_ = false;
  media_buffers_out_ = 0;
  if (pending_tags_)
    gst_tag_list_unref(pending_tags_);
  pending_tags_ = nullptr;
  if (data_structure_)
    gst_structure_free(data_structure_);
  data_structure_ = nullptr;
}

GstBuffer *FlvOutput::header_buffer() const {
  GstBuffer *buf = bytes_to_buffer(flv_header_);
  GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_HEADER);
  GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = 0;
  return buf;
}

GstCaps *FlvOutput::query_caps(GstPad *srcpad, GstCaps *filter) const {
  GstCaps *current = gst_pad_get_current_caps(srcpad);
  if (!current)
    current = caps();
  if (!filter)
    return current;
  GstCaps *i = gst_caps_intersect_full(filter, current, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref(current);
  return i;
}

GstCaps *FlvOutput::caps() const {
  GValue array = G_VALUE_INIT;
  gst_value_array_init(&array, 4);
  auto add = [&](const Bytes &b) {
    GstBuffer *buf = bytes_to_buffer(b);
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_HEADER);
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_BUFFER);
    gst_value_take_buffer(&v, buf);
    gst_value_array_append_and_take_value(&array, &v);
  };
  add(flv_header_);
  for (const auto *t : {&metadata_tag_, &video_config_tag_, &audio_config_tag_})
    if (*t)
      add(**t);
  GstCaps *caps = gst_caps_new_empty_simple("video/x-flv");
  gst_caps_set_value(caps, "streamheader", &array);
  g_value_unset(&array);
  return caps;
}

bool FlvOutput::take_caps_changed() {
  const bool dirty = caps_dirty_;
  caps_dirty_ = false;
  return dirty;
}

GstTagList *FlvOutput::take_ready_tags() {
  if (!pending_tags_ || media_buffers_out_ == 0)
    return nullptr;
  GstTagList *tags = pending_tags_;
  pending_tags_ = nullptr;
  return tags;
}

GstBuffer *FlvOutput::message_to_buffer(GstObject *log_object, Message &msg) {
  const auto type = msg.kind();
  if (data_structure_)
    gst_structure_free(data_structure_);
  data_structure_ = nullptr;
  if (msg.payload.empty())
    return nullptr;
  if (type != MessageType::audio && type != MessageType::video && type != MessageType::data_amf0)
    return nullptr;

  bool is_header = false;
  std::optional<DataMessage> other_data; // onTextData, onCuePoint...: a bus message too
  if (type == MessageType::data_amf0) {
    auto data = decode_data(msg);
    if (!data) {
      GST_WARNING_OBJECT(log_object, "undecodable data message dropped: %s",
                         data.error().message().c_str());
      return nullptr;
    }
    DataMessage d = unwrap_set_data_frame(*data);
    if (d.handler == handler::on_meta_data && !d.values.empty()) {
      if (GstTagList *tags = metadata_to_tags(d.values[0])) {
        GST_DEBUG_OBJECT(log_object, "metadata tags %" GST_PTR_FORMAT, static_cast<void *>(tags));
        if (pending_tags_)
          gst_tag_list_unref(pending_tags_);
        pending_tags_ = tags;
      }
      is_header = true;
    } else {
      other_data = d;
    }
    // Players receive onMetaData without the @setDataFrame wrapper (FLV files never have it):
    // re-encode the unwrapped form when the server (or the publisher) sent the wrapper.
    if (d.handler != (data->handler)) {
      Message m = encode_data(d, msg.stream_id, msg.timestamp);
      msg.payload = std::move(m.payload);
    }
  } else if (type == MessageType::video) {
    is_header = is_video_config(msg.payload);
  } else {
    is_header = is_audio_config(msg.payload);
  }

  // The timeline starts at the first audio/video message: servers send data messages such as
  // |RtmpSampleAccess with timestamp 0 before a stream whose clock is elsewhere.
  const std::int64_t ms = type == MessageType::data_amf0 && !timeline_.started
                              ? std::max<std::int64_t>(timeline_.position, 0)
                              : timeline_.rebase(msg.timestamp);
  if (other_data && !other_data->values.empty())
    data_structure_ = data_to_structure(other_data->handler, other_data->values[0], ms);
  const bool keyframe = type != MessageType::video || (msg.payload[0] & 0x70) == 0x10;
  if (is_header) {
    // Kept for the streamheader: a copy (headers are few and small).
    Bytes tag;
    if (!write_flv_tag(msg.type, static_cast<std::uint32_t>(ms), msg.payload, tag)) {
      auto &slot = type == MessageType::data_amf0 ? metadata_tag_
                   : type == MessageType::video   ? video_config_tag_
                                                  : audio_config_tag_;
      slot = std::move(tag);
      caps_dirty_ = true;
    }
  }
  const std::size_t payload_size = msg.payload.size();
  GstBuffer *buf =
      flv_tag_buffer(msg.type, static_cast<std::uint32_t>(ms), std::move(msg.payload), pool_);
  msg.payload.clear(); // moved from: leave it empty, not merely unspecified
  if (!buf) {
    GST_WARNING_OBJECT(log_object, "message of %zu bytes does not fit an FLV tag", payload_size);
    return nullptr;
  }
  GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = static_cast<GstClockTime>(ms) * GST_MSECOND;
  if (is_header)
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_HEADER);
  if (type != MessageType::data_amf0)
    ++media_buffers_out_;
  if (!keyframe)
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT); // not a keyframe (FrameType != 1)
  return buf;
}

} // namespace rtmp::gst
