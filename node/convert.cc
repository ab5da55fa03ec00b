#include "node/convert.h"

#include <string>

#include "auth/session_handle.h"
#include "replication/session_id.h"

namespace sesh {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

void ToPublicSession(const Record& record, v1::Session* out) {
  out->set_id(EncodeId(record.id()));
  out->set_namespace_(record.namespace_());
  out->set_user_id(record.user_id());
  for (const auto& [key, attr] : record.attributes()) {
    if (!attr.removed()) (*out->mutable_attributes())[key] = attr.value();
  }
  out->set_created_at_ms(record.created_at_ms());
  out->set_last_access_ms(record.last_access_ms());
  out->set_idle_timeout_ms(record.idle_timeout_ms());
  out->set_absolute_deadline_ms(record.absolute_deadline_ms());
  out->set_version(record.version());
  out->set_expires_at_ms(ExpiresAtMs(record));
  out->set_handle(SessionHandle(record.id()));
}

}  // namespace sesh
