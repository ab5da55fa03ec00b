#include "examples/webapp/pages.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sesh {
namespace webapp {
namespace {

constexpr char kStyle[] = R"css(
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; }
body.light { background: #f6f7f9; color: #1c2330; }
body.dark { background: #161b22; color: #e6edf3; }
main { max-width: 44rem; margin: 3rem auto; padding: 2rem;
       border-radius: 12px; box-shadow: 0 2px 12px rgba(0,0,0,.12); }
.light main { background: #fff; } .dark main { background: #21262d; }
h1 { margin-top: 0; font-size: 1.6rem; }
label { display: block; margin: .6rem 0 .2rem; }
input[type=text], input[type=password] { width: 16rem; padding: .35rem; }
button { padding: .4rem .9rem; margin: .3rem .3rem .3rem 0; cursor: pointer; }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
td, th { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #8884; }
.muted { opacity: .7; font-size: .9rem; } .error { color: #c62828; }
nav { margin-top: 1.5rem; border-top: 1px solid #8884; padding-top: 1rem; }
)css";

std::string Theme(const PageContext& ctx) {
  return ctx.theme == "dark" ? "dark" : "light";
}

std::string Page(const PageContext& ctx, absl::string_view title,
                 absl::string_view body) {
  return absl::StrCat(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>",
      HtmlEscape(title), " - Sesh example</title><style>", kStyle,
      "</style></head>\n<body class=\"", Theme(ctx), "\"><main>\n", body,
      "\n</main></body></html>\n");
}

std::string CsrfField(const PageContext& ctx) {
  return absl::StrCat("<input type=\"hidden\" name=\"csrf\" value=\"",
                      HtmlEscape(ctx.csrf), "\">");
}

// "14:03:07 UTC (in 29 min 58 s)".
std::string When(int64_t ms, absl::Time now) {
  const absl::Time t = absl::FromUnixMillis(ms);
  const int64_t left_s = absl::ToInt64Seconds(t - now);
  std::string rel;
  if (left_s < 0) {
    rel = "passed";
  } else if (left_s < 3600) {
    rel = absl::StrCat("in ", left_s / 60, " min ", left_s % 60, " s");
  } else {
    rel = absl::StrCat("in ", left_s / 3600, " h ", (left_s % 3600) / 60,
                       " min");
  }
  return absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t,
                                       absl::UTCTimeZone()),
                      " (", rel, ")");
}

std::string Clock(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string LoginPage(const PageContext& ctx, absl::string_view error) {
  std::string body = absl::StrCat(
      "<h1>Sign in</h1>\n<p id=\"status\">You are signed out.</p>\n",
      error.empty() ? ""
                    : absl::StrCat("<p class=\"error\" id=\"error\">",
                                   HtmlEscape(error), "</p>\n"),
      "<form id=\"login\" method=\"post\" action=\"/login\">", CsrfField(ctx),
      "<label for=\"username\">User name</label>"
      "<input type=\"text\" id=\"username\" name=\"username\" "
      "autocomplete=\"username\" required>"
      "<label for=\"password\">Password</label>"
      "<input type=\"password\" id=\"password\" name=\"password\" "
      "autocomplete=\"current-password\" required>"
      "<label><input type=\"checkbox\" id=\"remember\" name=\"remember\" "
      "value=\"1\"> Remember me on this device</label>"
      "<button type=\"submit\">Sign in</button></form>\n"
      "<p class=\"muted\">Demo users: alice, bob (passwords in "
      "examples/webapp/README.md).</p>");
  return Page(ctx, "Sign in", body);
}

std::string HomePage(const PageContext& ctx, const HomeInfo& info) {
  const std::string other = Theme(ctx) == "dark" ? "light" : "dark";
  std::string body = absl::StrCat(
      "<h1>Hello, ", HtmlEscape(info.display_name), "</h1>\n",
      "<p id=\"who\">Signed in as <b id=\"name\">",
      HtmlEscape(info.display_name), "</b> (<code>", HtmlEscape(info.user_id),
      "</code>).</p>\n<p id=\"expires\">Session expires at ",
      When(info.expires_at_ms, ctx.now), " unless used again: every page "
      "view slides it by ", info.idle_timeout_ms / 1000, " s.</p>\n",
      "<p class=\"muted\" id=\"deadline\">Absolute deadline, never extended: ",
      When(info.absolute_deadline_ms, ctx.now), ".</p>\n",
      "<form class=\"inline\" id=\"prefs\" method=\"post\" action=\"/prefs\">",
      CsrfField(ctx), "<input type=\"hidden\" name=\"theme\" value=\"", other,
      "\"><button type=\"submit\">Switch to ", other,
      " theme</button></form>\n"
      "<form class=\"inline\" id=\"logout\" method=\"post\" "
      "action=\"/logout\">",
      CsrfField(ctx), "<button type=\"submit\">Sign out</button></form>\n",
      "<nav><a id=\"devices-link\" href=\"/devices\">Your devices</a> "
      "<span class=\"muted\">(theme <span id=\"theme\">", Theme(ctx),
      "</span>, kept in a signed cookie only)</span></nav>");
  return Page(ctx, "Home", body);
}

std::string DevicesPage(const PageContext& ctx, absl::string_view display_name,
                        const std::vector<Device>& devices, bool more,
                        int ended) {
  std::string rows;
  for (const Device& d : devices) {
    absl::StrAppend(
        &rows, "<tr class=\"device\" data-handle=\"", HtmlEscape(d.handle),
        "\"><td>", HtmlEscape(d.device.empty() ? "unknown" : d.device),
        d.current ? " <b class=\"current\">(this device)</b>" : "",
        "</td><td>", Clock(d.created_at_ms), "</td><td>",
        Clock(d.last_access_ms), "</td><td>");
    if (!d.current) {
      absl::StrAppend(&rows,
                      "<form class=\"inline\" method=\"post\" "
                      "action=\"/devices/logout\">",
                      CsrfField(ctx), "<input type=\"hidden\" name=\"handle\" "
                      "value=\"", HtmlEscape(d.handle),
                      "\"><button type=\"submit\">Log out</button></form>");
    }
    absl::StrAppend(&rows, "</td></tr>\n");
  }
  std::string body = absl::StrCat(
      "<h1>Your devices</h1>\n<p>", HtmlEscape(display_name),
      ", these browsers are signed in to your account (",
      devices.size(), more ? "+" : "", "):</p>\n",
      ended >= 0 ? absl::StrCat("<p id=\"ended\">Logged out ", ended,
                                " other device(s).</p>\n")
                 : "",
      "<table><tr><th>Device</th><th>Signed in (UTC)</th>"
      "<th>Last active (UTC)</th><th></th></tr>\n",
      rows, "</table>\n<form id=\"logout-others\" method=\"post\" "
      "action=\"/devices/logout-others\">",
      CsrfField(ctx),
      "<button type=\"submit\">Log out all other devices</button></form>\n"
      "<nav><a href=\"/\">Home</a></nav>");
  return Page(ctx, "Your devices", body);
}

std::string MessagePage(const PageContext& ctx, absl::string_view title,
                        absl::string_view message) {
  return Page(ctx, title,
              absl::StrCat("<h1>", HtmlEscape(title), "</h1>\n<p id=\"message\">",
                           HtmlEscape(message),
                           "</p>\n<nav><a href=\"/\">Home</a></nav>"));
}

}  // namespace webapp
}  // namespace sesh
