#include "core/error.hpp"

namespace rtmp {
namespace {

class RtmpCategory final : public std::error_category {
public:
  const char *name() const noexcept override { return "rtmp"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
    case Errc::truncated:
      return "input truncated";
    case Errc::malformed:
      return "malformed data";
    case Errc::limit_exceeded:
      return "peer exceeded a limit";
    case Errc::unsupported:
      return "unsupported feature";
    case Errc::amf_bad_marker:
      return "invalid AMF type marker";
    case Errc::amf_bad_reference:
      return "invalid AMF reference";
    case Errc::amf_externalizable:
      return "AMF3 externalizable object of an unknown class";
    case Errc::handshake_bad_version:
      return "unsupported RTMP handshake version";
    case Errc::handshake_bad_echo:
      return "handshake echo does not match";
    case Errc::chunk_bad_header:
      return "invalid chunk header";
    case Errc::chunk_bad_size:
      return "invalid chunk size";
    case Errc::flv_bad_header:
      return "invalid FLV header";
    case Errc::flv_bad_tag:
      return "invalid FLV tag";
    case Errc::url_invalid:
      return "invalid RTMP URL";
    case Errc::url_missing_stream:
      return "RTMP URL has no stream name";
    case Errc::url_unsupported_scheme:
      return "unsupported URL scheme (only rtmp:// and rtmps:// are supported)";
    case Errc::protocol_violation:
      return "protocol violation";
    case Errc::connect_rejected:
      return "connection rejected by peer";
    case Errc::command_failed:
      return "command failed";
    case Errc::publish_rejected:
      return "publish rejected by peer";
    case Errc::play_failed:
      return "play failed";
    case Errc::auth_failed:
      return "authentication failed";
    case Errc::timeout:
      return "timed out";
    case Errc::invalid_state:
      return "operation not allowed in the current state";
    case Errc::invalid_argument:
      return "invalid argument";
    }
    return "unknown rtmp error";
  }
};

} // namespace

const std::error_category &rtmp_category() noexcept {
  static const RtmpCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), rtmp_category()};
}

ErrorOrigin error_origin(std::error_code ec) noexcept {
  if (!ec)
    return ErrorOrigin::none;
  if (ec.category() != rtmp_category())
    return ErrorOrigin::local;
  switch (static_cast<Errc>(ec.value())) {
  case Errc::invalid_state:
  case Errc::invalid_argument:
    return ErrorOrigin::local;
  default:
    return ErrorOrigin::peer;
  }
}

} // namespace rtmp
