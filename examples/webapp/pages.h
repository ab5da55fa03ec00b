// The example app's HTML. Every piece of text from a request or from Sesh
// goes through HtmlEscape; forms carry the session's CSRF token.

#ifndef SESH_EXAMPLES_WEBAPP_PAGES_H_
#define SESH_EXAMPLES_WEBAPP_PAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sesh {
namespace webapp {

// Escapes &, <, >, " and ' for text and attribute values.
std::string HtmlEscape(absl::string_view text);

// "light" or "dark"; anything else is shown as light.
struct PageContext {
  std::string theme = "light";
  std::string csrf;  // empty: no forms that need one
  absl::Time now;
};

std::string LoginPage(const PageContext& ctx, absl::string_view error);

struct HomeInfo {
  std::string user_id;
  std::string display_name;
  int64_t expires_at_ms = 0;
  int64_t absolute_deadline_ms = 0;
  int64_t idle_timeout_ms = 0;
};
std::string HomePage(const PageContext& ctx, const HomeInfo& info);

struct Device {
  std::string handle;
  std::string device;  // the browser's User-Agent at login
  int64_t created_at_ms = 0;
  int64_t last_access_ms = 0;
  bool current = false;
};
// `ended`: devices just logged out by "log out all other devices" (-1: none).
std::string DevicesPage(const PageContext& ctx, absl::string_view display_name,
                        const std::vector<Device>& devices, bool more,
                        int ended);

// A page for 403 (a stale form) and 503 (Sesh unreachable).
std::string MessagePage(const PageContext& ctx, absl::string_view title,
                        absl::string_view message);

}  // namespace webapp
}  // namespace sesh

#endif  // SESH_EXAMPLES_WEBAPP_PAGES_H_
