// HTTP cookies for a web service that keeps its sessions in Sesh: building
// `Set-Cookie` headers with safe defaults, parsing `Cookie` request headers
// (RFC 6265), and turning a request's cookie into the live session.
//
//   sesh::CookieOptions options;                 // __Host-, Secure, HttpOnly,
//   absl::StatusOr<std::string> header =         // SameSite=Lax, Path=/
//       sesh::SessionSetCookie("__Host-sesh", session, /*remember=*/false,
//                              options, absl::Now());
//   ...
//   absl::StatusOr<sesh::SessionData> live = sesh::SessionFromCookieHeader(
//       *client, "shop", request_cookie_header, "__Host-sesh");
//
// Everything here is a pure function of its arguments except
// SessionFromCookieHeader, which calls the client. Thread-safe.

#ifndef SESH_CLIENT_SESH_COOKIES_H_
#define SESH_CLIENT_SESH_COOKIES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/sesh/client.h"

namespace sesh {

enum class SameSite { kLax, kStrict, kNone };

// Attributes of a Set-Cookie header. The defaults are the safe ones: no
// Domain (host-only), Path=/, Secure, HttpOnly, SameSite=Lax, and a session
// cookie (dropped when the browser closes).
struct CookieOptions {
  // Empty: no Domain attribute. Must stay empty for a `__Host-` name.
  std::string domain;
  // Must be "/" for a `__Host-` name; otherwise starts with '/'.
  std::string path = "/";
  bool secure = true;
  bool http_only = true;
  SameSite same_site = SameSite::kLax;
  // < 0: a session cookie (no Max-Age). >= 0: Max-Age in seconds (0 deletes
  // the cookie).
  int64_t max_age_seconds = -1;
};

// Upper bounds checked by the builders, below what browsers keep.
inline constexpr size_t kMaxCookieNameBytes = 256;
inline constexpr size_t kMaxCookieValueBytes = 3072;

// The value of a `Set-Cookie` header (without "Set-Cookie: "), e.g.
// "__Host-sesh=abc; Path=/; Secure; HttpOnly; SameSite=Lax".
// Errors: INVALID_ARGUMENT for an empty or too long name, a name that is not
// an RFC 7230 token, a value with a character outside RFC 6265's
// cookie-octet (space, '"', ',', ';', '\\', controls, non-ASCII) or too long,
// a `__Secure-` or `__Host-` name without Secure, a `__Host-` name with a
// Domain or a Path other than "/", SameSite=None without Secure, a domain or
// path with ';', a control character or a non-ASCII byte, a path not
// starting with '/'.
absl::StatusOr<std::string> BuildSetCookie(absl::string_view name,
                                           absl::string_view value,
                                           const CookieOptions& options);

// The Set-Cookie header carrying `session.id`. Without `remember` a session
// cookie (options.max_age_seconds is ignored). With `remember` a persistent
// one whose Max-Age is options.max_age_seconds (when >= 0) capped so that the
// cookie never outlives the session's absolute deadline: at most
// floor((absolute_deadline_ms - now) / 1000).
// Errors: those of BuildSetCookie; FAILED_PRECONDITION when `remember` is
// set and the absolute deadline is less than a second away (or passed).
absl::StatusOr<std::string> SessionSetCookie(absl::string_view name,
                                             const SessionData& session,
                                             bool remember,
                                             const CookieOptions& options,
                                             absl::Time now);

// A header that deletes cookie `name` (empty value, Max-Age=0) with the
// attributes it was set with. Errors: those of BuildSetCookie.
absl::StatusOr<std::string> ClearCookie(absl::string_view name,
                                        const CookieOptions& options);

// Parses a `Cookie` request header into (name, value) pairs in header order,
// duplicates kept. Pairs are separated by ';'; spaces and tabs around names
// and values are dropped; a value in double quotes loses them. A pair
// without '=', with an empty name, with a name that is not a token or with a
// value holding a character outside cookie-octet is skipped; so is
// everything after the first kMaxCookies pairs. Never reads outside
// `header`; linear in its size.
inline constexpr size_t kMaxCookies = 200;
std::vector<std::pair<std::string, std::string>> ParseCookieHeader(
    absl::string_view header);

// The value of the first cookie named `name` in `header` (ParseCookieHeader's
// rules; names are case-sensitive). Errors: NOT_FOUND (no such cookie).
absl::StatusOr<std::string> FindCookie(absl::string_view header,
                                       absl::string_view name);

// The live session named by cookie `cookie_name` of the `Cookie` header
// `header`: client.Get(ns, value, touch). A missing cookie and a value that
// is not a well-formed session id are NOT_FOUND too (without an RPC), so a
// caller cannot tell them from an expired or destroyed session.
// Errors: NOT_FOUND; the client's other errors as they are (UNAVAILABLE,
// DEADLINE_EXCEEDED, UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT for
// an empty namespace).
absl::StatusOr<SessionData> SessionFromCookieHeader(Client& client,
                                                    absl::string_view ns,
                                                    absl::string_view header,
                                                    absl::string_view
                                                        cookie_name,
                                                    bool touch = true);

}  // namespace sesh

#endif  // SESH_CLIENT_SESH_COOKIES_H_
