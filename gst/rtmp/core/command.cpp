#include "core/command.hpp"

#include <cmath>
#include <limits>
#include <utility>

#include "core/amf0.hpp"
#include "core/amf3.hpp"

namespace rtmp {
namespace {

// AMF0 spec 3.1: the avmplus-object-marker switches the following value to AMF3.
constexpr std::uint8_t kAvmplusMarker = 0x11;
// RTMP 1.0 section 7.1.1 / 7.1.2: type 17 and 15 payloads start with a format selector byte,
// 0 (AMF0 values follow, each of which may switch to AMF3 through kAvmplusMarker).
constexpr std::uint8_t kAmf3FormatPrefix = 0x00;

bool is_command_type(std::uint8_t t) {
  return t == static_cast<std::uint8_t>(MessageType::command_amf0) ||
         t == static_cast<std::uint8_t>(MessageType::command_amf3);
}
bool is_data_type(std::uint8_t t) {
  return t == static_cast<std::uint8_t>(MessageType::data_amf0) ||
         t == static_cast<std::uint8_t>(MessageType::data_amf3);
}
bool is_amf3_type(std::uint8_t t) {
  return t == static_cast<std::uint8_t>(MessageType::command_amf3) ||
         t == static_cast<std::uint8_t>(MessageType::data_amf3);
}

// The AMF body of a message: a type 17/15 payload drops its 0x00 format byte. A first name is
// always an AMF0 string (marker 0x02), so a leading 0x00 cannot be the start of the body.
ByteView amf_body(const Message &msg) {
  ByteView body(msg.payload);
  if (is_amf3_type(msg.type) && !body.empty() && body[0] == kAmf3FormatPrefix)
    body = body.subspan(1);
  return body;
}

// Reads the values of a command or data message one by one (the AMF0 reader follows 0x11
// switches to AMF3), stopping at `max_values`.
Result<std::vector<amf::Value>> read_values(ByteView body, const amf::DecodeLimits &limits,
                                            std::size_t max_values) {
  amf::Amf0Reader reader(body, limits);
  std::vector<amf::Value> values;
  while (!reader.at_end()) {
    if (values.size() >= max_values)
      return Errc::limit_exceeded;
    auto v = reader.read();
    if (!v)
      return v.error();
    values.push_back(std::move(*v));
  }
  return values;
}

Result<std::string> read_name(const amf::Value &v) {
  const std::string *s = v.as_string();
  if (!s)
    return Errc::malformed;
  if (s->size() > kMaxCommandNameLength)
    return Errc::limit_exceeded;
  return *s;
}

// Values AMF0 has no way to carry; everything else is written in AMF0 inside a type 17 message
// too, as Flash Player does, so that AMF0-only peers can still read the common values.
bool needs_amf3(const amf::Value &v) {
  return v.is<amf::Integer>() || v.is<amf::ByteArray>() || v.is<amf::VectorInt>() ||
         v.is<amf::VectorUint>() || v.is<amf::VectorDouble>() || v.is<amf::VectorObject>() ||
         v.is<amf::Dictionary>() || (v.is<amf::Xml>() && v.get_if<amf::Xml>()->e4x);
}

} // namespace

void append_message_value(Bytes &out, const amf::Value &v, bool amf3) {
  if (amf3 && needs_amf3(v)) {
    out.push_back(kAvmplusMarker);
    amf::Amf3Writer(out).write(v); // fresh reference tables per switched value (AMF0 spec 3.1)
    return;
  }
  amf::Amf0Writer(out).write(v);
}

namespace {

Bytes encode_values(std::string_view first, const std::vector<const amf::Value *> &rest,
                    bool amf3) {
  Bytes out;
  if (amf3)
    out.push_back(kAmf3FormatPrefix);
  append_message_value(out, amf::Value(std::string(first)), amf3);
  for (const amf::Value *v : rest)
    append_message_value(out, *v, amf3);
  return out;
}

amf::Value str(std::string_view s) {
  return amf::Value(std::string(s));
}
amf::Value num(double d) {
  return amf::Value(d);
}

Command simple(std::string_view name, double txn, std::vector<amf::Value> args = {}) {
  Command c;
  c.name = std::string(name);
  c.transaction_id = txn;
  c.command_object = amf::Null{};
  c.arguments = std::move(args);
  return c;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Codec

Result<Command> decode_command(const Message &msg) {
  return decode_command(msg, {});
}

Result<Command> decode_command(const Message &msg, const amf::DecodeLimits &limits) {
  if (!is_command_type(msg.type))
    return Errc::unsupported;
  // name + transaction id + command object + arguments
  auto values = read_values(amf_body(msg), limits, kMaxCommandArguments + 3);
  if (!values)
    return values.error();
  auto &vals = *values;
  if (vals.empty())
    return Errc::truncated;
  Command c;
  auto name = read_name(vals[0]);
  if (!name)
    return name.error();
  c.name = std::move(*name);
  // Section 7.2 always has a transaction id and a command object, but some servers end an
  // onStatus or a notification early; treat what is absent as 0 / null.
  if (vals.size() > 1) {
    auto txn = vals[1].as_number();
    if (!txn)
      return Errc::malformed;
    c.transaction_id = *txn;
  }
  if (vals.size() > 2)
    c.command_object = std::move(vals[2]);
  for (std::size_t i = 3; i < vals.size(); ++i)
    c.arguments.push_back(std::move(vals[i]));
  return c;
}

Message encode_command(const Command &cmd, std::uint32_t stream_id, bool amf3) {
  std::vector<const amf::Value *> rest;
  amf::Value txn(cmd.transaction_id);
  rest.push_back(&txn);
  rest.push_back(&cmd.command_object);
  for (const auto &a : cmd.arguments)
    rest.push_back(&a);
  Message m;
  m.type = static_cast<std::uint8_t>(amf3 ? MessageType::command_amf3 : MessageType::command_amf0);
  m.stream_id = stream_id;
  m.chunk_stream_id = csid::command;
  m.payload = encode_values(cmd.name, rest, amf3);
  return m;
}

Result<DataMessage> decode_data(const Message &msg) {
  return decode_data(msg, {});
}

Result<DataMessage> decode_data(const Message &msg, const amf::DecodeLimits &limits) {
  if (!is_data_type(msg.type))
    return Errc::unsupported;
  auto values = read_values(amf_body(msg), limits, kMaxDataValues + 1);
  if (!values)
    return values.error();
  auto &vals = *values;
  if (vals.empty())
    return Errc::truncated;
  DataMessage d;
  auto name = read_name(vals[0]);
  if (!name)
    return name.error();
  d.handler = std::move(*name);
  for (std::size_t i = 1; i < vals.size(); ++i)
    d.values.push_back(std::move(vals[i]));
  return d;
}

Message encode_data(const DataMessage &d, std::uint32_t stream_id, std::uint32_t timestamp,
                    bool amf3) {
  std::vector<const amf::Value *> rest;
  for (const auto &v : d.values)
    rest.push_back(&v);
  Message m;
  m.type = static_cast<std::uint8_t>(amf3 ? MessageType::data_amf3 : MessageType::data_amf0);
  m.stream_id = stream_id;
  m.timestamp = timestamp;
  m.chunk_stream_id = csid::data;
  m.payload = encode_values(d.handler, rest, amf3);
  return m;
}

DataMessage make_set_data_frame(amf::Value metadata) {
  return DataMessage{std::string(handler::set_data_frame),
                     {str(handler::on_meta_data), std::move(metadata)}};
}

DataMessage unwrap_set_data_frame(const DataMessage &d) {
  if (d.handler != handler::set_data_frame || d.values.empty() || !d.values[0].as_string())
    return d;
  DataMessage inner;
  inner.handler = *d.values[0].as_string();
  inner.values.assign(d.values.begin() + 1, d.values.end());
  return inner;
}

// ---------------------------------------------------------------------------------------------
// Information objects

std::optional<StatusInfo> status_from(const amf::Value &info_object) {
  if (!info_object.properties())
    return std::nullopt;
  auto code = info_object.string_at("code");
  if (!code)
    return std::nullopt;
  StatusInfo s;
  s.code = std::move(*code);
  s.level = info_object.string_at("level").value_or("");
  s.description = info_object.string_at("description").value_or("");
  s.object = info_object;
  return s;
}

amf::Value make_status_object(std::string_view level, std::string_view code,
                              std::string_view description, amf::Properties extra) {
  amf::Properties p;
  p.reserve(3 + extra.size());
  p.emplace_back("level", str(level));
  p.emplace_back("code", str(code));
  p.emplace_back("description", str(description));
  for (auto &e : extra)
    p.push_back(std::move(e));
  return amf::make_object(std::move(p));
}

// ---------------------------------------------------------------------------------------------
// Builders

ConnectParams ConnectParams::for_publish(std::string app, std::string tc_url) {
  // FFmpeg rtmpproto.c gen_connect() when writing: type "nonprivate", an FMLE flashVer, and no
  // fpad/capabilities/codec fields (those describe what a player can decode).
  ConnectParams p;
  p.app = std::move(app);
  p.tc_url = std::move(tc_url);
  p.type = "nonprivate";
  p.flash_ver = "FMLE/3.0 (compatible; FMSc/1.0)";
  p.fpad.reset();
  p.capabilities.reset();
  p.audio_codecs.reset();
  p.video_codecs.reset();
  p.video_function.reset();
  return p;
}

ConnectParams ConnectParams::for_play(std::string app, std::string tc_url) {
  ConnectParams p;
  p.app = std::move(app);
  p.tc_url = std::move(tc_url);
  return p;
}

Command make_connect(const ConnectParams &p, double transaction_id) {
  // Member order follows FFmpeg's gen_connect() so that captures compare byte for byte.
  amf::Properties o;
  o.emplace_back("app", str(p.app));
  if (p.type)
    o.emplace_back("type", str(*p.type));
  o.emplace_back("flashVer", str(p.flash_ver));
  if (p.swf_url)
    o.emplace_back("swfUrl", str(*p.swf_url));
  o.emplace_back("tcUrl", str(p.tc_url));
  if (p.fpad)
    o.emplace_back("fpad", amf::Value(*p.fpad));
  if (p.capabilities)
    o.emplace_back("capabilities", num(*p.capabilities));
  if (p.audio_codecs)
    o.emplace_back("audioCodecs", num(*p.audio_codecs));
  if (p.video_codecs)
    o.emplace_back("videoCodecs", num(*p.video_codecs));
  if (p.video_function)
    o.emplace_back("videoFunction", num(*p.video_function));
  if (p.page_url)
    o.emplace_back("pageUrl", str(*p.page_url));
  if (p.object_encoding)
    o.emplace_back("objectEncoding", num(*p.object_encoding));
  if (!p.fourcc_list.empty()) {
    // Enhanced RTMP v2: fourCcList is a strict array of FourCC strings.
    amf::Array list;
    for (const auto &f : p.fourcc_list)
      list.dense.push_back(str(f));
    o.emplace_back("fourCcList", amf::Value(std::move(list)));
  }
  for (const auto &e : p.extra_properties)
    o.push_back(e);
  Command c;
  c.name = std::string(cmd::connect);
  c.transaction_id = transaction_id;
  c.command_object = amf::make_object(std::move(o));
  c.arguments = p.extra_arguments;
  return c;
}

Result<ConnectParams> parse_connect(const Command &c) {
  if (c.name != cmd::connect || !c.command_object.properties())
    return Errc::malformed;
  const amf::Value &o = c.command_object;
  auto app = o.string_at("app");
  if (!app)
    return Errc::malformed;
  ConnectParams p;
  p.app = std::move(*app);
  p.type = o.string_at("type");
  p.flash_ver = o.string_at("flashVer").value_or("");
  p.swf_url = o.string_at("swfUrl");
  p.tc_url = o.string_at("tcUrl").value_or("");
  p.fpad.reset();
  if (const amf::Value *f = o.find("fpad"))
    p.fpad = f->as_bool();
  p.capabilities = o.number_at("capabilities");
  p.audio_codecs = o.number_at("audioCodecs");
  p.video_codecs = o.number_at("videoCodecs");
  p.video_function = o.number_at("videoFunction");
  p.page_url = o.string_at("pageUrl");
  p.object_encoding = o.number_at("objectEncoding");
  if (const amf::Value *list = o.find("fourCcList")) {
    if (const auto *arr = list->get_if<amf::Array>()) {
      for (const auto &item : arr->dense)
        if (const std::string *s = item.as_string())
          p.fourcc_list.push_back(*s);
    }
  }
  static constexpr std::string_view known[] = {
      "app",     "type",           "flashVer",    "swfUrl",      "tcUrl",
      "fpad",    "capabilities",   "audioCodecs", "videoCodecs", "videoFunction",
      "pageUrl", "objectEncoding", "fourCcList"};
  for (const auto &prop : *o.properties()) {
    bool is_known = false;
    for (auto k : known)
      is_known = is_known || prop.first == k;
    if (!is_known)
      p.extra_properties.push_back(prop);
  }
  p.extra_arguments = c.arguments;
  return p;
}

Command make_connect_result(double transaction_id, const ConnectResult &r) {
  amf::Value props = amf::make_object(
      {{"fmsVer", str(r.fms_ver)}, {"capabilities", num(r.capabilities)}, {"mode", num(r.mode)}});
  amf::Value info =
      make_status_object(status::level_status, status::connect_success, r.description,
                         {{"objectEncoding", num(r.object_encoding)},
                          {"data", amf::make_ecma_array({{"version", str(r.version)}})}});
  return make_result(transaction_id, std::move(props), std::move(info));
}

Command make_result(double transaction_id, amf::Value properties, amf::Value information) {
  Command c = simple(cmd::result, transaction_id, {std::move(information)});
  c.command_object = std::move(properties);
  return c;
}

Command make_error(double transaction_id, amf::Value properties, amf::Value information) {
  Command c = make_result(transaction_id, std::move(properties), std::move(information));
  c.name = std::string(cmd::error);
  return c;
}

Command make_connect_rejected(double transaction_id, std::string_view description) {
  return make_error(transaction_id, amf::Null{},
                    make_status_object(status::level_error, status::connect_rejected, description));
}

Command make_create_stream(double transaction_id) {
  return simple(cmd::create_stream, transaction_id);
}

Command make_create_stream_result(double transaction_id, std::uint32_t stream_id) {
  return make_result(transaction_id, amf::Null{}, num(stream_id));
}

std::optional<std::uint32_t> created_stream_id(const Command &result) {
  const amf::Value *v = result.argument(0);
  if (result.name != cmd::result || !v)
    return std::nullopt;
  auto n = v->as_number();
  // A message stream id is a 32-bit field (section 5.3.1.2.1); a fraction, a negative or a
  // larger number is not an id.
  if (!n || !(*n >= 0) || *n > std::numeric_limits<std::uint32_t>::max() || std::floor(*n) != *n)
    return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

Command make_release_stream(double transaction_id, std::string_view stream_name) {
  return simple(cmd::release_stream, transaction_id, {str(stream_name)});
}
Command make_fc_publish(double transaction_id, std::string_view stream_name) {
  return simple(cmd::fc_publish, transaction_id, {str(stream_name)});
}
Command make_fc_unpublish(double transaction_id, std::string_view stream_name) {
  return simple(cmd::fc_unpublish, transaction_id, {str(stream_name)});
}
Command make_fc_subscribe(double transaction_id, std::string_view stream_name) {
  return simple(cmd::fc_subscribe, transaction_id, {str(stream_name)});
}

Command make_on_fc_publish(std::string_view stream_name) {
  return simple(cmd::on_fc_publish, 0,
                {amf::make_object(
                    {{"code", str(status::publish_start)}, {"description", str(stream_name)}})});
}
Command make_on_fc_unpublish(std::string_view stream_name) {
  return simple(cmd::on_fc_unpublish, 0,
                {amf::make_object({{"code", str(status::unpublish_success)},
                                   {"description", str(stream_name)}})});
}

std::string_view to_string(PublishType t) {
  switch (t) {
  case PublishType::live:
    return "live";
  case PublishType::record:
    return "record";
  case PublishType::append:
    return "append";
  }
  return "live";
}

std::optional<PublishType> publish_type_from(std::string_view s) {
  if (s == "live")
    return PublishType::live;
  if (s == "record")
    return PublishType::record;
  if (s == "append")
    return PublishType::append;
  return std::nullopt;
}

Command make_publish(double transaction_id, std::string_view stream_name, PublishType type) {
  return simple(cmd::publish, transaction_id, {str(stream_name), str(to_string(type))});
}

Command make_play(double transaction_id, const PlayParams &p) {
  Command c = simple(cmd::play, transaction_id, {str(p.stream_name), num(p.start)});
  // reset needs duration before it (positional arguments, section 7.2.2.1)
  if (p.duration || p.reset)
    c.arguments.push_back(num(p.duration.value_or(-1)));
  if (p.reset)
    c.arguments.push_back(amf::Value(*p.reset));
  return c;
}

Result<PlayParams> parse_play(const Command &c) {
  const amf::Value *name = c.argument(0);
  if (c.name != cmd::play || !name || !name->as_string())
    return Errc::malformed;
  PlayParams p;
  p.stream_name = *name->as_string();
  if (const amf::Value *start = c.argument(1))
    p.start = start->as_number().value_or(-2);
  if (const amf::Value *duration = c.argument(2))
    p.duration = duration->as_number();
  if (const amf::Value *reset = c.argument(3))
    p.reset = reset->as_bool();
  return p;
}

Command make_play2(double transaction_id, amf::Value parameters) {
  return simple(cmd::play2, transaction_id, {std::move(parameters)});
}

Command make_delete_stream(double transaction_id, std::uint32_t stream_id) {
  return simple(cmd::delete_stream, transaction_id, {num(stream_id)});
}
Command make_close_stream(double transaction_id) {
  return simple(cmd::close_stream, transaction_id);
}
Command make_receive_audio(bool enable) {
  return simple(cmd::receive_audio, 0, {amf::Value(enable)});
}
Command make_receive_video(bool enable) {
  return simple(cmd::receive_video, 0, {amf::Value(enable)});
}
Command make_seek(double transaction_id, double milliseconds) {
  return simple(cmd::seek, transaction_id, {num(milliseconds)});
}
Command make_pause(double transaction_id, bool pause, double milliseconds) {
  return simple(cmd::pause, transaction_id, {amf::Value(pause), num(milliseconds)});
}
Command make_get_stream_length(double transaction_id, std::string_view stream_name) {
  return simple(cmd::get_stream_length, transaction_id, {str(stream_name)});
}

Command make_on_status(const StatusInfo &info) {
  if (info.object.properties()) {
    // Keep the extra members of the original object but make level/code/description agree.
    amf::Properties extra;
    for (const auto &p : *info.object.properties())
      if (p.first != "level" && p.first != "code" && p.first != "description")
        extra.push_back(p);
    return make_on_status(
        make_status_object(info.level, info.code, info.description, std::move(extra)));
  }
  return make_on_status(make_status_object(info.level, info.code, info.description));
}
Command make_on_status(amf::Value info_object) {
  return simple(cmd::on_status, 0, {std::move(info_object)});
}
Command make_on_bw_done() {
  return simple(cmd::on_bw_done, 0);
}
Command make_check_bw(double transaction_id) {
  return simple(cmd::check_bw, transaction_id);
}
Command make_call(std::string_view procedure, double transaction_id,
                  std::vector<amf::Value> arguments) {
  return simple(procedure, transaction_id, std::move(arguments));
}
Command make_close() {
  return simple(cmd::close, 0);
}

} // namespace rtmp
