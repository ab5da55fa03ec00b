// The example web app's request handling, without the HTTP server: a request
// in, a response out. Sessions live in Sesh (sesh::Client); the browser holds
// only the session id, in a `__Host-` cookie, plus a signed preferences
// cookie. Thread-safe: main.cc calls Handle from the server's threads.

#ifndef SESH_EXAMPLES_WEBAPP_APP_H_
#define SESH_EXAMPLES_WEBAPP_APP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/sesh/client.h"
#include "client/sesh/cookies.h"
#include "client/sesh/signed_value.h"

namespace sesh {
namespace webapp {

inline constexpr char kSessionCookie[] = "__Host-sesh";
inline constexpr char kPrefsCookie[] = "__Host-prefs";

struct AppOptions {
  std::string ns = "demo";
  // Sliding expiry of a signed-in session, and its absolute lifetime.
  int64_t idle_timeout_ms = 30 * 60 * 1000;
  int64_t absolute_ttl_ms = 8 * 3600 * 1000;
  // A pre-login session (it only holds the login form's CSRF token) idles
  // out after min(this, idle_timeout_ms).
  int64_t anonymous_idle_timeout_ms = 10 * 60 * 1000;
  // "Remember me": a persistent cookie for this long, never past the
  // session's absolute deadline.
  int64_t remember_seconds = 30 * 86400;
  // The preferences cookie and the expiry signed into it.
  int64_t prefs_seconds = 365 * 86400;
};

struct Request {
  std::string method;  // "GET", "POST"
  std::string path;
  std::string cookie_header;
  std::string user_agent;
  // Form fields of a POST and query parameters.
  std::map<std::string, std::string> params;
};

struct Response {
  int status = 200;
  std::vector<std::string> set_cookies;  // Set-Cookie header values
  std::string location;                  // for 303 redirects
  std::string body;                      // text/html
};

class App {
 public:
  // `client` must outlive the App.
  App(Client* client, SignedValues prefs, AppOptions options);

  Response Handle(const Request& request) const;

 private:
  struct State;

  Response Home(const Request& req, State& st) const;
  Response Login(const Request& req, State& st) const;
  Response Prefs(const Request& req, State& st) const;
  Response Logout(const Request& req, State& st) const;
  Response Devices(const Request& req, State& st) const;
  Response DeviceLogout(const Request& req, State& st) const;
  Response LogoutOthers(const Request& req, State& st) const;

  Response LoginForm(State& st, int status, const std::string& error) const;
  Response Unavailable(State& st) const;
  Response Forbidden(State& st) const;
  Response Redirect(State& st, const std::string& to) const;
  Response Finish(State& st, Response r) const;
  bool CsrfOk(const Request& req, const State& st) const;

  Client* const client_;
  const SignedValues prefs_;
  const AppOptions options_;
  CookieOptions cookie_;  // the safe defaults
};

}  // namespace webapp
}  // namespace sesh

#endif  // SESH_EXAMPLES_WEBAPP_APP_H_
