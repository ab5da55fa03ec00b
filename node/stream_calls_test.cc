// Sessions.StreamGet and Sessions.StreamWrite end to end: the open calls
// (batch_streams.h) and the messages StreamWrite serves (write_batches.h).
// Their unary counterparts are tested in sessions_service_test.cc.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/sessions_service.h"
#include "node/sessions_service_fixture.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

using testing::CreateOp;
using testing::DestroyOp;
using testing::kIdle;
using testing::kStart;
using testing::SessionsServiceTest;
using testing::TouchOp;
using testing::UpdateOp;

TEST_F(SessionsServiceTest, StreamGet_AnswersEachRequestInOrderThenEndsOnABadOne) {
  v1::Session a = MustCreate();
  v1::Session b = MustCreate();
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::BatchGetRequest,
                                           v1::BatchGetResponse>>
      stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest first;
  first.set_namespace_("shop");
  first.add_ids(a.id());
  first.add_ids("malformed");
  v1::BatchGetRequest second;
  second.set_namespace_("shop");
  second.add_ids(b.id());
  second.add_ids(EncodeId(NewRawId()));
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));

  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).session().id(), a.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).session().id(), b.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::NOT_FOUND);

  // More ids than --max_batch: the call ends with the error BatchGet gives.
  v1::BatchGetRequest big;
  big.set_namespace_("shop");
  for (int i = 0; i < 11; ++i) big.add_ids(a.id());
  stream->Write(big);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, StreamGet_MessageThatDoesNotParse_EndsWithInvalidArgument) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::BatchGetRequest,
                                           v1::BatchGetResponse>>
      stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  // Invalid UTF-8 in a proto3 string: the client serializes it (with a
  // logged complaint), the server cannot parse it.
  v1::BatchGetRequest bad;
  bad.set_namespace_("\xff\xfe");
  bad.add_ids(a.id());
  stream->Write(bad);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, StreamGet_OtherNamespace_PermissionDenied) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  v1::BatchGetRequest other = good;
  other.set_namespace_("other");
  stream->Write(other);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SessionsServiceTest, StreamGet_IdlePastTheLimit_Ended) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ExpectEndedAsIdle(stream.get());
}

TEST_F(SessionsServiceTest, StreamGet_Draining_OpenStreamEndsAndANewOneIsRefused) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  sessions_->DrainStreams();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  grpc::ClientContext late_ctx;
  auto late = stub_->StreamGet(&late_ctx);
  late->Write(good);
  EXPECT_FALSE(late->Read(&response));
  EXPECT_EQ(late->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SessionsServiceTest, StreamGet_NoTokenEmptyNamespace_Unauthenticated) {
  auto none = StubWith("");
  grpc::ClientContext ctx;
  auto stream = none->StreamGet(&ctx);
  v1::BatchGetRequest request;  // no namespace: still needs a token
  request.add_ids(EncodeId(NewRawId()));
  stream->Write(request);
  stream->WritesDone();
  v1::BatchGetResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SessionsServiceTest, StreamWrite_EachKind_ResultsInOrder_EffectsVisible) {
  v1::Session a = MustCreate("alice");
  v1::Session b = MustCreate("bob");
  v1::Session c = MustCreate("carol");
  clock_.AdvanceMs(1000);
  const int64_t now = kStart + 1000;
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = CreateOp("shop", "dave", "theme", "dark");
  *request.add_ops() = UpdateOp("shop", a.id(), "cart", "3");
  *request.add_ops() = TouchOp("shop", b.id());
  *request.add_ops() = DestroyOp("shop", c.id());
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  for (const v1::WriteResult& result : response.results()) {
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_EQ(result.message(), "");
  }
  ASSERT_EQ(response.results(0).result_case(), v1::WriteResult::kCreate);
  const v1::Session& created = response.results(0).create().session();
  EXPECT_TRUE(DecodeId(created.id()).ok());
  EXPECT_EQ(created.namespace_(), "shop");
  EXPECT_EQ(created.user_id(), "dave");
  EXPECT_EQ(created.attributes().at("theme"), "dark");
  EXPECT_EQ(created.created_at_ms(), now);
  EXPECT_EQ(created.expires_at_ms(), now + kIdle);

  ASSERT_EQ(response.results(1).result_case(), v1::WriteResult::kUpdate);
  const v1::Session& updated = response.results(1).update().session();
  EXPECT_EQ(updated.id(), a.id());
  EXPECT_EQ(updated.attributes().size(), 2u);
  EXPECT_EQ(updated.attributes().at("cart"), "3");
  EXPECT_EQ(updated.attributes().at("role"), "admin");
  EXPECT_GT(updated.version(), a.version());
  EXPECT_EQ(updated.last_access_ms(), now);

  ASSERT_EQ(response.results(2).result_case(), v1::WriteResult::kTouch);
  EXPECT_EQ(response.results(2).touch().last_access_ms(), now);
  EXPECT_EQ(response.results(2).touch().expires_at_ms(), now + kIdle);

  EXPECT_EQ(response.results(3).result_case(), v1::WriteResult::kDestroy);

  EXPECT_EQ(MustGet(created.id()).attributes().at("theme"), "dark");
  EXPECT_EQ(MustGet(a.id()).attributes().at("cart"), "3");
  EXPECT_EQ(MustGet(b.id()).last_access_ms(), now);
  EXPECT_EQ(GetCode(c.id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, StreamWrite_OpOfOtherNamespaceOrNoKind_InvalidArgument_OthersApplied) {
  v1::Session a = MustCreate();
  const int64_t stored = store_->CountStoredForTesting();
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = CreateOp("other", "eve", "k", "v");
  request.add_ops();  // no kind
  *request.add_ops() = CreateOp("shop", "frank", "k", "v");
  // A destroy writes a tombstone that wins in any namespace: it must not
  // reach the store.
  *request.add_ops() = DestroyOp("other", a.id());
  *request.add_ops() = UpdateOp("shop", a.id(), "cart", "1");
  *request.add_ops() = UpdateOp("shop", EncodeId(NewRawId()), "cart", "1");
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 6);
  const std::vector<int> codes = {
      grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::INVALID_ARGUMENT,
      grpc::StatusCode::OK,               grpc::StatusCode::INVALID_ARGUMENT,
      grpc::StatusCode::OK,               grpc::StatusCode::NOT_FOUND};
  const std::vector<v1::WriteResult::ResultCase> kinds = {
      v1::WriteResult::RESULT_NOT_SET, v1::WriteResult::RESULT_NOT_SET,
      v1::WriteResult::kCreate,        v1::WriteResult::RESULT_NOT_SET,
      v1::WriteResult::kUpdate,        v1::WriteResult::RESULT_NOT_SET};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(response.results(i).code(), codes[i]) << "op " << i;
    EXPECT_EQ(response.results(i).result_case(), kinds[i]) << "op " << i;
  }
  EXPECT_EQ(response.results(2).create().session().user_id(), "frank");
  EXPECT_EQ(store_->CountStoredForTesting(), stored + 1);
  EXPECT_EQ(MustGet(a.id()).attributes().at("cart"), "1");
}

TEST_F(SessionsServiceTest, StreamWrite_DestroyByHandle_LogsOutThatDeviceOnly) {
  v1::Session phone = MustCreate("alice");
  v1::Session laptop = MustCreate("alice");
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  v1::DestroyRequest* by_handle = request.add_ops()->mutable_destroy();
  by_handle->set_namespace_("shop");
  by_handle->set_user_id("alice");
  by_handle->set_handle(phone.handle());
  v1::DestroyRequest* no_user = request.add_ops()->mutable_destroy();
  no_user->set_namespace_("shop");
  no_user->set_handle(laptop.handle());
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(0).result_case(), v1::WriteResult::kDestroy);
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(phone.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
}

TEST_F(SessionsServiceTest, StreamWrite_MessagesAnsweredInOrder_EmptyGetsNoResults) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest first;
  first.set_namespace_("shop");
  *first.add_ops() = CreateOp("shop", "", "seq", "1");
  v1::WriteBatchRequest second;
  second.set_namespace_("shop");
  *second.add_ops() = CreateOp("shop", "", "seq", "2");
  *second.add_ops() = TouchOp("shop", a.id());
  v1::WriteBatchRequest empty;
  empty.set_namespace_("shop");
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(stream->Write(empty));

  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).create().session().attributes().at("seq"),
            "1");
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).create().session().attributes().at("seq"),
            "2");
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(1).result_case(), v1::WriteResult::kTouch);
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count(kEpochHeader), 1u);
}

TEST_F(SessionsServiceTest, StreamWrite_NamespaceTheTokenMayNotUse_EndsWithUnaryCallsError) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest good;
  good.set_namespace_("shop");
  *good.add_ops() = TouchOp("shop", a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  const int64_t stored = store_->CountStoredForTesting();
  v1::WriteBatchRequest other;
  other.set_namespace_("other");
  *other.add_ops() = CreateOp("other", "eve", "k", "v");
  stream->Write(other);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(store_->CountStoredForTesting(), stored);
}

TEST_F(SessionsServiceTest, StreamWrite_NoToken_Unauthenticated_EvenWithEmptyNamespace) {
  auto none = StubWith("");
  for (const std::string& ns : {std::string("shop"), std::string()}) {
    grpc::ClientContext ctx;
    auto stream = none->StreamWrite(&ctx);
    v1::WriteBatchRequest request;
    request.set_namespace_(ns);
    *request.add_ops() = CreateOp(ns, "eve", "k", "v");
    stream->Write(request);
    stream->WritesDone();
    v1::WriteBatchResponse response;
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "namespace '" << ns << "'";
  }
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionsServiceTest, StreamWrite_MessageThatDoesNotParse_EndsWithInvalidArgument) {
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest good;
  good.set_namespace_("shop");
  *good.add_ops() = CreateOp("shop", "", "k", "v");
  ASSERT_TRUE(stream->Write(good));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  // Invalid UTF-8 in a proto3 string: the client serializes it (with a
  // logged complaint), the server cannot parse it.
  v1::WriteBatchRequest bad;
  bad.set_namespace_("shop");
  *bad.add_ops() = CreateOp("shop", "\xff\xfe", "k", "v");
  stream->Write(bad);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(store_->CountStoredForTesting(), 1);
}

TEST_F(SessionsServiceTest, StreamWrite_MoreOpsThanMaxBatch_EndsWithInvalidArgumentNothingApplied) {
  const int64_t stored = store_->CountStoredForTesting();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  for (int i = 0; i < 11; ++i) {  // the fixture's --max_batch is 10
    *request.add_ops() = CreateOp("shop", "", "k", "v");
  }
  stream->Write(request);
  stream->WritesDone();
  v1::WriteBatchResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "max_batch: at most 10 ops per StreamWrite message; nothing was "
            "applied");
  EXPECT_EQ(store_->CountStoredForTesting(), stored);
}

TEST_F(SessionsServiceTest, StreamWrite_IdlePastTheLimit_Ended) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = TouchOp("shop", a.id());
  ASSERT_TRUE(stream->Write(request));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ExpectEndedAsIdle(stream.get());
}

}  // namespace
}  // namespace sesh
