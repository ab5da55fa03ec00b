#include "auth/session_handle.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

// The NUL ends the label, so no ID can make another label's input.
constexpr absl::string_view kLabel("sesh-handle\0", 12);

bool IsBase64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string SessionHandle(absl::string_view raw_id) {
  std::string input = absl::StrCat(kLabel, raw_id);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         digest);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), kHandleBytes));
}

bool LooksLikeHandle(absl::string_view text) {
  if (text.size() != kHandleChars) return false;
  for (char c : text) {
    if (!IsBase64Url(c)) return false;
  }
  // 22 characters carry 132 bits; the last 4 are zero, so the final
  // character is one of A, Q, g, w.
  char last = text.back();
  return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

}  // namespace sesh
