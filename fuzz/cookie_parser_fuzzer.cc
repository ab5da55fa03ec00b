// Cookie headers (client/sesh/cookies.h): ParseCookieHeader never crashes or
// reads past its input, keeps at most kMaxCookies pairs, each a token name
// and a cookie-octet value found in the input; FindCookie agrees with it.
// Whatever BuildSetCookie accepts parses back to the same name and value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/sesh/cookies.h"
#include "fuzz/check.h"

namespace {

bool IsCookieOctet(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' &&
         c != '\\';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan catches any read past the end.
  const std::string input(reinterpret_cast<const char*>(data), size);
  const absl::string_view header(input);

  const std::vector<std::pair<std::string, std::string>> pairs =
      sesh::ParseCookieHeader(header);
  SESH_FUZZ_CHECK(pairs.size() <= sesh::kMaxCookies);
  for (const auto& [name, value] : pairs) {
    SESH_FUZZ_CHECK(!name.empty());
    SESH_FUZZ_CHECK(header.find(name) != absl::string_view::npos);
    SESH_FUZZ_CHECK(header.find(value) != absl::string_view::npos);
    for (char c : value) {
      SESH_FUZZ_CHECK(IsCookieOctet(static_cast<unsigned char>(c)));
    }
    for (char c : name) {
      SESH_FUZZ_CHECK(c != '=' && c != ';' && c != ' ' && c != '\t');
    }
  }
  if (!pairs.empty()) {
    absl::StatusOr<std::string> first =
        sesh::FindCookie(header, pairs.front().first);
    SESH_FUZZ_CHECK(first.ok() && *first == pairs.front().second);
  }

  // The input split at its first '=' as a name and a value to set.
  const size_t eq = header.find('=');
  if (eq != absl::string_view::npos) {
    const absl::string_view name = header.substr(0, eq);
    const absl::string_view value = header.substr(eq + 1);
    sesh::CookieOptions options;
    options.max_age_seconds = static_cast<int64_t>(size) - 2;
    absl::StatusOr<std::string> set =
        sesh::BuildSetCookie(name, value, options);
    if (set.ok()) {
      // The attributes follow the first "; "; what precedes is the cookie.
      const std::string cookie = set->substr(0, set->find("; "));
      const auto back = sesh::ParseCookieHeader(cookie);
      SESH_FUZZ_CHECK(back.size() == 1);
      SESH_FUZZ_CHECK(back[0].first == name && back[0].second == value);
      SESH_FUZZ_CHECK(set->find("; Secure; HttpOnly; SameSite=Lax") !=
                      std::string::npos);
    }
  }
  return 0;
}
