// The example app's fixed table of demo users, with salted password hashes:
// PBKDF2-HMAC-SHA256 (OpenSSL PKCS5_PBKDF2_HMAC), 600,000 iterations, a
// 16-byte salt per user. The users and their passwords are listed in
// examples/webapp/README.md.

#ifndef SESH_EXAMPLES_WEBAPP_USERS_H_
#define SESH_EXAMPLES_WEBAPP_USERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sesh {
namespace webapp {

struct User {
  std::string id;            // e.g. "alice": the session's user_id
  std::string display_name;  // e.g. "Alice Liddell"
};

inline constexpr int kPbkdf2Iterations = 600000;

// PBKDF2-HMAC-SHA256 of `password` with `salt`: 32 raw bytes.
std::string HashPassword(absl::string_view password, absl::string_view salt,
                         int iterations = kPbkdf2Iterations);

// The user if `password` is theirs. An unknown user costs one hash too, so
// the time taken does not say which names exist; the hashes are compared in
// constant time. Errors: UNAUTHENTICATED (unknown user or wrong password,
// one message for both).
absl::StatusOr<User> CheckPassword(absl::string_view user_id,
                                   absl::string_view password);

}  // namespace webapp
}  // namespace sesh

#endif  // SESH_EXAMPLES_WEBAPP_USERS_H_
