#include "client/internal/get_batch_sender.h"

#include <grpcpp/completion_queue.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/internal/batch_stream.h"
#include "client/internal/grpc_status.h"
#include "client/internal/proto_convert.h"

namespace sesh {
namespace client_internal {

void GetBatchSender::Send(NodeConn* node, PendingGetBatch batch) const {
  ops_->Hold();  // the batch's Gets are calls in flight
  if (batch.gets.size() == 1 && !stream_gets_) {
    auto get = std::shared_ptr<PendingGet>(std::move(batch.gets.front()));
    auto req = std::make_shared<v1::GetRequest>();
    auto resp = std::make_shared<v1::GetResponse>();
    req->set_namespace_(batch.ns);
    req->set_id(get->id);
    req->set_skip_touch(!batch.touch);
    runner_->SendUnary(
        node, get->deadline, req.get(), resp.get(),
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncGet(ctx, *q, cq);
        },
        [ops = ops_, node, get, req, resp](AttemptResult result) {
          GetOutcome outcome;
          outcome.node_answered = result.node_answered;
          outcome.never_sent = result.never_sent;
          if (result.status.ok()) {
            outcome.session = FromProto(resp->session());
          } else {
            outcome.session = std::move(result.status);
          }
          get->done(std::move(outcome));
          node->coalescer->BatchDone();
          ops->End();
        });
    return;
  }
  auto out = std::make_shared<OutgoingBatch>();
  out->gets = std::move(batch.gets);
  out->ns = std::move(batch.ns);
  out->touch = batch.touch;
  for (const auto& get : out->gets) {
    out->deadline = std::min(out->deadline, get->deadline);
  }
  if (stream_gets_ &&
      SendOnStream<v1::BatchGetRequest, v1::BatchGetResponse>(
          node, &node->get_stream, &v1::Sessions::Stub::PrepareAsyncStreamGet,
          runner_, ops_, out->Request(), out->deadline,
          [this, node, out](AttemptResult result, v1::BatchGetResponse* resp) {
            CompleteBatch(node, out, std::move(result), resp,
                          /*on_stream=*/true);
          })) {
    return;
  }
  SendBatchUnary(node, std::move(out));
}

void GetBatchSender::SendBatchUnary(
    NodeConn* node, std::shared_ptr<OutgoingBatch> batch) const {
  auto req = std::make_shared<v1::BatchGetRequest>(batch->Request());
  auto resp = std::make_shared<v1::BatchGetResponse>();
  const absl::Time deadline = batch->deadline;
  runner_->SendUnary(
      node, deadline, req.get(), resp.get(),
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncBatchGet(ctx, *q, cq);
      },
      [this, node, batch = std::move(batch), req, resp](AttemptResult result) {
        CompleteBatch(node, batch, std::move(result), resp.get(),
                      /*on_stream=*/false);
      });
}

void GetBatchSender::CompleteBatch(NodeConn* node,
                                   const std::shared_ptr<OutgoingBatch>& batch,
                                   AttemptResult result,
                                   v1::BatchGetResponse* resp,
                                   bool on_stream) const {
  if (on_stream && result.status.code() == absl::StatusCode::kUnimplemented) {
    SendBatchUnary(node, batch);  // a node that predates StreamGet
    return;
  }
  const auto& gets = batch->gets;
  if (result.status.ok() &&
      resp->results_size() != static_cast<int>(gets.size())) {
    result.status = absl::InternalError(absl::StrCat(
        "BatchGet of ", gets.size(), " ids from node ", node->address,
        " returned ", resp->results_size(), " results"));
  }
  for (size_t i = 0; i < gets.size(); ++i) {
    GetOutcome outcome;
    outcome.node_answered = result.node_answered;
    outcome.never_sent = result.never_sent;
    if (!result.status.ok()) {
      outcome.session = result.status;
    } else {
      const v1::BatchGetResult& r = resp->results(static_cast<int>(i));
      outcome.node_answered = true;
      if (r.code() == 0) {
        outcome.session = FromProto(r.session());
      } else {
        outcome.session = FromRpcCode(r.code(), r.message());
      }
    }
    gets[i]->done(std::move(outcome));
  }
  node->coalescer->BatchDone();
  ops_->End();
}

}  // namespace client_internal
}  // namespace sesh
