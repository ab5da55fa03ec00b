#include "client/sesh/signed_value.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

constexpr absl::string_view kPrefix = "v1.";
constexpr size_t kMacBytes = 32;
constexpr size_t kExpiryBytes = 8;

std::string MacInput(absl::string_view purpose, absl::string_view payload) {
  return absl::StrCat(absl::string_view("sesh-signed-value\0", 18), purpose,
                      absl::string_view("\0", 1), payload);
}

// Strict base64url without padding: the one text Escape gives for the bytes.
bool DecodeStrict(absl::string_view text, std::string* out) {
  if (!absl::WebSafeBase64Unescape(text, out)) return false;
  return absl::WebSafeBase64Escape(*out) == text;
}

}  // namespace

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // A zero-length key still needs a non-null pointer.
  static const char kEmpty = 0;
  const char* key_ptr = key.empty() ? &kEmpty : key.data();
  HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

absl::StatusOr<SignedValues> SignedValues::Create(
    std::vector<std::string> keys) {
  if (keys.empty() || keys.size() > kMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed values: between 1 and ", kMaxKeys, " keys"));
  }
  for (const std::string& key : keys) {
    if (key.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signed values: every key needs at least ", kMinKeyBytes, " bytes"));
    }
  }
  return SignedValues(std::move(keys));
}

absl::StatusOr<std::string> SignedValues::Sign(
    absl::string_view purpose, absl::string_view value,
    std::optional<absl::Time> expires) const {
  // The encoded size is known before encoding: 4 chars per 3 bytes.
  const size_t payload_chars = ((kExpiryBytes + value.size()) * 4 + 2) / 3;
  if (kPrefix.size() + payload_chars + 1 + 43 > kMaxSignedBytes) {
    return absl::InvalidArgumentError("signed values: value too long");
  }
  int64_t expiry_ms = 0;
  if (expires.has_value()) expiry_ms = std::max<int64_t>(1, absl::ToUnixMillis(*expires));
  std::string payload(kExpiryBytes, '\0');
  for (size_t i = 0; i < kExpiryBytes; ++i) {
    payload[i] = static_cast<char>(
        (static_cast<uint64_t>(expiry_ms) >> (8 * (kExpiryBytes - 1 - i))) &
        0xff);
  }
  payload.append(value.data(), value.size());
  const std::string mac = HmacSha256(keys_.front(), MacInput(purpose, payload));
  return absl::StrCat(kPrefix, absl::WebSafeBase64Escape(payload), ".",
                      absl::WebSafeBase64Escape(mac));
}

absl::StatusOr<std::string> SignedValues::Verify(absl::string_view purpose,
                                                 absl::string_view signed_text,
                                                 absl::Time now) const {
  if (signed_text.size() > kMaxSignedBytes ||
      !absl::ConsumePrefix(&signed_text, kPrefix)) {
    return absl::InvalidArgumentError("signed values: not a signed value");
  }
  const size_t dot = signed_text.find('.');
  if (dot == absl::string_view::npos) {
    return absl::InvalidArgumentError("signed values: truncated");
  }
  std::string payload;
  std::string mac;
  if (!DecodeStrict(signed_text.substr(0, dot), &payload) ||
      !DecodeStrict(signed_text.substr(dot + 1), &mac)) {
    return absl::InvalidArgumentError("signed values: bad encoding");
  }
  if (payload.size() < kExpiryBytes || mac.size() != kMacBytes) {
    return absl::InvalidArgumentError("signed values: truncated");
  }
  const std::string input = MacInput(purpose, payload);
  // Every key is tried, whichever matches: the time taken does not say which.
  int matched = 0;
  for (const std::string& key : keys_) {
    const std::string expected = HmacSha256(key, input);
    matched |= CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) == 0;
  }
  if (!matched) {
    return absl::UnauthenticatedError("signed values: signature mismatch");
  }
  uint64_t expiry_ms = 0;
  for (size_t i = 0; i < kExpiryBytes; ++i) {
    expiry_ms = (expiry_ms << 8) | static_cast<unsigned char>(payload[i]);
  }
  if (expiry_ms != 0 &&
      static_cast<int64_t>(expiry_ms) <= absl::ToUnixMillis(now)) {
    return absl::NotFoundError("signed values: expired");
  }
  return payload.substr(kExpiryBytes);
}

}  // namespace sesh
