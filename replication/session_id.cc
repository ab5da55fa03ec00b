#include "replication/session_id.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace sesh {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Value of a base64url character, or -1.
int CharValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string NewRawId() {
  std::string raw(kIdBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), kIdBytes) !=
      1) {
    // Without randomness no ID is safe to hand out; never fall back.
    std::abort();
  }
  return raw;
}

std::string EncodeId(absl::string_view raw) {
  std::string out;
  out.reserve(kIdChars);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char byte : raw) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

absl::StatusOr<std::string> DecodeId(absl::string_view text) {
  if (text.size() != kIdChars) {
    return absl::InvalidArgumentError(
        "malformed session id: expected 43 base64url characters");
  }
  std::string raw;
  raw.reserve(kIdBytes);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = CharValue(text[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(
          "malformed session id: not base64url");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // 43 chars carry 258 bits: the 2 left over must be zero (canonical form).
  if ((acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError(
        "malformed session id: non-canonical final character");
  }
  return raw;
}

std::string IdTagForLog(absl::string_view raw) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 4));
}

}  // namespace sesh
