#include "node/batch_streams.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sesh {

// One call. Finish is called once, by whoever ends the call first (the
// client's half-close, an error, EndIdle).
template <typename Request, typename Response>
class BatchStreams<Request, Response>::Stream final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Stream(BatchStreams* owner, grpc::CallbackServerContext* ctx)
      : owner_(owner), ctx_(ctx), last_active_(absl::Now()) {}

  void Begin() { this->StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done, or the call was cancelled
      End(grpc::Status::OK);
      return;
    }
    bool draining;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      draining = owner_->draining_.load();
      if (draining) {
        finished_ = true;  // read, and not to be served
      } else {
        busy_ = true;
      }
    }
    if (draining) {
      FinishDrained();
      return;
    }
    request_.Clear();
    grpc::Status parsed =
        grpc::SerializationTraits<Request>::Deserialize(&in_, &request_);
    if (!parsed.ok()) {
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("a ", owner_->method_, " message is not a ",
                                    Request::descriptor()->name())));
      return;
    }
    // The first message is always checked, whatever its namespace (an
    // empty one too).
    if (!authorized_ || request_.namespace_() != authorized_ns_) {
      grpc::Status admitted =
          owner_->auth_->ForNamespace(*ctx_, request_.namespace_());
      if (!admitted.ok()) {
        End(admitted);
        return;
      }
      authorized_ = true;
      authorized_ns_ = request_.namespace_();
    }
    response_.Clear();
    owner_->serve_(request_, &response_, [this](grpc::Status s) {
      if (!s.ok()) {
        End(s);
        return;
      }
      response_.set_epoch(owner_->epoch_());
      bool own = false;
      out_.Clear();
      grpc::Status serialized =
          grpc::SerializationTraits<Response>::Serialize(response_, &out_,
                                                         &own);
      if (!serialized.ok()) {
        End(serialized);
        return;
      }
      this->StartWrite(&out_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    bool draining;
    {
      // draining_ is read under the lock Drain's EndIfIdle takes: either
      // this sees the drain, or that sees the stream idle and ends it.
      absl::MutexLock lock(&mu_);
      draining = owner_->draining_.load();
      if (!draining) {
        busy_ = false;
        last_active_ = absl::Now();
      }
    }
    if (draining) {
      EndDrained();
      return;
    }
    this->StartRead(&in_);
  }

  void EndIfIdle(absl::Duration timeout) {
    const bool draining = owner_->draining_.load();
    {
      // Checked and marked finished under one lock: a message OnReadDone
      // takes after this point is never served, so the drain's claim that
      // nothing unanswered was processed holds.
      absl::MutexLock lock(&mu_);
      if (finished_ || busy_ || absl::Now() - last_active_ < timeout) return;
      finished_ = true;
    }
    if (draining) {
      FinishDrained();
    } else {
      this->Finish(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat(owner_->method_, " idle too long; open a new stream")));
    }
  }

  // Ends the call at once (a stream opened while draining).
  void EndNow() { EndDrained(); }

  // May free this stream: nothing of it is touched afterwards.
  void OnDone() override { owner_->Forget(this); }

 private:
  void End(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    this->Finish(status);
  }

  // Ends a stream between messages as the node stops.
  void EndDrained() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    FinishDrained();
  }

  // Whatever the client sent and got no answer for was never read: the
  // trailer lets it send them again elsewhere (sessions.proto, StreamWrite).
  void FinishDrained() {
    ctx_->AddTrailingMetadata("sesh-unprocessed", "1");
    this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the node is shutting down; open a new stream"));
  }

  BatchStreams* const owner_;
  grpc::CallbackServerContext* const ctx_;
  // Read path only (one read at a time): no lock.
  bool authorized_ = false;
  std::string authorized_ns_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  Request request_;
  Response response_;

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_active_ ABSL_GUARDED_BY(mu_);
};

template <typename Request, typename Response>
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
BatchStreams<Request, Response>::Open(grpc::CallbackServerContext* ctx) {
  auto stream = std::make_shared<Stream>(this, ctx);
  {
    absl::MutexLock lock(&mu_);
    open_[stream.get()] = stream;
  }
  if (draining_.load()) {
    stream->EndNow();
  } else {
    stream->Begin();
  }
  return stream.get();
}

template <typename Request, typename Response>
void BatchStreams<Request, Response>::Forget(Stream* stream) {
  std::shared_ptr<Stream> last;  // may be the last owner: freed unlocked
  absl::MutexLock lock(&mu_);
  auto it = open_.find(stream);
  if (it == open_.end()) return;
  last = std::move(it->second);
  open_.erase(it);
}

template <typename Request, typename Response>
void BatchStreams<Request, Response>::EndIdle(absl::Duration timeout) {
  std::vector<std::shared_ptr<Stream>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [raw, stream] : open_) open.push_back(stream);
  }
  for (const auto& stream : open) stream->EndIfIdle(timeout);
}

template <typename Request, typename Response>
void BatchStreams<Request, Response>::Drain() {
  draining_.store(true);
  EndIdle(absl::ZeroDuration());
}

template class BatchStreams<v1::BatchGetRequest, v1::BatchGetResponse>;
template class BatchStreams<v1::WriteBatchRequest, v1::WriteBatchResponse>;

}  // namespace sesh
