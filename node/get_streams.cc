#include "node/get_streams.h"

#include <string>
#include <utility>
#include <vector>

namespace sesh {

// One StreamGet call. Finish is called once, by whoever ends the call first
// (the client's half-close, an error, EndIdle).
class GetStreams::Stream final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Stream(GetStreams* owner, grpc::CallbackServerContext* ctx)
      : owner_(owner), ctx_(ctx), last_active_(absl::Now()) {}

  void Begin() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is done, or the call was cancelled
      End(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      busy_ = true;
    }
    request_.Clear();
    grpc::Status parsed =
        grpc::SerializationTraits<v1::BatchGetRequest>::Deserialize(&in_,
                                                                    &request_);
    if (!parsed.ok()) {
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "a StreamGet message is not a BatchGetRequest"));
      return;
    }
    if (request_.namespace_() != authorized_ns_) {
      grpc::Status admitted =
          owner_->auth_->ForNamespace(*ctx_, request_.namespace_());
      if (!admitted.ok()) {
        End(admitted);
        return;
      }
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
          grpc::SerializationTraits<v1::BatchGetResponse>::Serialize(
              response_, &out_, &own);
      if (!serialized.ok()) {
        End(serialized);
        return;
      }
      StartWrite(&out_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      last_active_ = absl::Now();
    }
    StartRead(&in_);
  }

  void EndIfIdle(absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || busy_ || absl::Now() - last_active_ < timeout) return;
    }
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     "StreamGet idle too long; open a new stream"));
  }

  // May free this stream: nothing of it is touched afterwards.
  void OnDone() override { owner_->Forget(this); }

 private:
  void End(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  GetStreams* const owner_;
  grpc::CallbackServerContext* const ctx_;
  std::string authorized_ns_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  v1::BatchGetRequest request_;
  v1::BatchGetResponse response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_active_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GetStreams::Open(
    grpc::CallbackServerContext* ctx) {
  auto stream = std::make_shared<Stream>(this, ctx);
  {
    absl::MutexLock lock(&mu_);
    open_[stream.get()] = stream;
  }
  stream->Begin();
  return stream.get();
}

void GetStreams::Forget(Stream* stream) {
  std::shared_ptr<Stream> last;  // may be the last owner: freed unlocked
  absl::MutexLock lock(&mu_);
  auto it = open_.find(stream);
  if (it == open_.end()) return;
  last = std::move(it->second);
  open_.erase(it);
}

void GetStreams::EndIdle(absl::Duration timeout) {
  std::vector<std::shared_ptr<Stream>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [raw, stream] : open_) open.push_back(stream);
  }
  for (const auto& stream : open) stream->EndIfIdle(timeout);
}

}  // namespace sesh
