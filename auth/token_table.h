#ifndef SESH_AUTH_TOKEN_TABLE_H_
#define SESH_AUTH_TOKEN_TABLE_H_

// Bearer tokens that grant namespaces. The node keeps only SHA-256 hashes of
// the tokens; a presented token is hashed and compared against every entry in
// constant time, so neither the file nor a timing difference gives one away.
//
// Token file, one grant per line, fields separated by spaces or tabs:
//
//   <namespace> <sha256-hex-of-token> [admin]
//
// `*` as namespace grants every namespace; `admin` is the only scope. Blank
// lines and lines whose first non-blank character is `#` are ignored.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sesh {

// Bounds on a token file, checked before any line is parsed.
inline constexpr size_t kMaxTokenFileBytes = 1 << 20;
inline constexpr size_t kMaxTokenFileLines = 10000;

// The namespace that a grant for every namespace names.
inline constexpr absl::string_view kAnyNamespace = "*";

// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

// An immutable set of grants. Thread-safe: all methods are const.
class TokenTable {
 public:
  // Parses a token file. INVALID_ARGUMENT, naming the 1-based line number, for
  // a malformed line (not 2 or 3 fields, a hash that is not 64 hex digits, a
  // scope other than `admin`) or a hash already on an earlier line;
  // INVALID_ARGUMENT if `text` exceeds the bounds above. Messages never hold
  // a hash. An empty file gives a table that authorizes nothing.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);

  // `authorization_header` is the raw value of the gRPC metadata
  // `authorization`, expected to be `Bearer <token>` ("" when absent).
  // UNAUTHENTICATED if it is missing, not `Bearer <token>`, or the token is
  // unknown; PERMISSION_DENIED if the token grants neither `ns` nor `*`.
  // No message ever holds the token or its hash.
  absl::Status Authorize(absl::string_view authorization_header,
                         absl::string_view ns) const;

  // OK for any known token, whatever it grants (Cluster.Topology);
  // UNAUTHENTICATED as above.
  absl::Status AuthorizeAny(absl::string_view authorization_header) const;

  // OK for a token with scope `admin`; PERMISSION_DENIED for another known
  // token; UNAUTHENTICATED as above.
  absl::Status AuthorizeAdmin(absl::string_view authorization_header) const;

  // Number of grants.
  size_t size() const { return grants_.size(); }

 private:
  struct Grant {
    std::array<unsigned char, 32> hash;
    std::string ns;
    bool admin;
  };

  TokenTable() = default;

  // The grant whose hash matches the token in `authorization_header`, or
  // UNAUTHENTICATED. Compares against every grant, without early exit.
  absl::StatusOr<const Grant*> Find(
      absl::string_view authorization_header) const;

  std::vector<Grant> grants_;
};

}  // namespace sesh

#endif  // SESH_AUTH_TOKEN_TABLE_H_
