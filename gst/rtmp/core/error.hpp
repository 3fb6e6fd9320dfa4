// Typed errors of the RTMP core, wired into std::error_code.
//
// Every error says who was wrong: the peer (malformed or hostile input, a rejection) or we
// (API misuse by the caller). See error_origin().
#pragma once

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace rtmp {

enum class Errc {
  // Peer errors: what came over the wire is malformed or exceeds a limit we set.
  truncated = 1,      // input ended inside a value that claimed more bytes
  malformed,          // a field has a value the specification does not allow
  limit_exceeded,     // a size/count/depth the peer controls is above our named limit
  unsupported,        // valid per spec, but something we chose not to accept (e.g. rtmpt)
  amf_bad_marker,     // unknown or forbidden AMF type marker (movieclip, recordset)
  amf_bad_reference,  // reference index out of range or cyclic
  amf_externalizable, // AMF3 externalizable object of a class we cannot decode
  handshake_bad_version,
  handshake_bad_echo, // C2/S2 does not echo what we sent (in strict checks)
  chunk_bad_header,   // a chunk continues a stream with no previous header, bad csid...
  chunk_bad_size,     // Set Chunk Size outside 1..2^31-1
  flv_bad_header,
  flv_bad_tag,
  url_invalid,
  url_missing_stream,
  url_unsupported_scheme,
  protocol_violation, // a well-formed message at a time the state machine does not allow
  // Peer answers that are not malformed but end what we asked for.
  connect_rejected,
  command_failed, // _error to a call, or an onStatus with level "error"
  publish_rejected,
  play_failed,
  auth_failed,
  timeout,
  // Local errors: the caller used the API wrongly.
  invalid_state,
  invalid_argument,
};

enum class ErrorOrigin { peer, local, none };

const std::error_category &rtmp_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;
ErrorOrigin error_origin(std::error_code ec) noexcept;

// A minimal expected<T, error_code> (std::expected is C++23).
template <typename T> class Result {
public:
  Result(T value) : v_(std::move(value)) {}
  Result(std::error_code ec) : v_(ec) {}
  Result(Errc e) : v_(make_error_code(e)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T &value() & { return std::get<0>(v_); }
  const T &value() const & { return std::get<0>(v_); }
  T &&value() && { return std::get<0>(std::move(v_)); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(v_); }

private:
  std::variant<T, std::error_code> v_;
};

} // namespace rtmp

template <> struct std::is_error_code_enum<rtmp::Errc> : std::true_type {};
