#include "node/store_keys.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "replication/placement.h"

namespace sesh {
namespace {

static_assert(kStorageKeyBytes == 4 + SHA256_DIGEST_LENGTH,
              "a storage key is a partition then a SHA-256 digest");

void PutPartition(uint32_t partition, char* out) {
  out[0] = static_cast<char>(partition >> 24);
  out[1] = static_cast<char>(partition >> 16);
  out[2] = static_cast<char>(partition >> 8);
  out[3] = static_cast<char>(partition);
}

}  // namespace

std::string StorageKey(absl::string_view raw_id) {
  std::string key(kStorageKeyBytes, '\0');
  PutPartition(PartitionOf(raw_id), &key[0]);
  SHA256(reinterpret_cast<const unsigned char*>(raw_id.data()), raw_id.size(),
         reinterpret_cast<unsigned char*>(&key[4]));
  return key;
}

std::string PartitionPrefix(uint32_t partition) {
  std::string prefix(4, '\0');
  PutPartition(partition, &prefix[0]);
  return prefix;
}

uint32_t PartitionOfKey(absl::string_view key) {
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  return key.size() < 4 ? 0u
                        : (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | p[3];
}

std::string UserPrefix(absl::string_view ns, absl::string_view user_id) {
  return absl::StrCat(ns, absl::string_view("\0", 1), user_id,
                      absl::string_view("\0", 1));
}

}  // namespace sesh
