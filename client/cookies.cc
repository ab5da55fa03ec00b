#include "client/sesh/cookies.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

constexpr absl::string_view kSecurePrefix = "__Secure-";
constexpr absl::string_view kHostPrefix = "__Host-";

// RFC 7230 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 6265 cookie-octet: visible ASCII except '"', ',', ';' and '\\'.
bool IsCookieOctet(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' &&
         c != '\\';
}

bool IsToken(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
           return IsTokenChar(static_cast<unsigned char>(c));
         });
}

bool AllCookieOctets(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsCookieOctet(static_cast<unsigned char>(c));
  });
}

// An attribute value (Domain, Path): visible ASCII or space, no ';'.
bool IsAttributeValue(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u <= 0x7e && u != ';';
  });
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

absl::string_view SameSiteText(SameSite same_site) {
  switch (same_site) {
    case SameSite::kStrict:
      return "Strict";
    case SameSite::kNone:
      return "None";
    case SameSite::kLax:
      break;
  }
  return "Lax";
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("cookie: ", what));
}

}  // namespace

absl::StatusOr<std::string> BuildSetCookie(absl::string_view name,
                                           absl::string_view value,
                                           const CookieOptions& options) {
  if (name.empty() || name.size() > kMaxCookieNameBytes) {
    return Invalid("the name is empty or too long");
  }
  if (!IsToken(name)) return Invalid("the name is not an RFC 7230 token");
  if (value.size() > kMaxCookieValueBytes) return Invalid("value too long");
  if (!AllCookieOctets(value)) {
    return Invalid("the value holds a character outside cookie-octet");
  }
  const bool host = absl::StartsWith(name, kHostPrefix);
  if ((host || absl::StartsWith(name, kSecurePrefix)) && !options.secure) {
    return Invalid("a __Host- or __Secure- cookie needs Secure");
  }
  if (host && !options.domain.empty()) {
    return Invalid("a __Host- cookie must not have a Domain");
  }
  if (host && options.path != "/") {
    return Invalid("a __Host- cookie needs Path=/");
  }
  if (options.same_site == SameSite::kNone && !options.secure) {
    return Invalid("SameSite=None needs Secure");
  }
  if (!IsAttributeValue(options.domain) || !IsAttributeValue(options.path)) {
    return Invalid("Domain or Path holds ';', a control or non-ASCII byte");
  }
  if (!options.path.empty() && options.path.front() != '/') {
    return Invalid("Path must start with '/'");
  }

  std::string out = absl::StrCat(name, "=", value);
  if (!options.domain.empty()) absl::StrAppend(&out, "; Domain=", options.domain);
  if (!options.path.empty()) absl::StrAppend(&out, "; Path=", options.path);
  if (options.max_age_seconds >= 0) {
    absl::StrAppend(&out, "; Max-Age=", options.max_age_seconds);
  }
  if (options.secure) absl::StrAppend(&out, "; Secure");
  if (options.http_only) absl::StrAppend(&out, "; HttpOnly");
  absl::StrAppend(&out, "; SameSite=", SameSiteText(options.same_site));
  return out;
}

absl::StatusOr<std::string> SessionSetCookie(absl::string_view name,
                                             const SessionData& session,
                                             bool remember,
                                             const CookieOptions& options,
                                             absl::Time now) {
  CookieOptions effective = options;
  effective.max_age_seconds = -1;
  if (remember) {
    const int64_t left_ms = session.absolute_deadline_ms - absl::ToUnixMillis(now);
    const int64_t left_s = left_ms / 1000;
    if (left_s < 1) {
      return absl::FailedPreconditionError(
          "cookie: the session's absolute deadline is less than 1 s away");
    }
    effective.max_age_seconds =
        options.max_age_seconds >= 0 ? std::min(options.max_age_seconds, left_s)
                                     : left_s;
  }
  return BuildSetCookie(name, session.id, effective);
}

absl::StatusOr<std::string> ClearCookie(absl::string_view name,
                                        const CookieOptions& options) {
  CookieOptions effective = options;
  effective.max_age_seconds = 0;
  return BuildSetCookie(name, "", effective);
}

std::vector<std::pair<std::string, std::string>> ParseCookieHeader(
    absl::string_view header) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!header.empty() && out.size() < kMaxCookies) {
    const size_t semi = header.find(';');
    absl::string_view pair = header.substr(0, semi);
    header = semi == absl::string_view::npos ? absl::string_view()
                                             : header.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view name = Trim(pair.substr(0, eq));
    absl::string_view value = Trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!IsToken(name) || !AllCookieOctets(value)) continue;
    out.emplace_back(std::string(name), std::string(value));
  }
  return out;
}

absl::StatusOr<std::string> FindCookie(absl::string_view header,
                                       absl::string_view name) {
  for (auto& [n, v] : ParseCookieHeader(header)) {
    if (n == name) return std::move(v);
  }
  return absl::NotFoundError("cookie: not in the request");
}

absl::StatusOr<SessionData> SessionFromCookieHeader(Client& client,
                                                    absl::string_view ns,
                                                    absl::string_view header,
                                                    absl::string_view
                                                        cookie_name,
                                                    bool touch) {
  if (ns.empty()) return absl::InvalidArgumentError("cookie: empty namespace");
  absl::StatusOr<std::string> id = FindCookie(header, cookie_name);
  if (!id.ok()) return absl::NotFoundError("session not found");
  if (!DecodeId(*id).ok()) return absl::NotFoundError("session not found");
  return client.Get(ns, *id, touch);
}

}  // namespace sesh
