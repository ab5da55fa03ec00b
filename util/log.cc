#include "util/log.h"

#include <algorithm>
#include <cctype>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace sesh {
namespace {

absl::Mutex log_mu;
LogOptions& Options() ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu) {
  static LogOptions* options = new LogOptions;
  return *options;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// JSON string body: quotes, backslashes and control characters escaped.
void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// A text line stays one line: newlines in a message become spaces.
std::string OneLine(absl::string_view text) {
  std::string line(text);
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

}  // namespace

void ConfigureLogging(const LogOptions& options) {
  absl::MutexLock lock(&log_mu);
  Options() = options;
}

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                     LogLevel::kError}) {
    if (lower == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

std::string FormatLogLine(const LogOptions& options, absl::Time time,
                          LogLevel level, absl::string_view component,
                          absl::string_view message) {
  const std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  std::string line;
  if (options.json) {
    line = absl::StrCat("{\"ts\":\"", ts, "\",\"level\":\"", LevelName(level),
                        "\",\"component\":");
    AppendJsonString(component, &line);
    if (!options.node_id.empty()) {
      line.append(",\"node\":");
      AppendJsonString(options.node_id, &line);
    }
    line.append(",\"msg\":");
    AppendJsonString(message, &line);
    line.push_back('}');
    return line;
  }
  std::string upper = LevelName(level);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  line = absl::StrCat(ts, " ", upper, " ", component);
  if (!options.node_id.empty()) absl::StrAppend(&line, " ", options.node_id);
  absl::StrAppend(&line, ": ", OneLine(message));
  return line;
}

void Log(LogLevel level, absl::string_view component,
         absl::string_view message) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&log_mu);
  const LogOptions& options = Options();
  if (level < options.min_level) return;
  const std::string line =
      FormatLogLine(options, now, level, component, message);
  fprintf(options.sink, "%s\n", line.c_str());
  fflush(options.sink);
}

std::string RedactedId(absl::string_view id) {
  return absl::StrCat(id.substr(0, 6), "...(", id.size(), ")");
}

}  // namespace sesh
