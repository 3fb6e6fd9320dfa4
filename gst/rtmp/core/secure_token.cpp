#include "core/secure_token.hpp"

#include "core/bytes.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace rtmp {
namespace {

using Key = std::array<std::uint32_t, 4>;

// XXTEA's round constant (the golden ratio, 2^32 / phi).
constexpr std::uint32_t kDelta = 0x9E3779B9;

Key make_key(std::string_view s) {
  Key k{};
  for (std::size_t i = 0; i < s.size() && i < 16; ++i)
    k[i / 4] |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[i])) << (8 * (i % 4));
  return k;
}

std::uint32_t mix(std::uint32_t sum, std::uint32_t y, std::uint32_t z, std::size_t p,
                  std::uint32_t e, const Key &k) {
  return (((z >> 5) ^ (y << 2)) + ((y >> 3) ^ (z << 4))) ^ ((sum ^ y) + (k[(p & 3) ^ e] ^ z));
}

// Rounds: 6 + 52/n (the "corrected Block TEA" of Wheeler and Needham, 1998).
std::uint32_t rounds(std::size_t n) {
  return static_cast<std::uint32_t>(6 + 52 / n);
}

void xxtea_encrypt(std::vector<std::uint32_t> &v, const Key &k) {
  const std::size_t n = v.size();
  std::uint32_t sum = 0, z = v[n - 1];
  for (std::uint32_t q = rounds(n); q > 0; --q) {
    sum += kDelta;
    const std::uint32_t e = (sum >> 2) & 3;
    for (std::size_t p = 0; p < n; ++p) {
      const std::uint32_t y = v[(p + 1) % n];
      z = v[p] += mix(sum, y, z, p, e, k);
    }
  }
}

void xxtea_decrypt(std::vector<std::uint32_t> &v, const Key &k) {
  const std::size_t n = v.size();
  std::uint32_t sum = rounds(n) * kDelta, y = v[0];
  while (sum != 0) {
    const std::uint32_t e = (sum >> 2) & 3;
    for (std::size_t p = n; p-- > 0;) {
      const std::uint32_t z = v[p > 0 ? p - 1 : n - 1];
      y = v[p] -= mix(sum, y, z, p, e, k);
    }
    sum -= kDelta;
  }
}

} // namespace

Result<std::string> decrypt_secure_token(std::string_view key, std::string_view challenge_hex) {
  if (challenge_hex.size() > kMaxSecureTokenLength)
    return Errc::limit_exceeded;
  if (challenge_hex.empty() || challenge_hex.size() % 8 != 0)
    return Errc::malformed;
  std::vector<std::uint32_t> v(challenge_hex.size() / 8, 0);
  for (std::size_t i = 0; i < challenge_hex.size(); i += 2) {
    const int hi = hex_digit_value(challenge_hex[i]), lo = hex_digit_value(challenge_hex[i + 1]);
    if (hi < 0 || lo < 0)
      return Errc::malformed;
    const std::size_t byte = i / 2;
    v[byte / 4] |= static_cast<std::uint32_t>(hi << 4 | lo) << (8 * (byte % 4));
  }
  xxtea_decrypt(v, make_key(key));
  std::string out;
  out.reserve(v.size() * 4);
  for (std::uint32_t w : v)
    for (int b = 0; b < 4; ++b)
      out.push_back(static_cast<char>((w >> (8 * b)) & 0xFF));
  while (!out.empty() && out.back() == '\0')
    out.pop_back();
  return out;
}

Result<std::string> encrypt_secure_token(std::string_view key, std::string_view plaintext) {
  const std::size_t words = std::max<std::size_t>(2, (plaintext.size() + 3) / 4);
  if (words * 8 > kMaxSecureTokenLength)
    return Errc::limit_exceeded;
  std::vector<std::uint32_t> v(words, 0);
  for (std::size_t i = 0; i < plaintext.size(); ++i)
    v[i / 4] |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(plaintext[i]))
                << (8 * (i % 4));
  xxtea_encrypt(v, make_key(key));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(words * 8);
  for (std::uint32_t w : v)
    for (int b = 0; b < 4; ++b) {
      const auto byte = static_cast<std::uint8_t>(w >> (8 * b));
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  return out;
}

} // namespace rtmp
