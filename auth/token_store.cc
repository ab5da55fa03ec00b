#include "auth/token_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

int64_t Nanos(const struct timespec& ts) {
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

bool TokenStore::FileStamp::operator==(const FileStamp& o) const {
  return device == o.device && inode == o.inode && size == o.size &&
         mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
}

absl::StatusOr<TokenStore::FileStamp> TokenStore::StatFile(
    const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("stat token file ", path));
  }
  FileStamp stamp;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = Nanos(st.st_mtim);
  stamp.ctime_ns = Nanos(st.st_ctim);
  return stamp;
}

absl::StatusOr<std::string> TokenStore::ReadFile(const std::string& path,
                                                 FileStamp* stamp) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("open token file ", path));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return absl::ErrnoToStatus(error, absl::StrCat("stat token file ", path));
  }
  stamp->device = st.st_dev;
  stamp->inode = st.st_ino;
  stamp->size = st.st_size;
  stamp->mtime_ns = Nanos(st.st_mtim);
  stamp->ctime_ns = Nanos(st.st_ctim);

  // Read one byte past the bound to tell "at the bound" from "over it".
  std::string text(kMaxTokenFileBytes + 1, '\0');
  size_t length = 0;
  while (length < text.size()) {
    ssize_t n = ::read(fd, &text[length], text.size() - length);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error,
                                 absl::StrCat("read token file ", path));
    }
    length += static_cast<size_t>(n);
  }
  ::close(fd);
  if (length > kMaxTokenFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path, " is larger than ", kMaxTokenFileBytes, " bytes"));
  }
  text.resize(length);
  return text;
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(
    std::string path) {
  FileStamp stamp;
  absl::StatusOr<std::string> text = ReadFile(path, &stamp);
  if (!text.ok()) return text.status();
  absl::StatusOr<TokenTable> table = TokenTable::Parse(*text);
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenStore>(
      new TokenStore(std::move(path), *std::move(table), stamp));
}

TokenStore::TokenStore(std::string path, TokenTable table, FileStamp stamp)
    : path_(std::move(path)),
      last_attempt_(stamp),
      table_(std::make_unique<const TokenTable>(std::move(table))) {}

absl::StatusOr<bool> TokenStore::ReloadIfChanged() {
  absl::MutexLock reload_lock(&reload_mu_);
  absl::StatusOr<FileStamp> now = StatFile(path_);
  if (!now.ok()) return now.status();
  if (*now == last_attempt_) return false;

  // A read error (perhaps transient, such as EMFILE) is retried on the next
  // call; text that fails to parse is not parsed again until it changes.
  FileStamp read_stamp;
  absl::StatusOr<std::string> text = ReadFile(path_, &read_stamp);
  if (!text.ok()) return text.status();
  last_attempt_ = read_stamp;
  absl::StatusOr<TokenTable> table = TokenTable::Parse(*text);
  if (!table.ok()) return table.status();

  auto fresh = std::make_unique<const TokenTable>(*std::move(table));
  {
    absl::MutexLock lock(&mu_);
    table_.swap(fresh);
  }
  // `fresh` now holds the old table, freed outside the lock.
  return true;
}

absl::Status TokenStore::Authorize(absl::string_view authorization_header,
                                   absl::string_view ns) const {
  absl::ReaderMutexLock lock(&mu_);
  return table_->Authorize(authorization_header, ns);
}

absl::Status TokenStore::AuthorizeAny(
    absl::string_view authorization_header) const {
  absl::ReaderMutexLock lock(&mu_);
  return table_->AuthorizeAny(authorization_header);
}

absl::Status TokenStore::AuthorizeAdmin(
    absl::string_view authorization_header) const {
  absl::ReaderMutexLock lock(&mu_);
  return table_->AuthorizeAdmin(authorization_header);
}

}  // namespace sesh
