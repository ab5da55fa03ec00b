// Signed values (client/sesh/signed_value.h): Verify never crashes and
// accepts only what a key signed (such an input is exactly what Sign gives
// for its value and expiry); Sign then Verify round-trips any value; a
// changed character, another purpose or a passed expiry is refused.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "client/sesh/signed_value.h"
#include "fuzz/check.h"

namespace {

// The seeds in fuzz/corpus/signed_value/ are signed with these keys
// (make_corpus.py has them too): the first signs, both verify.
const sesh::SignedValues& Values() {
  static const sesh::SignedValues* v = new sesh::SignedValues(
      *sesh::SignedValues::Create({std::string(32, 'k'), std::string(40, 'o')}));
  return *v;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// The expiry inside an accepted text's payload, decoded independently.
std::optional<absl::Time> ExpiryOf(const std::string& text) {
  const size_t dot = text.find('.', 3);
  std::string payload;
  absl::WebSafeBase64Unescape(text.substr(3, dot - 3), &payload);
  uint64_t ms = 0;
  for (size_t i = 0; i < 8 && i < payload.size(); ++i) {
    ms = (ms << 8) | static_cast<unsigned char>(payload[i]);
  }
  if (ms == 0) return std::nullopt;
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const sesh::SignedValues& values = Values();

  absl::StatusOr<std::string> got = values.Verify("prefs", input, kNow);
  const absl::StatusCode code = got.status().code();
  SESH_FUZZ_CHECK(code == absl::StatusCode::kOk ||
                  code == absl::StatusCode::kInvalidArgument ||
                  code == absl::StatusCode::kUnauthenticated ||
                  code == absl::StatusCode::kNotFound);
  if (got.ok()) {
    // Only the first key's own output verifies here (the second key never
    // signed a seed): the text is Sign's, byte for byte.
    absl::StatusOr<std::string> again =
        values.Sign("prefs", *got, ExpiryOf(input));
    SESH_FUZZ_CHECK(again.ok() && *again == input);
    SESH_FUZZ_CHECK(values.Verify("lang", input, kNow).status().code() ==
                    absl::StatusCode::kUnauthenticated);
  }

  // The input as a value: round trip, then one changed character.
  const std::optional<absl::Time> expires =
      size % 2 ? std::optional<absl::Time>(kNow + absl::Seconds(size + 1))
               : std::nullopt;
  absl::StatusOr<std::string> signed_text = values.Sign("prefs", input, expires);
  if (!signed_text.ok()) {
    SESH_FUZZ_CHECK(size > 2000);
    return 0;
  }
  absl::StatusOr<std::string> back = values.Verify("prefs", *signed_text, kNow);
  SESH_FUZZ_CHECK(back.ok() && *back == input);
  if (expires.has_value()) {
    SESH_FUZZ_CHECK(values.Verify("prefs", *signed_text, *expires)
                        .status()
                        .code() == absl::StatusCode::kNotFound);
  }
  std::string changed = *signed_text;
  const size_t at = size == 0 ? 0 : data[0] % changed.size();
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  SESH_FUZZ_CHECK(!values.Verify("prefs", changed, kNow).ok());
  return 0;
}
