#include "client/internal/user_calls.h"

#include <grpcpp/completion_queue.h>

#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/internal/node_conn.h"
#include "client/internal/proto_convert.h"
#include "client/internal/router.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace client_internal {
namespace {

// Sessions per ListByUser page: the most a node returns.
constexpr int kMaxPageSize = 1000;

}  // namespace

template <typename Req, typename Resp, typename Invoke>
absl::Status UserCalls::CallAnyNode(std::shared_ptr<Req> req,
                                    std::shared_ptr<Resp> resp,
                                    Invoke invoke) const {
  absl::Notification done;
  absl::Status status;
  StartUnaryCall(*env_, *runner_, Route::Of(Route::Kind::kAnyNode),
                 /*idempotent=*/true, std::move(req), std::move(resp),
                 std::move(invoke), [&](absl::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

absl::StatusOr<std::vector<SessionData>> UserCalls::ListByUser(
    absl::string_view ns, absl::string_view user_id) const {
  ListOptions options;
  options.page_size = kMaxPageSize;
  std::vector<SessionData> sessions;
  for (int page = 0; page < Client::kMaxListPages; ++page) {
    absl::StatusOr<SessionPage> got = ListByUserPage(ns, user_id, options);
    if (!got.ok()) return got.status();
    sessions.insert(sessions.end(),
                    std::make_move_iterator(got->sessions.begin()),
                    std::make_move_iterator(got->sessions.end()));
    if (got->next_page_token.empty()) return sessions;
    options.page_token = std::move(got->next_page_token);
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "the user has more than ", Client::kMaxListPages, " pages of ",
      kMaxPageSize, " sessions; use ListByUserPage"));
}

absl::StatusOr<SessionPage> UserCalls::ListByUserPage(
    absl::string_view ns, absl::string_view user_id,
    const ListOptions& options) const {
  if (options.page_size < 0 || options.page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size must be in [0, ",
                                                   kMaxPageSize, "], got ",
                                                   options.page_size));
  }
  auto req = std::make_shared<v1::ListByUserRequest>();
  auto resp = std::make_shared<v1::ListByUserResponse>();
  req->set_namespace_(std::string(ns));
  req->set_user_id(std::string(user_id));
  for (const std::string& name : options.attributes) req->add_attributes(name);
  req->set_page_size(options.page_size);
  req->set_page_token(options.page_token);
  absl::Status status = CallAnyNode(
      req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncListByUser(ctx, *q, cq);
      });
  if (!status.ok()) return status;
  SessionPage page;
  page.sessions.reserve(resp->sessions_size());
  for (const v1::Session& s : resp->sessions()) {
    page.sessions.push_back(FromProto(s));
  }
  page.next_page_token = resp->next_page_token();
  return page;
}

absl::Status UserCalls::DestroyByHandle(absl::string_view ns,
                                        absl::string_view user_id,
                                        absl::string_view handle,
                                        Durability durability) const {
  if (ns.empty() || user_id.empty() || handle.empty()) {
    return absl::InvalidArgumentError(
        "DestroyByHandle needs a namespace, a user id and a handle");
  }
  auto req = std::make_shared<v1::DestroyRequest>();
  auto resp = std::make_shared<v1::DestroyResponse>();
  req->set_namespace_(std::string(ns));
  req->set_user_id(std::string(user_id));
  req->set_handle(std::string(handle));
  req->set_durability(ToProto(durability));
  return CallAnyNode(
      req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncDestroy(ctx, *q, cq);
      });
}

absl::StatusOr<int> UserCalls::DestroyByUser(absl::string_view ns,
                                             absl::string_view user_id,
                                             absl::string_view except_id,
                                             Durability durability) const {
  v1::DestroyByUserRequest req;
  req.set_namespace_(std::string(ns));
  req.set_user_id(std::string(user_id));
  req.set_except_id(std::string(except_id));
  req.set_durability(ToProto(durability));
  return DestroyByUserRounds(req);
}

absl::StatusOr<int> UserCalls::DestroyOtherDevices(
    absl::string_view ns, absl::string_view user_id,
    absl::string_view keep_handle, Durability durability) const {
  if (keep_handle.empty()) {
    return absl::InvalidArgumentError(
        "DestroyOtherDevices needs the handle of the session to keep");
  }
  v1::DestroyByUserRequest req;
  req.set_namespace_(std::string(ns));
  req.set_user_id(std::string(user_id));
  req.set_except_handle(std::string(keep_handle));
  req.set_durability(ToProto(durability));
  return DestroyByUserRounds(req);
}

absl::StatusOr<int> UserCalls::DestroyByUserRounds(
    const v1::DestroyByUserRequest& request) const {
  int destroyed = 0;
  for (int round = 0; round < Client::kMaxDestroyRounds; ++round) {
    auto req = std::make_shared<v1::DestroyByUserRequest>(request);
    auto resp = std::make_shared<v1::DestroyByUserResponse>();
    absl::Status status = CallAnyNode(
        req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncDestroyByUser(ctx, *q, cq);
        });
    if (!status.ok()) {
      if (destroyed == 0) return status;
      return absl::Status(status.code(),
                          absl::StrCat("after destroying ", destroyed,
                                       " sessions: ", status.message()));
    }
    destroyed += resp->destroyed_count();
    if (!resp->more()) return destroyed;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "destroyed ", destroyed, " sessions in ", Client::kMaxDestroyRounds,
      " calls and more remain; call again"));
}

}  // namespace client_internal
}  // namespace sesh
