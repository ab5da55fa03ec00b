#include "node/store_keys.h"

#include <string>

#include "gtest/gtest.h"
#include "replication/placement.h"

namespace sesh {
namespace {

const std::string kRawId(32, 'a');

TEST(StoreKeysTest, StorageKey_AnyId_StartsWithItsPartitionPrefix) {
  const std::string key = StorageKey(kRawId);
  ASSERT_EQ(key.size(), kStorageKeyBytes);
  EXPECT_EQ(key.substr(0, 4), PartitionPrefix(PartitionOf(kRawId)));
  EXPECT_EQ(PartitionOfKey(key), PartitionOf(kRawId));
}

TEST(StoreKeysTest, PartitionPrefix_BigEndian_SortsByPartition) {
  EXPECT_EQ(PartitionPrefix(0x01020304), std::string("\x01\x02\x03\x04", 4));
  EXPECT_LT(PartitionPrefix(0xff), PartitionPrefix(0x100));
  EXPECT_EQ(PartitionOfKey(PartitionPrefix(0x7ffff)), 0x7ffffu);
}

TEST(StoreKeysTest, PartitionOfKey_ShorterThanFourBytes_IsZero) {
  EXPECT_EQ(PartitionOfKey("abc"), 0u);
}

TEST(StoreKeysTest, UserPrefix_NulSeparated_DoesNotPrefixAnotherUser) {
  EXPECT_EQ(UserPrefix("ns", "u"), std::string("ns\0u\0", 5));
  const std::string prefix = UserPrefix("ns", "u");
  EXPECT_NE(UserPrefix("ns", "u2").compare(0, prefix.size(), prefix), 0);
}

}  // namespace
}  // namespace sesh
