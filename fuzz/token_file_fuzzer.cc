// The token file parser (auth/token_table.h) and the check of a presented
// token: any file text parses or is refused without crashing, a refusal
// never quotes a hash from the file, and a parsed table answers any
// authorization header with one of the documented codes.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "auth/token_table.h"
#include "fuzz/check.h"

namespace {

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

// True if `text` holds a run of 64 hex digits (a hash).
bool HoldsHash(absl::string_view text) {
  int run = 0;
  for (char c : text) {
    run = IsHex(c) ? run + 1 : 0;
    if (run >= 64) return true;
  }
  return false;
}

bool Documented(const absl::Status& s) {
  return s.ok() || s.code() == absl::StatusCode::kUnauthenticated ||
         s.code() == absl::StatusCode::kPermissionDenied;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  // The last line, if any, doubles as a presented header.
  const size_t newline = input.rfind('\n');
  const absl::string_view header =
      newline == absl::string_view::npos ? input : input.substr(newline + 1);
  absl::StatusOr<sesh::TokenTable> table = sesh::TokenTable::Parse(input);
  if (!table.ok()) {
    SESH_FUZZ_CHECK(table.status().code() ==
                    absl::StatusCode::kInvalidArgument);
    SESH_FUZZ_CHECK(!HoldsHash(table.status().message()));
    return 0;
  }
  for (absl::string_view h : {header, absl::string_view("Bearer "),
                              absl::string_view("")}) {
    absl::Status any = table->AuthorizeAny(h);
    SESH_FUZZ_CHECK(Documented(any));
    SESH_FUZZ_CHECK(Documented(table->AuthorizeAdmin(h)));
    absl::Status ns = table->Authorize(h, "shop");
    SESH_FUZZ_CHECK(Documented(ns));
    // A token unknown to the table is unknown for every namespace.
    if (any.code() == absl::StatusCode::kUnauthenticated) {
      SESH_FUZZ_CHECK(ns.code() == absl::StatusCode::kUnauthenticated);
    }
    SESH_FUZZ_CHECK(!HoldsHash(ns.message()) && !HoldsHash(any.message()));
  }
  return 0;
}
