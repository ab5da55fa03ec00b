#ifndef SESH_UTIL_LOG_H_
#define SESH_UTIL_LOG_H_

// One line per event on stderr: time (UTC, microseconds), level, component,
// node id and message; or the same fields as one JSON object per line.
// Messages never carry a full session ID or token: name a session by its
// handle (auth/session_handle.h) or by RedactedId below.
//
// Thread-safe: lines from concurrent callers never interleave.

#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sesh {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogOptions {
  bool json = false;
  LogLevel min_level = LogLevel::kInfo;
  std::string node_id;    // in every line; empty leaves the field out
  FILE* sink = stderr;    // not owned
};

// Replaces the process-wide options. Call it early in main; until then lines
// go to stderr as text at kInfo and above.
void ConfigureLogging(const LogOptions& options);

// "debug", "info", "warning" or "error" (any case) into *level.
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Writes one line if `level` is at or above the configured minimum.
void Log(LogLevel level, absl::string_view component,
         absl::string_view message);

// The formatted line (no trailing newline), for tests and for Log.
std::string FormatLogLine(const LogOptions& options, absl::Time time,
                          LogLevel level, absl::string_view component,
                          absl::string_view message);

// The first 6 characters of a session ID's text form and its length, e.g.
// "AbC12x...(43)": enough to correlate lines, far too little to use.
std::string RedactedId(absl::string_view id);

template <typename... Args>
void LogInfo(absl::string_view component,
             const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogLevel::kInfo, component, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogWarning(absl::string_view component,
                const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogLevel::kWarning, component, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogError(absl::string_view component,
              const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogLevel::kError, component, absl::StrFormat(format, args...));
}

}  // namespace sesh

#endif  // SESH_UTIL_LOG_H_
