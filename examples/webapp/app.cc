#include "examples/webapp/app.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "examples/webapp/pages.h"
#include "examples/webapp/users.h"
#include "replication/session_id.h"

namespace sesh {
namespace webapp {
namespace {

constexpr size_t kMaxDeviceChars = 200;
constexpr size_t kMaxParamBytes = 1024;

// 32 CSPRNG bytes as 43 base64url characters.
std::string NewToken() { return EncodeId(NewRawId()); }

std::string Param(const Request& req, const std::string& name) {
  auto it = req.params.find(name);
  if (it == req.params.end() || it->second.size() > kMaxParamBytes) return "";
  return it->second;
}

// The User-Agent as a device label: printable ASCII, bounded.
std::string DeviceLabel(const std::string& user_agent) {
  std::string out = user_agent.substr(0, kMaxDeviceChars);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

std::string AttributeOr(const SessionData& s, const std::string& name) {
  auto it = s.attributes.find(name);
  return it == s.attributes.end() ? "" : it->second;
}

bool SignedIn(const absl::StatusOr<SessionData>& s) {
  return s.ok() && !s->user_id.empty();
}

}  // namespace

// What every request starts from: the session its cookie names, the theme
// from its signed cookie, and cookies to send back whatever the route.
struct App::State {
  absl::Time now;
  absl::StatusOr<SessionData> session = absl::NotFoundError("");
  std::string theme = "light";
  std::vector<std::string> set_cookies;
};

App::App(Client* client, SignedValues prefs, AppOptions options)
    : client_(client), prefs_(std::move(prefs)), options_(std::move(options)) {}

Response App::Handle(const Request& req) const {
  State st;
  st.now = absl::Now();
  absl::StatusOr<std::string> prefs = FindCookie(req.cookie_header, kPrefsCookie);
  if (prefs.ok()) {
    absl::StatusOr<std::string> theme =
        prefs_.Verify(kPrefsCookie, *prefs, st.now);
    if (theme.ok() && (*theme == "light" || *theme == "dark")) {
      st.theme = *theme;
    } else {
      // Tampered, expired or signed by a retired key: back to the default,
      // without an error page.
      st.set_cookies.push_back(*ClearCookie(kPrefsCookie, cookie_));
    }
  }
  st.session = SessionFromCookieHeader(*client_, options_.ns,
                                       req.cookie_header, kSessionCookie);
  if (!st.session.ok() && st.session.status().code() != absl::StatusCode::kNotFound) {
    return Unavailable(st);
  }

  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (get && req.path == "/") return Home(req, st);
  if (get && req.path == "/devices") return Devices(req, st);
  if (post && req.path == "/login") return Login(req, st);
  if (post && req.path == "/prefs") return Prefs(req, st);
  if (post && req.path == "/logout") return Logout(req, st);
  if (post && req.path == "/devices/logout") return DeviceLogout(req, st);
  if (post && req.path == "/devices/logout-others") return LogoutOthers(req, st);
  Response r;
  r.status = 404;
  r.body = MessagePage({st.theme, "", st.now}, "Not found",
                       "There is no such page.");
  return Finish(st, std::move(r));
}

Response App::Home(const Request& req, State& st) const {
  if (!SignedIn(st.session)) return LoginForm(st, 200, "");
  const SessionData& s = *st.session;
  Response r;
  r.body = HomePage({st.theme, AttributeOr(s, "csrf"), st.now},
                    {s.user_id, AttributeOr(s, "name"), s.expires_at_ms,
                     s.absolute_deadline_ms, s.idle_timeout_ms});
  return Finish(st, std::move(r));
}

Response App::LoginForm(State& st, int status, const std::string& error) const {
  std::string csrf;
  if (st.session.ok()) csrf = AttributeOr(*st.session, "csrf");
  if (csrf.empty()) {
    // A pre-login session, only for the form's CSRF token. Signing in
    // replaces it by a new one (a new id), so an id planted before login
    // is worth nothing after it.
    CreateOptions create;
    csrf = NewToken();
    create.attributes["csrf"] = csrf;
    create.idle_timeout_ms =
        std::min(options_.anonymous_idle_timeout_ms, options_.idle_timeout_ms);
    create.absolute_ttl_ms = options_.absolute_ttl_ms;
    absl::StatusOr<SessionData> created = client_->Create(options_.ns, create);
    if (!created.ok()) return Unavailable(st);
    st.set_cookies.push_back(*SessionSetCookie(kSessionCookie, *created,
                                               false, cookie_, st.now));
  }
  Response r;
  r.status = status;
  r.body = LoginPage({st.theme, csrf, st.now}, error);
  return Finish(st, std::move(r));
}

bool App::CsrfOk(const Request& req, const State& st) const {
  if (!st.session.ok()) return false;
  const std::string expected = AttributeOr(*st.session, "csrf");
  const std::string got = Param(req, "csrf");
  return !expected.empty() && got.size() == expected.size() &&
         CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0;
}

Response App::Login(const Request& req, State& st) const {
  if (!CsrfOk(req, st)) {
    st.session = absl::NotFoundError("");
    return LoginForm(st, 403, "The sign-in form expired. Please try again.");
  }
  absl::StatusOr<User> user =
      CheckPassword(Param(req, "username"), Param(req, "password"));
  if (!user.ok()) return LoginForm(st, 401, "Wrong user name or password.");

  // user_id is fixed when a session is created, so signing in creates the
  // signed-in session and destroys the pre-login one: the id changes, as a
  // Rotate would change it.
  CreateOptions create;
  create.user_id = user->id;
  create.attributes = {{"csrf", NewToken()},
                       {"name", user->display_name},
                       {"device", DeviceLabel(req.user_agent)}};
  create.idle_timeout_ms = options_.idle_timeout_ms;
  create.absolute_ttl_ms = options_.absolute_ttl_ms;
  absl::StatusOr<SessionData> created = client_->Create(options_.ns, create);
  if (!created.ok()) return Unavailable(st);
  // Best effort: a pre-login session left behind idles out on its own.
  (void)client_->Destroy(options_.ns, st.session->id);

  CookieOptions persistent = cookie_;
  persistent.max_age_seconds = options_.remember_seconds;
  absl::StatusOr<std::string> cookie =
      SessionSetCookie(kSessionCookie, *created, Param(req, "remember") == "1",
                       persistent, st.now);
  if (!cookie.ok()) {
    cookie = SessionSetCookie(kSessionCookie, *created, false, cookie_, st.now);
  }
  st.set_cookies.push_back(*cookie);
  return Redirect(st, "/");
}

Response App::Prefs(const Request& req, State& st) const {
  if (!CsrfOk(req, st)) return Forbidden(st);
  const std::string theme = Param(req, "theme") == "dark" ? "dark" : "light";
  const absl::Time expires = st.now + absl::Seconds(options_.prefs_seconds);
  CookieOptions o = cookie_;
  o.max_age_seconds = options_.prefs_seconds;
  st.set_cookies.clear();
  st.set_cookies.push_back(*BuildSetCookie(
      kPrefsCookie, *prefs_.Sign(kPrefsCookie, theme, expires), o));
  return Redirect(st, "/");
}

Response App::Logout(const Request& req, State& st) const {
  if (st.session.ok()) {
    if (!CsrfOk(req, st)) return Forbidden(st);
    if (!client_->Destroy(options_.ns, st.session->id).ok()) {
      return Unavailable(st);
    }
  }
  st.set_cookies.push_back(*ClearCookie(kSessionCookie, cookie_));
  return Redirect(st, "/");
}

Response App::Devices(const Request& req, State& st) const {
  if (!SignedIn(st.session)) return Redirect(st, "/");
  const SessionData& s = *st.session;
  ListOptions list;
  list.attributes = {"device"};
  list.page_size = 100;
  absl::StatusOr<SessionPage> page =
      client_->ListByUserPage(options_.ns, s.user_id, list);
  if (!page.ok()) return Unavailable(st);
  std::vector<Device> devices;
  for (const SessionData& d : page->sessions) {
    devices.push_back({d.handle, AttributeOr(d, "device"), d.created_at_ms,
                       d.last_access_ms, d.handle == s.handle});
  }
  int ended = -1;
  if (!absl::SimpleAtoi(Param(req, "ended"), &ended)) ended = -1;
  Response r;
  r.body = DevicesPage({st.theme, AttributeOr(s, "csrf"), st.now},
                       AttributeOr(s, "name"), devices,
                       !page->next_page_token.empty(), ended);
  return Finish(st, std::move(r));
}

Response App::DeviceLogout(const Request& req, State& st) const {
  if (!SignedIn(st.session)) return Redirect(st, "/");
  if (!CsrfOk(req, st)) return Forbidden(st);
  const std::string handle = Param(req, "handle");
  if (!handle.empty() && handle != st.session->handle &&
      !client_->DestroyByHandle(options_.ns, st.session->user_id, handle).ok()) {
    return Unavailable(st);
  }
  return Redirect(st, "/devices");
}

Response App::LogoutOthers(const Request& req, State& st) const {
  if (!SignedIn(st.session)) return Redirect(st, "/");
  if (!CsrfOk(req, st)) return Forbidden(st);
  absl::StatusOr<int> n = client_->DestroyOtherDevices(
      options_.ns, st.session->user_id, st.session->handle);
  if (!n.ok()) return Unavailable(st);
  return Redirect(st, "/devices?ended=" + std::to_string(*n));
}

Response App::Unavailable(State& st) const {
  Response r;
  r.status = 503;
  r.body = MessagePage({st.theme, "", st.now}, "Try again",
                       "The session store did not answer in time. Your "
                       "session is kept; please reload in a moment.");
  return Finish(st, std::move(r));
}

Response App::Forbidden(State& st) const {
  Response r;
  r.status = 403;
  r.body = MessagePage({st.theme, "", st.now}, "Form expired",
                       "This form is out of date. Go back, reload the page "
                       "and try again.");
  return Finish(st, std::move(r));
}

Response App::Redirect(State& st, const std::string& to) const {
  Response r;
  r.status = 303;
  r.location = to;
  return Finish(st, std::move(r));
}

Response App::Finish(State& st, Response r) const {
  r.set_cookies.insert(r.set_cookies.begin(), st.set_cookies.begin(),
                       st.set_cookies.end());
  return r;
}

}  // namespace webapp
}  // namespace sesh
