#ifndef SESH_AUTH_TOKEN_STORE_H_
#define SESH_AUTH_TOKEN_STORE_H_

// The node's current TokenTable, loaded from a token file and reloaded when
// the file changes, so tokens can be added and revoked without a restart.
// Replace the file atomically (write a temporary file, then rename it).

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "auth/token_table.h"

namespace sesh {

// Thread-safe. The Authorize* methods take a reader lock only and do no I/O;
// they are meant for every request.
class TokenStore {
 public:
  // Reads and parses the file at `path`. The error of the read (NOT_FOUND,
  // PERMISSION_DENIED, ...) or of TokenTable::Parse (INVALID_ARGUMENT); a file
  // over kMaxTokenFileBytes is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(std::string path);

  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // Stats the file; if its identity (device, inode), size, mtime or ctime
  // differ from the last attempt, reads and parses it again. Returns true
  // when a new table was installed, false when the file is unchanged. On a
  // stat, read or parse error the current table is kept and the error is
  // returned; a read error is retried on the next call, a parse error only
  // once the file changes again.
  absl::StatusOr<bool> ReloadIfChanged();

  // As TokenTable's, on the current table.
  absl::Status Authorize(absl::string_view authorization_header,
                         absl::string_view ns) const;
  absl::Status AuthorizeAny(absl::string_view authorization_header) const;
  absl::Status AuthorizeAdmin(absl::string_view authorization_header) const;

  const std::string& path() const { return path_; }

 private:
  // What stat(2) says about the file; a change in any field means re-read.
  struct FileStamp {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp& o) const;
  };

  // Reads the whole file; *stamp is taken from the open file before reading.
  static absl::StatusOr<std::string> ReadFile(const std::string& path,
                                              FileStamp* stamp);
  static absl::StatusOr<FileStamp> StatFile(const std::string& path);

  TokenStore(std::string path, TokenTable table, FileStamp stamp);

  // Constant after construction
  const std::string path_;

  // Serializes ReloadIfChanged; never held by the Authorize* methods.
  absl::Mutex reload_mu_;
  FileStamp last_attempt_ ABSL_GUARDED_BY(reload_mu_);

  // Protected by mu_ (written under reload_mu_ too)
  mutable absl::Mutex mu_;
  std::unique_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_AUTH_TOKEN_STORE_H_
