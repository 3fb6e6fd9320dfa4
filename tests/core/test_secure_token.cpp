// secureToken (Limelight/Akamai challenge, secure_token.hpp): the XXTEA cipher with librtmp's
// key and hex conventions, and the client session's secureTokenResponse.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/secure_token.hpp"
#include "session_test_util.hpp"

using namespace rtmp;
using namespace rtmp::test;

// Vectors. The first is the published XXTEA one (all-zero key, two all-zero words -> ab04...57,
// bytes of each word little-endian). The others were made with an independent implementation
// of Wheeler and Needham's corrected Block TEA (not this code), with librtmp's conventions:
// key = first 16 bytes, zero-padded; plaintext NUL-padded to whole words, at least two.
struct Vector {
  const char *key, *plaintext, *challenge;
};
static const Vector kVectors[] = {
    {"", "", "ab043705808c5d57"},
    {"gst-rtmp-secret", "hello token", "79909d21d97724ff3b906a8d"},
    // Only the first 16 bytes of the key count ("EXTRA" is ignored).
    {"0123456789abcdefEXTRA", "abcdefgh", "63126938effe4cc3"},
    {"key", "x", "b90f465a112fe398"},
};

TEST(SecureToken, DecryptsKnownVectors) {
  for (const auto &v : kVectors) {
    auto plain = decrypt_secure_token(v.key, v.challenge);
    ASSERT_TRUE(plain.ok()) << v.challenge;
    EXPECT_EQ(*plain, v.plaintext) << v.challenge; // trailing NUL padding removed
  }
  // Upper-case hex is the same challenge.
  auto upper = decrypt_secure_token("gst-rtmp-secret", "79909D21D97724FF3B906A8D");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*upper, "hello token");
  // The key is significant: the 16th byte changes the result, the 17th does not.
  EXPECT_EQ(*decrypt_secure_token("0123456789abcdef", "63126938effe4cc3"), "abcdefgh");
  EXPECT_NE(*decrypt_secure_token("0123456789abcdeF", "63126938effe4cc3"), "abcdefgh");
}

TEST(SecureToken, EncryptsKnownVectors) {
  for (const auto &v : kVectors) {
    auto hex = encrypt_secure_token(v.key, v.plaintext);
    ASSERT_TRUE(hex.ok());
    EXPECT_EQ(*hex, v.challenge) << v.plaintext;
  }
}

TEST(SecureToken, RoundTripsRandomTokens) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string key, plain;
    for (int n = static_cast<int>(rng() % 24); n > 0; --n)
      key.push_back(static_cast<char>(rng() % 255 + 1));
    for (int n = static_cast<int>(rng() % 100); n > 0; --n)
      plain.push_back(static_cast<char>(rng() % 255 + 1)); // no NUL: padding is stripped
    auto hex = encrypt_secure_token(key, plain);
    ASSERT_TRUE(hex.ok());
    EXPECT_EQ(hex->size() % 8, 0u);
    auto back = decrypt_secure_token(key, *hex);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
  }
}

TEST(SecureToken, HostileChallengesAreTypedErrors) {
  const auto malformed = make_error_code(Errc::malformed);
  EXPECT_EQ(decrypt_secure_token("k", "").error(), malformed);
  EXPECT_EQ(decrypt_secure_token("k", "abc").error(), malformed);              // odd
  EXPECT_EQ(decrypt_secure_token("k", "0011223344").error(), malformed);       // not whole words
  EXPECT_EQ(decrypt_secure_token("k", "0011223g44556677").error(), malformed); // not hex
  EXPECT_EQ(decrypt_secure_token("k", std::string("00112233") + std::string(8, '\0')).error(),
            malformed);
  // A single word decrypts (librtmp accepts it too); it is only garbage.
  EXPECT_TRUE(decrypt_secure_token("k", "00112233").ok());
  EXPECT_TRUE(decrypt_secure_token("k", std::string(kMaxSecureTokenLength, 'a')).ok());
  EXPECT_EQ(decrypt_secure_token("k", std::string(kMaxSecureTokenLength + 8, 'a')).error(),
            make_error_code(Errc::limit_exceeded));
  EXPECT_EQ(encrypt_secure_token("k", std::string(kMaxSecureTokenLength, 'a')).error(),
            make_error_code(Errc::limit_exceeded));
}

// ---- the client session's answer -----------------------------------------------------------

namespace {

const IncomingCall *find_call(const std::vector<Event> &events, const std::string &name) {
  for (const auto &e : events)
    if (auto *c = std::get_if<IncomingCall>(&e); c && c->command.name == name)
      return c;
  return nullptr;
}

} // namespace

TEST(SecureToken, ClientAnswersTheChallenge) {
  ClientConfig cc = client_config();
  cc.secure_token = "gst-rtmp-secret";
  ServerConfig sc = server_config();
  sc.secure_token = *encrypt_secure_token("gst-rtmp-secret", "the shared secret");
  Pipe p(cc, sc, 3, 7);
  ASSERT_NE(p.connect_and_create_stream(), 0u) << describe(p.client_events);
  const IncomingCall *call = find_call(p.server_events, "secureTokenResponse");
  ASSERT_NE(call, nullptr) << describe(p.server_events);
  // librtmp / rtmp2 shape: transaction 0, null command object, the plaintext.
  EXPECT_EQ(call->command.transaction_id, 0);
  EXPECT_TRUE(call->command.command_object.is_null_or_undefined());
  ASSERT_NE(call->command.argument(0), nullptr);
  ASSERT_NE(call->command.argument(0)->as_string(), nullptr);
  EXPECT_EQ(*call->command.argument(0)->as_string(), "the shared secret");
}

TEST(SecureToken, NoChallengeNoAnswer) {
  ClientConfig cc = client_config();
  cc.secure_token = "gst-rtmp-secret";
  Pipe p(cc, server_config());
  ASSERT_NE(p.connect_and_create_stream(), 0u);
  EXPECT_EQ(find_call(p.server_events, "secureTokenResponse"), nullptr);
}

TEST(SecureToken, ChallengeWithoutKeyFailsTheConnect) {
  ServerConfig sc = server_config();
  sc.secure_token = *encrypt_secure_token("k", "secret");
  Pipe p(client_config(), sc);
  p.start();
  p.pump();
  EXPECT_FALSE(has_event<Connected>(p.client_events));
  auto errors = events_of<Error>(p.client_events);
  ASSERT_EQ(errors.size(), 1u) << describe(p.client_events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::auth_failed));
  EXPECT_NE(errors[0].description.find("secure token"), std::string::npos);
  EXPECT_TRUE(p.client.closed());
}

TEST(SecureToken, GarbageChallengeIsMalformed) {
  ClientConfig cc = client_config();
  cc.secure_token = "k";
  ServerConfig sc = server_config();
  sc.secure_token = "not hex at all!!";
  Pipe p(cc, sc);
  p.start();
  p.pump();
  EXPECT_FALSE(has_event<Connected>(p.client_events));
  auto errors = events_of<Error>(p.client_events);
  ASSERT_EQ(errors.size(), 1u) << describe(p.client_events);
  EXPECT_EQ(errors[0].code, make_error_code(Errc::malformed));
}

// ---- Set Chunk Size in the middle of a publish (ClientSession::set_chunk_size) --------------

TEST(ClientChunkSize, ChangedBetweenMessagesWhilePublishing) {
  Pipe p(client_config(), server_config(), 5, 333);
  const std::uint32_t sid = p.connect_and_create_stream();
  ASSERT_NE(sid, 0u);
  ASSERT_FALSE(p.client.publish(sid, "test", "live", p.now));
  p.pump();
  ASSERT_TRUE(has_event<PublishStarted>(p.client_events));
  Bytes payload(10000);
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<std::uint8_t>(i * 7);
  std::vector<std::uint32_t> sizes = {4096, 100, 1, 65536, 128};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) {
      ASSERT_FALSE(p.client.set_chunk_size(sizes[i]));
    }
    EXPECT_EQ(p.client.stats().chunk_size_out, sizes[i]);
    ASSERT_FALSE(
        p.client.send_media(sid, MessageType::video, static_cast<std::uint32_t>(i * 40), payload));
    p.pump();
    EXPECT_EQ(p.server.stats().chunk_size_in, sizes[i]);
  }
  auto media = events_of<Media>(p.server_events);
  ASSERT_EQ(media.size(), sizes.size());
  for (std::size_t i = 0; i < media.size(); ++i) {
    EXPECT_EQ(media[i].msg.payload, payload) << i;
    EXPECT_EQ(media[i].msg.timestamp, i * 40);
  }
  EXPECT_EQ(p.client.set_chunk_size(0), make_error_code(Errc::invalid_argument));
  EXPECT_EQ(p.client.set_chunk_size(0x80000000u), make_error_code(Errc::invalid_argument));
}
