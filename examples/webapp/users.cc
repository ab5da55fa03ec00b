#include "examples/webapp/users.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace sesh {
namespace webapp {
namespace {

struct Entry {
  const char* id;
  const char* display_name;
  const char* salt_hex;
  const char* hash_hex;  // HashPassword(password, salt)
};

// Demo users only: the passwords are in the README.
constexpr Entry kUsers[] = {
    {"alice", "Alice Liddell", "e7929aa769fddae058cb77193c70b5fd",
     "a3670fc9758b179937970f31aaa9bc5039436cf82666163ff0e972e0d7840ff6"},
    {"bob", "Bob Builder", "51ac58e6dfd3c40001a25106f17d65d2",
     "17ef6b66fde1f107b766534a7a43590be9dc97263c1ae6bc9a3321297cd1a5a2"},
};
// Hashed against when the user is unknown, so that it takes as long.
constexpr char kDummySaltHex[] = "b70174b75308d6b576566b9730ada9ef";

}  // namespace

std::string HashPassword(absl::string_view password, absl::string_view salt,
                         int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    sizeof(out), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

absl::StatusOr<User> CheckPassword(absl::string_view user_id,
                                   absl::string_view password) {
  const Entry* found = nullptr;
  for (const Entry& e : kUsers) {
    if (user_id == e.id) found = &e;
  }
  const std::string salt =
      absl::HexStringToBytes(found ? found->salt_hex : kDummySaltHex);
  const std::string hash = HashPassword(password, salt);
  if (found != nullptr) {
    const std::string expected = absl::HexStringToBytes(found->hash_hex);
    if (CRYPTO_memcmp(hash.data(), expected.data(), hash.size()) == 0) {
      return User{found->id, found->display_name};
    }
  }
  return absl::UnauthenticatedError("wrong user name or password");
}

}  // namespace webapp
}  // namespace sesh
