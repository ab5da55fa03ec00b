// The etcd v3 calls managed membership is built on (proto/etcd/), against a
// real etcd started by the test: revisions, compare-and-swap on a key's
// revision, leases that take their keys with them, and watches that deliver
// a prefix's changes in revision order.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "etcd/rpc.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/etcd_process.h"
#include "tests/node_process.h"

namespace sesh {
namespace {

using testing::EtcdProcess;
using testing::NewTempDir;

class EtcdApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = std::make_unique<EtcdProcess>(NewTempDir("etcd") + "/data");
    absl::Status started = etcd_->Start();
    ASSERT_TRUE(started.ok()) << started;
    kv_ = etcdserverpb::KV::NewStub(etcd_->channel());
    lease_ = etcdserverpb::Lease::NewStub(etcd_->channel());
    watch_ = etcdserverpb::Watch::NewStub(etcd_->channel());
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    return ctx;
  }

  etcdserverpb::PutResponse Put(const std::string& key,
                                const std::string& value, int64_t lease = 0) {
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    request.set_lease(lease);
    etcdserverpb::PutResponse response;
    grpc::Status s = kv_->Put(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  etcdserverpb::RangeResponse Prefix(const std::string& prefix) {
    etcdserverpb::RangeRequest request;
    request.set_key(prefix);
    std::string end = prefix;
    end.back()++;
    request.set_range_end(end);
    etcdserverpb::RangeResponse response;
    grpc::Status s = kv_->Range(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // Puts `value` at `key` only if the key was last changed at `mod_revision`
  // (0: only if the key does not exist).
  etcdserverpb::TxnResponse PutIfRevision(const std::string& key,
                                          const std::string& value,
                                          int64_t mod_revision) {
    etcdserverpb::TxnRequest txn;
    etcdserverpb::Compare* compare = txn.add_compare();
    compare->set_key(key);
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_result(etcdserverpb::Compare::EQUAL);
    compare->set_mod_revision(mod_revision);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    etcdserverpb::TxnResponse response;
    grpc::Status s = kv_->Txn(Context().get(), txn, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

TEST_F(EtcdApiTest, Put_EachChangeIsTheNextRevision_RangeReadsThePrefix) {
  const int64_t first = Put("/sesh/c1/members/n1", "normal").header().revision();
  const int64_t second = Put("/sesh/c1/members/n2", "joining").header().revision();
  Put("/sesh/c2/members/n1", "normal");
  EXPECT_EQ(second, first + 1);

  etcdserverpb::RangeResponse members = Prefix("/sesh/c1/members/");
  ASSERT_EQ(members.kvs_size(), 2);
  EXPECT_EQ(members.kvs(0).key(), "/sesh/c1/members/n1");
  EXPECT_EQ(members.kvs(0).value(), "normal");
  EXPECT_EQ(members.kvs(0).mod_revision(), first);
  EXPECT_EQ(members.kvs(1).key(), "/sesh/c1/members/n2");
  EXPECT_EQ(members.header().revision(), first + 2);
}

TEST_F(EtcdApiTest, Txn_CompareAndSwapOnModRevision_OnlyOneOfTwoWriters) {
  // Absent key: mod_revision 0 matches once.
  ASSERT_TRUE(PutIfRevision("/sesh/c1/epoch", "a", 0).succeeded());
  EXPECT_FALSE(PutIfRevision("/sesh/c1/epoch", "b", 0).succeeded());
  const int64_t seen = Prefix("/sesh/c1/epoch").kvs(0).mod_revision();

  // Two writers that read the same revision: the first wins, the second
  // finds the key changed and must re-read.
  etcdserverpb::TxnResponse one = PutIfRevision("/sesh/c1/epoch", "c", seen);
  etcdserverpb::TxnResponse two = PutIfRevision("/sesh/c1/epoch", "d", seen);
  EXPECT_TRUE(one.succeeded());
  EXPECT_FALSE(two.succeeded());
  etcdserverpb::RangeResponse now = Prefix("/sesh/c1/epoch");
  ASSERT_EQ(now.kvs_size(), 1);
  EXPECT_EQ(now.kvs(0).value(), "c");
  EXPECT_EQ(now.kvs(0).mod_revision(), one.header().revision());
}

TEST_F(EtcdApiTest, Lease_RevokedTakesItsKeysWithIt) {
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  etcdserverpb::LeaseGrantResponse granted;
  ASSERT_TRUE(lease_->LeaseGrant(Context().get(), grant, &granted).ok());
  ASSERT_NE(granted.id(), 0);
  EXPECT_EQ(granted.ttl(), 60);
  Put("/sesh/c1/joining/n4", "registered", granted.id());
  Put("/sesh/c1/members/n1", "normal");
  ASSERT_EQ(Prefix("/sesh/c1/").kvs_size(), 2);
  EXPECT_EQ(Prefix("/sesh/c1/joining/").kvs(0).lease(), granted.id());

  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(granted.id());
  etcdserverpb::LeaseRevokeResponse revoked;
  ASSERT_TRUE(lease_->LeaseRevoke(Context().get(), revoke, &revoked).ok());

  etcdserverpb::RangeResponse left = Prefix("/sesh/c1/");
  ASSERT_EQ(left.kvs_size(), 1);
  EXPECT_EQ(left.kvs(0).key(), "/sesh/c1/members/n1");
}

TEST_F(EtcdApiTest, Watch_PrefixChangesArriveInRevisionOrder) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = watch_->Watch(&ctx);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key("/sesh/c1/");
  create->set_range_end("/sesh/c10");  // the prefix "/sesh/c1/" ends before "0"
  ASSERT_TRUE(stream->Write(request));
  etcdserverpb::WatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.created());

  const int64_t put = Put("/sesh/c1/members/n5", "joining").header().revision();
  Put("/sesh/c2/members/n5", "elsewhere");  // not under the prefix
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("/sesh/c1/members/n5");
  etcdserverpb::DeleteRangeResponse deleted;
  ASSERT_TRUE(kv_->DeleteRange(Context().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1);

  std::vector<mvccpb::Event> events;
  while (events.size() < 2 && stream->Read(&response)) {
    for (const mvccpb::Event& e : response.events()) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), mvccpb::Event::PUT);
  EXPECT_EQ(events[0].kv().key(), "/sesh/c1/members/n5");
  EXPECT_EQ(events[0].kv().value(), "joining");
  EXPECT_EQ(events[0].kv().mod_revision(), put);
  EXPECT_EQ(events[1].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(events[1].kv().mod_revision(), deleted.header().revision());
  EXPECT_EQ(deleted.header().revision(), put + 2);
  ctx.TryCancel();
}

TEST_F(EtcdApiTest, Restart_KeepsKeysAndRevisions) {
  const int64_t written = Put("/sesh/c1/members/n1", "normal").header().revision();
  etcd_->Kill();
  ASSERT_TRUE(etcd_->Start().ok());
  kv_ = etcdserverpb::KV::NewStub(etcd_->channel());
  etcdserverpb::RangeResponse after = Prefix("/sesh/c1/members/");
  ASSERT_EQ(after.kvs_size(), 1);
  EXPECT_EQ(after.kvs(0).mod_revision(), written);
  EXPECT_GE(after.header().revision(), written);
}

}  // namespace
}  // namespace sesh
