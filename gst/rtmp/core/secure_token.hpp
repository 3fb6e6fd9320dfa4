// The "secureToken" challenge of Limelight / Akamai (FMS-era) servers: the connect _result's
// information object carries `secureToken`, a hex string that is a shared secret's plaintext
// encrypted with XXTEA (Wheeler and Needham's "corrected Block TEA"); the client answers with
// the NetConnection call `secureTokenResponse(null, plaintext)`. The conventions are those of
// librtmp's `token` option and rtmp2's `secure-token` (no specification exists):
//   - key: the first 16 bytes of the configured string, packed into four little-endian 32-bit
//     words, missing bytes zero;
//   - challenge: hex digits, 8 per 32-bit word, each word's bytes in little-endian order;
//   - plaintext: the decrypted words' bytes, trailing NUL padding removed (the ActionScript
//     TEA code Flash players used strips it; rtmp2 stops at the first NUL).
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace rtmp {

// Longest secureToken challenge we decrypt (hex digits). Real ones are a few dozen; the AMF
// string it arrives in could be megabytes.
inline constexpr std::size_t kMaxSecureTokenLength = 1024;

// Decrypts a server's secureToken with `key`. Errc::malformed when the challenge is empty, not
// hex, or not a whole number of 32-bit words; Errc::limit_exceeded beyond
// kMaxSecureTokenLength.
Result<std::string> decrypt_secure_token(std::string_view key, std::string_view challenge_hex);

// The server side (and tests): `plaintext` NUL-padded to whole words (at least two, as XXTEA
// needs), encrypted with `key`, as lowercase hex. Errc::limit_exceeded when the result would
// exceed kMaxSecureTokenLength.
Result<std::string> encrypt_secure_token(std::string_view key, std::string_view plaintext);

} // namespace rtmp
