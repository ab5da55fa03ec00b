#ifndef SESH_FUZZ_TEMP_STORE_H_
#define SESH_FUZZ_TEMP_STORE_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "node/session_store.h"
#include "replication/clock.h"

namespace sesh {

// For a fuzz target's LLVMFuzzerInitialize: a SessionStore in a fresh temp
// dir, closed and removed at exit; aborts (naming `target`) if it cannot be
// opened. Also silences protobuf's log of inputs that do not parse.
inline SessionStore* OpenTempStore(const char* target) {
  static SessionStore* store = nullptr;
  static std::string* dir = nullptr;
  google::protobuf::SetLogHandler(nullptr);
  const char* tmp = std::getenv("TMPDIR");
  dir = new std::string(std::string(tmp != nullptr ? tmp : "/tmp") +
                        "/sesh-fuzz-XXXXXX");
  if (mkdtemp(dir->data()) == nullptr) {
    std::perror(target);
    std::abort();
  }
  StoreOptions options;
  options.path = *dir + "/db";
  options.block_cache_bytes = size_t{8} << 20;
  auto opened = SessionStore::Open(options, SystemClock());
  if (!opened.ok()) {
    std::fprintf(stderr, "%s: %s\n", target,
                 opened.status().ToString().c_str());
    std::abort();
  }
  store = opened->release();
  std::atexit([] {
    delete store;
    store = nullptr;
    std::error_code ignored;
    std::filesystem::remove_all(*dir, ignored);
  });
  return store;
}

}  // namespace sesh

#endif  // SESH_FUZZ_TEMP_STORE_H_
