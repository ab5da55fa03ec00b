#include "node/call_auth.h"

#include "absl/strings/str_cat.h"
#include "node/convert.h"
#include "node/credentials.h"

namespace sesh {
namespace {

// The value of the call's `authorization` metadata, empty when absent.
absl::string_view AuthorizationOf(const grpc::ServerContextBase& ctx) {
  const auto& metadata =
      const_cast<grpc::ServerContextBase&>(ctx).client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  return absl::string_view(it->second.data(), it->second.size());
}

grpc::Status Unauthenticated(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(message));
}

}  // namespace

CallAuth CallAuth::ClientPort(const TokenStore* tokens) {
  return CallAuth(tokens, /*peer_port=*/false, {}, false);
}

CallAuth CallAuth::PeerPort(std::vector<std::string> members,
                            bool require_certificate) {
  return CallAuth(nullptr, /*peer_port=*/true, std::move(members),
                  require_certificate);
}

grpc::Status CallAuth::Member(const grpc::ServerContextBase& ctx,
                              std::string* node) const {
  if (!require_certificate_) return grpc::Status::OK;
  *node = CertifiedNode(ctx, members_);
  if (node->empty()) {
    return Unauthenticated(
        "the peer port admits only nodes of this cluster (a certificate "
        "naming a member, signed by the cluster CA)");
  }
  return grpc::Status::OK;
}

grpc::Status CallAuth::ForNamespace(const grpc::ServerContextBase& ctx,
                                    absl::string_view ns) const {
  std::string node;
  if (peer_port_) return Member(ctx, &node);
  if (tokens_ == nullptr) return grpc::Status::OK;
  // No namespace: any valid token, and the call's validation refuses it.
  if (ns.empty()) return ToGrpcStatus(tokens_->AuthorizeAny(AuthorizationOf(ctx)));
  return ToGrpcStatus(tokens_->Authorize(AuthorizationOf(ctx), ns));
}

grpc::Status CallAuth::ForAny(const grpc::ServerContextBase& ctx) const {
  std::string node;
  if (peer_port_) return Member(ctx, &node);
  if (tokens_ == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(tokens_->AuthorizeAny(AuthorizationOf(ctx)));
}

grpc::Status CallAuth::ForAdmin(const grpc::ServerContextBase& ctx) const {
  std::string node;
  if (peer_port_) return Member(ctx, &node);
  if (tokens_ == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(tokens_->AuthorizeAdmin(AuthorizationOf(ctx)));
}

grpc::Status CallAuth::ForSender(const grpc::ServerContextBase& ctx,
                                 absl::string_view claimed) const {
  std::string node;
  grpc::Status member = Member(ctx, &node);
  if (!member.ok() || !require_certificate_) return member;
  if (node != claimed) {
    // Both names are member ids (node) or bounded by the message check.
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("a call signed by node ", node, " claims to come from '",
                     claimed.substr(0, 64), "'"));
  }
  return grpc::Status::OK;
}

}  // namespace sesh
