// Signed values: small data a web service keeps in a cookie only (a theme, a
// language), which the browser can read but not change. HMAC-SHA256
// (OpenSSL) over the cookie's purpose, an optional expiry and the value.
// Not encrypted: never put a secret in one.
//
// Wire form (cookie-safe, no padding): "v1." base64url(payload) "."
// base64url(mac), where payload = expiry as 8 bytes big-endian Unix
// milliseconds (0: none) followed by the value, and mac =
// HMAC-SHA256(key, "sesh-signed-value\0" purpose "\0" payload).
//
// Key rotation: the first key signs; every key verifies. Add a new key in
// front, and drop the old one once the values it signed have expired.
// A SignedValues is immutable and thread-safe.

#ifndef SESH_CLIENT_SESH_SIGNED_VALUE_H_
#define SESH_CLIENT_SESH_SIGNED_VALUE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sesh {

// HMAC-SHA256 of `data` under `key`: 32 raw bytes. Any key length (RFC 2104).
std::string HmacSha256(absl::string_view key, absl::string_view data);

class SignedValues {
 public:
  static constexpr size_t kMinKeyBytes = 32;
  static constexpr size_t kMaxKeys = 16;
  // Longest signed text Verify accepts (a cookie holds about 4 KiB).
  static constexpr size_t kMaxSignedBytes = 4096;

  // `keys`: raw key bytes, the signing key first.
  // Errors: INVALID_ARGUMENT (no key, more than kMaxKeys, a key shorter than
  // kMinKeyBytes).
  static absl::StatusOr<SignedValues> Create(std::vector<std::string> keys);

  // Signs `value` for `purpose` (e.g. the cookie name: a value signed for
  // one purpose never verifies for another). `expires`: after it Verify
  // refuses the value; nullopt: never. Fails only when the result would be
  // longer than kMaxSignedBytes (INVALID_ARGUMENT).
  absl::StatusOr<std::string> Sign(absl::string_view purpose,
                                   absl::string_view value,
                                   std::optional<absl::Time> expires) const;

  // The value inside `signed_text` if some key signed it for `purpose` and
  // it has not expired at `now`. The MAC is compared in constant time
  // against every key.
  // Errors: INVALID_ARGUMENT (not the wire form: wrong prefix, truncated,
  // bad base64url, too long), UNAUTHENTICATED (no key signed it for this
  // purpose: tampered or forged), NOT_FOUND (expired: expiry <= now).
  absl::StatusOr<std::string> Verify(absl::string_view purpose,
                                     absl::string_view signed_text,
                                     absl::Time now) const;

 private:
  explicit SignedValues(std::vector<std::string> keys)
      : keys_(std::move(keys)) {}

  std::vector<std::string> keys_;
};

}  // namespace sesh

#endif  // SESH_CLIENT_SESH_SIGNED_VALUE_H_
