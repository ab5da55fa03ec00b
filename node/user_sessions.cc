#include "node/user_sessions.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "node/convert.h"
#include "replication/join.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

grpc::Status Invalid(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      std::string(message));
}

// Sessions are listed in (created_at_ms, handle) order; a page token is the
// last listed position.
bool Before(const v1::Session& a, const v1::Session& b) {
  if (a.created_at_ms() != b.created_at_ms()) {
    return a.created_at_ms() < b.created_at_ms();
  }
  return a.handle() < b.handle();
}

std::string TokenAfter(const v1::Session& s) {
  return absl::StrCat(s.created_at_ms(), ".", s.handle());
}

// Parses a page token into the position it names. False if malformed.
bool ParseToken(const std::string& token, v1::Session* position) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(token, absl::MaxSplits('.', 1));
  int64_t created = 0;
  if (!absl::SimpleAtoi(parts.first, &created) || parts.second.size() > 64) {
    return false;
  }
  position->set_created_at_ms(created);
  position->set_handle(parts.second);
  return true;
}

}  // namespace

UserSessions::UserSessions(
    SessionStore* store, Cluster* cluster,
    const std::vector<std::unique_ptr<v1::Sessions::Stub>>* stubs,
    const Options& options, DestroyFn destroy)
    : store_(store),
      cluster_(cluster),
      stubs_(stubs),
      options_(options),
      destroy_(std::move(destroy)) {}

void UserSessions::Gather(
    const std::string& ns, const std::string& user_id,
    std::chrono::system_clock::time_point deadline,
    std::function<void(grpc::Status, Sessions)> done) {
  absl::StatusOr<std::vector<Record>> mine = store_->ListByUser(ns, user_id);
  if (!mine.ok()) {
    done(ToGrpcStatus(mine.status()), {});
    return;
  }
  // Copies of one session on several replicas merge by id, the latest
  // last_access winning.
  struct State {
    absl::Mutex mu;
    std::map<std::string, v1::Session> by_id ABSL_GUARDED_BY(mu);
    int failures ABSL_GUARDED_BY(mu) = 0;
  };
  auto state = std::make_shared<State>();
  {
    absl::MutexLock lock(&state->mu);
    for (const Record& r : *mine) {
      ToPublicSession(r, &state->by_id[EncodeId(r.id())]);
    }
  }
  // A session acknowledged at QUORUM is on a majority of its replicas, so
  // while at most replication_factor / 2 nodes fail to answer, one that has
  // it answers. More failures: the list could miss sessions.
  const int tolerable = cluster_->placement().replication_factor() / 2;
  auto finish = [state, done, tolerable](grpc::Status) {
    absl::MutexLock lock(&state->mu);
    if (state->failures > tolerable) {
      done(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrFormat("%d nodes did not answer; the list "
                                        "could be incomplete",
                                        state->failures)),
           {});
      return;
    }
    Sessions sessions;
    for (auto& [id, s] : state->by_id) sessions.push_back(std::move(s));
    std::sort(sessions.begin(), sessions.end(), Before);
    done(grpc::Status::OK, std::move(sessions));
  };
  const int others = cluster_->node_count() - 1;
  if (others == 0) {
    finish(grpc::Status::OK);
    return;
  }
  auto join = std::make_shared<Join<grpc::Status>>(others, finish);
  auto request = std::make_shared<v1::ListByUserRequest>();
  request->set_namespace_(ns);
  request->set_user_id(user_id);
  for (int node = 0; node < cluster_->node_count(); ++node) {
    if (node == cluster_->self_index()) continue;
    auto ctx = std::make_shared<grpc::ClientContext>();
    auto part = std::make_shared<v1::ListByUserResponse>();
    ctx->set_deadline(std::min(
        deadline, std::chrono::system_clock::now() +
                      std::chrono::milliseconds(options_.forward_timeout_ms)));
    (*stubs_)[node]->async()->ListByUser(
        ctx.get(), request.get(), part.get(),
        [state, join, ctx, part, request](grpc::Status status) {
          {
            absl::MutexLock lock(&state->mu);
            if (!status.ok()) {
              ++state->failures;
            } else {
              for (const v1::Session& s : part->sessions()) {
                auto it = state->by_id.find(s.id());
                if (it == state->by_id.end() ||
                    it->second.last_access_ms() < s.last_access_ms()) {
                  state->by_id[s.id()] = s;
                }
              }
            }
          }
          join->Arrive(grpc::Status::OK);
        });
  }
}

void UserSessions::List(const v1::ListByUserRequest& request,
                        v1::ListByUserResponse* response, bool from_peer,
                        std::chrono::system_clock::time_point deadline,
                        Done done) {
  if (request.namespace_().empty() || request.user_id().empty()) {
    done(Invalid("namespace and user_id are required"));
    return;
  }
  if (from_peer) {
    absl::StatusOr<std::vector<Record>> mine =
        store_->ListByUser(request.namespace_(), request.user_id());
    if (mine.ok()) {
      for (const Record& r : *mine) {
        ToPublicSession(r, response->add_sessions());
      }
    }
    done(ToGrpcStatus(mine.status()));
    return;
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    done(Invalid(absl::StrFormat("page_size must be in [0, %d]",
                                 kMaxPageSize)));
    return;
  }
  const int page_size =
      request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  v1::Session after;
  const bool has_token = !request.page_token().empty();
  if (has_token && !ParseToken(request.page_token(), &after)) {
    done(Invalid("page_token is malformed"));
    return;
  }
  std::set<std::string> shown(request.attributes().begin(),
                              request.attributes().end());
  Gather(request.namespace_(), request.user_id(), deadline,
         [response, done, page_size, has_token, after,
          shown = std::move(shown)](grpc::Status status, Sessions sessions) {
           if (!status.ok()) {
             done(status);
             return;
           }
           auto it = sessions.begin();
           if (has_token) {
             it = std::upper_bound(sessions.begin(), sessions.end(), after,
                                   Before);
           }
           for (; it != sessions.end(); ++it) {
             if (response->sessions_size() == page_size) {
               response->set_next_page_token(
                   TokenAfter(response->sessions(page_size - 1)));
               break;
             }
             v1::Session* out = response->add_sessions();
             *out = std::move(*it);
             out->clear_id();  // a bearer credential: never listed
             auto* attributes = out->mutable_attributes();
             for (auto a = attributes->begin(); a != attributes->end();) {
               a = shown.count(a->first) ? std::next(a) : attributes->erase(a);
             }
           }
           done(grpc::Status::OK);
         });
}

void UserSessions::DestroyAll(const v1::DestroyByUserRequest& request,
                              v1::DestroyByUserResponse* response,
                              std::chrono::system_clock::time_point deadline,
                              Done done) {
  if (request.namespace_().empty() || request.user_id().empty()) {
    done(Invalid("namespace and user_id are required"));
    return;
  }
  if (!request.except_id().empty() && !request.except_handle().empty()) {
    done(Invalid("set at most one of except_id and except_handle"));
    return;
  }
  if (!request.except_id().empty()) {
    absl::StatusOr<std::string> except = DecodeId(request.except_id());
    if (!except.ok()) {
      done(ToGrpcStatus(except.status()));
      return;
    }
  }
  Gather(
      request.namespace_(), request.user_id(), deadline,
      [this, request, response, done](grpc::Status status, Sessions sessions) {
        if (!status.ok()) {
          done(status);
          return;
        }
        std::vector<v1::DestroyRequest> destroys;
        for (const v1::Session& s : sessions) {
          if (s.id() == request.except_id() ||
              s.handle() == request.except_handle()) {
            continue;
          }
          if (static_cast<int>(destroys.size()) ==
              options_.max_destroy_per_call) {
            response->set_more(true);
            break;
          }
          v1::DestroyRequest d;
          d.set_namespace_(request.namespace_());
          d.set_id(s.id());
          d.set_durability(request.durability());
          destroys.push_back(std::move(d));
        }
        response->set_destroyed_count(static_cast<int>(destroys.size()));
        if (destroys.empty()) {
          done(grpc::Status::OK);
          return;
        }
        auto join = std::make_shared<Join<grpc::Status>>(
            static_cast<int>(destroys.size()), done);
        for (const v1::DestroyRequest& d : destroys) {
          destroy_(d, [join](grpc::Status s) { join->Arrive(s); });
        }
      });
}

void UserSessions::DestroyByHandle(
    const v1::DestroyRequest& request,
    std::chrono::system_clock::time_point deadline, Done done) {
  if (request.namespace_().empty() || request.user_id().empty() ||
      request.handle().empty()) {
    done(Invalid("a Destroy by handle needs namespace, user_id and handle"));
    return;
  }
  Gather(request.namespace_(), request.user_id(), deadline,
         [this, request, done](grpc::Status status, Sessions sessions) {
           if (!status.ok()) {
             done(status);
             return;
           }
           for (const v1::Session& s : sessions) {
             if (s.handle() != request.handle()) continue;
             v1::DestroyRequest d;
             d.set_namespace_(request.namespace_());
             d.set_id(s.id());
             d.set_durability(request.durability());
             destroy_(d, done);
             return;
           }
           done(grpc::Status::OK);  // no such live session: nothing to do
         });
}

}  // namespace sesh
