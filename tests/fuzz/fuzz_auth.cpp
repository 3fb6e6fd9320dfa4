// libFuzzer target: authentication text a peer controls: a connect _error description (client
// side) and a connect app/tcUrl query (server side, with a challenge issued first so that the
// verify path is reached); and a secureToken challenge (secure_token.hpp) decrypted with the second
// line as the key, whose plaintext must encrypt back to the same challenge when it had no NUL
// padding to strip. Input: "<description or app>\n<tcUrl>".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/auth.hpp"
#include "core/secure_token.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  std::string_view first = in.substr(0, in.find('\n'));
  std::string_view second = first.size() < in.size() ? in.substr(first.size() + 1) : "";
  using namespace rtmp::auth;
  if (auto c = parse_rejection(first))
    (void)response_query(*c, "password", "cafebabe", "live");
  ClientAuth client("user", "pass");
  (void)client.on_rejected(first, "cafebabe", "live");
  for (Method m : {Method::adobe, Method::llnw}) {
    ServerAuthConfig cfg;
    cfg.method = m;
    cfg.random = [](std::span<std::uint8_t> out) {
      for (auto &b : out)
        b = 0x5a;
    };
    cfg.lookup = [](std::string_view) -> std::optional<std::string> { return "pass"; };
    (void)check_connect(cfg,
                        std::string("live?authmod=") + std::string(to_string(m)) + "&user=user", "",
                        rtmp::Millis{0});
    (void)check_connect(cfg, first, second, rtmp::Millis{1});
  }
  (void)percent_decode(first);
  if (auto plain = rtmp::decrypt_secure_token(second, first)) {
    if (first.size() >= 16 && !plain->empty() && plain->size() * 2 == first.size()) {
      auto again = rtmp::encrypt_secure_token(second, *plain);
      std::string lower(first);
      for (char &ch : lower)
        if (ch >= 'A' && ch <= 'F')
          ch = static_cast<char>(ch - 'A' + 'a');
      if (!again || *again != lower)
        __builtin_trap();
    }
  }
  return 0;
}
