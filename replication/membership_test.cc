#include "replication/membership.h"

#include "gtest/gtest.h"

namespace sesh {
namespace {

TEST(MembershipTest, ParsePeers_ValidList_KeepsOrderAndAddresses) {
  absl::StatusOr<std::vector<PeerSpec>> peers =
      ParsePeers("n1=127.0.0.1:1, n2=host:2,n3=[::1]:3");
  ASSERT_TRUE(peers.ok()) << peers.status();
  ASSERT_EQ(peers->size(), 3u);
  EXPECT_EQ((*peers)[0].id, "n1");
  EXPECT_EQ((*peers)[0].address, "127.0.0.1:1");
  EXPECT_EQ((*peers)[1].address, "host:2");
  EXPECT_EQ((*peers)[2].address, "[::1]:3");
}

TEST(MembershipTest, ParsePeers_PeerPorts_Parsed) {
  absl::StatusOr<std::vector<PeerSpec>> peers =
      ParsePeers("n1=127.0.0.1:1/127.0.0.1:11,n2=[::1]:2/[::1]:12,n3=h:3");
  ASSERT_TRUE(peers.ok()) << peers.status();
  ASSERT_EQ(peers->size(), 3u);
  EXPECT_EQ((*peers)[0].address, "127.0.0.1:1");
  EXPECT_EQ((*peers)[0].peer_address, "127.0.0.1:11");
  EXPECT_EQ((*peers)[1].address, "[::1]:2");
  EXPECT_EQ((*peers)[1].peer_address, "[::1]:12");
  EXPECT_EQ((*peers)[2].peer_address, "");
}

TEST(MembershipTest, ParsePeers_BadEntries_InvalidArgument) {
  for (const char* bad : {"", "n1", "n1=", "=h:1", "n1=host", "n1=h:1,n1=h:2",
                          "n1=h:1/", "n1=h:1/host", "n1=/h:1"}) {
    EXPECT_EQ(ParsePeers(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace sesh
