#include "auth/token_table.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sesh {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";
constexpr absl::string_view kAdminScope = "admin";
constexpr absl::string_view kFieldSeparators = " \t\r";

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(absl::string_view data) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly 64 hex digits (either case) into *out.
bool DecodeHexDigest(absl::string_view hex, Digest* out) {
  if (hex.size() != 2 * out->size()) return false;
  for (size_t i = 0; i < out->size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

absl::Status LineError(size_t line_number, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("token file line ", line_number, ": ", what));
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  Digest digest = Sha256(data);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  if (text.size() > kMaxTokenFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file is larger than ", kMaxTokenFileBytes,
                     " bytes"));
  }
  // A final newline ends the last line; it does not start another.
  size_t lines = std::count(text.begin(), text.end(), '\n') +
                 (text.empty() || text.back() == '\n' ? 0 : 1);
  if (lines > kMaxTokenFileLines) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file has more than ", kMaxTokenFileLines, " lines"));
  }

  TokenTable table;
  absl::flat_hash_map<std::string, size_t> line_of_hash;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(kFieldSeparators),
                       absl::SkipEmpty());
    if (fields.empty() || absl::StartsWith(fields[0], "#")) continue;
    if (fields.size() < 2 || fields.size() > 3) {
      return LineError(line_number,
                       "expected '<namespace> <sha256-hex> [admin]'");
    }
    Grant grant;
    if (!DecodeHexDigest(fields[1], &grant.hash)) {
      return LineError(line_number,
                       "second field is not 64 hex digits (SHA-256 of the "
                       "token)");
    }
    if (fields.size() == 3 && fields[2] != kAdminScope) {
      return LineError(line_number, "unknown scope (the only one is 'admin')");
    }
    grant.ns = std::string(fields[0]);
    grant.admin = fields.size() == 3;
    std::string key(grant.hash.begin(), grant.hash.end());
    auto [it, inserted] = line_of_hash.emplace(std::move(key), line_number);
    if (!inserted) {
      return LineError(line_number, absl::StrCat("same token hash as line ",
                                                 it->second));
    }
    table.grants_.push_back(std::move(grant));
  }
  return table;
}

absl::StatusOr<const TokenTable::Grant*> TokenTable::Find(
    absl::string_view authorization_header) const {
  if (!absl::StartsWith(authorization_header, kBearerPrefix) ||
      authorization_header.size() == kBearerPrefix.size()) {
    return absl::UnauthenticatedError(
        "missing or malformed authorization: expected 'Bearer <token>'");
  }
  const Digest presented =
      Sha256(authorization_header.substr(kBearerPrefix.size()));
  // Every grant is compared, and the match is selected without a branch, so
  // the time taken does not depend on which grant (if any) matches. Parse
  // rejects duplicate hashes, so at most one grant matches.
  size_t match = 0;
  size_t found = 0;
  for (size_t i = 0; i < grants_.size(); ++i) {
    size_t equal = static_cast<size_t>(
        CRYPTO_memcmp(presented.data(), grants_[i].hash.data(),
                      presented.size()) == 0);
    size_t mask = 0 - equal;
    match = (match & ~mask) | (i & mask);
    found |= equal;
  }
  if (!found) return absl::UnauthenticatedError("unknown token");
  return &grants_[match];
}

absl::Status TokenTable::Authorize(absl::string_view authorization_header,
                                   absl::string_view ns) const {
  absl::StatusOr<const Grant*> grant = Find(authorization_header);
  if (!grant.ok()) return grant.status();
  if ((*grant)->ns != ns && (*grant)->ns != kAnyNamespace) {
    return absl::PermissionDeniedError("token does not grant this namespace");
  }
  return absl::OkStatus();
}

absl::Status TokenTable::AuthorizeAny(
    absl::string_view authorization_header) const {
  return Find(authorization_header).status();
}

absl::Status TokenTable::AuthorizeAdmin(
    absl::string_view authorization_header) const {
  absl::StatusOr<const Grant*> grant = Find(authorization_header);
  if (!grant.ok()) return grant.status();
  if (!(*grant)->admin) {
    return absl::PermissionDeniedError("token lacks the admin scope");
  }
  return absl::OkStatus();
}

}  // namespace sesh
