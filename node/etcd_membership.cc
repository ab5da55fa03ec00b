#include "node/etcd_membership.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sesh {
namespace {

using internal::MemberRecord;
using internal::MembershipRecord;

// Between two tries of Register while another change is under way or etcd
// does not answer.
constexpr absl::Duration kRegisterRetry = absl::Milliseconds(200);
// Between two tries of the watch or the keep-alive while etcd is down.
constexpr absl::Duration kReconnectRetry = absl::Milliseconds(500);
// Deadline of the lease revoke in the destructor.
constexpr int64_t kRevokeTimeoutMs = 1000;
// Compare-and-swap tries of Decommission before it gives up (ABORTED).
constexpr int kDecommissionTries = 20;

bool Unanswered(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// The end of the range of keys that start with `prefix` (etcd's range_end).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

EtcdMembership::EtcdMembership(EtcdMembershipOptions options)
    : options_(std::move(options)) {
  for (const std::string& address : options_.endpoints) {
    grpc::ChannelArguments args;
    // Reconnect quickly once etcd is back (gRPC's default backoff grows to
    // two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // gRPC's name for the connect timeout: a slow handshake (etcd just
    // restarted, a loaded machine) must not fail every attempt.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
    // Notice a connection that went silent (the watch would wait forever);
    // etcd refuses pings more often than every 5 s.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    Endpoint endpoint;
    endpoint.address = address;
    endpoint.channel = grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args);
    endpoint.kv = etcdserverpb::KV::NewStub(endpoint.channel);
    endpoint.lease = etcdserverpb::Lease::NewStub(endpoint.channel);
    endpoint.watch = etcdserverpb::Watch::NewStub(endpoint.channel);
    endpoints_.push_back(std::move(endpoint));
  }
}

EtcdMembership::~EtcdMembership() {
  stop_.Notify();
  {
    absl::MutexLock lock(&mu_);
    cancelling_ = true;
    for (grpc::ClientContext* context : contexts_) context->TryCancel();
  }
  if (keep_alive_thread_.joinable()) keep_alive_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    cancelling_ = false;
    lease = lease_id_;
    lease_id_ = 0;
  }
  if (lease == 0) return;
  // Best effort: if it fails, the lease expires after its TTL.
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  OnAnyEndpoint(
      "LeaseRevoke",
      [&](Endpoint& endpoint, grpc::ClientContext* context) {
        etcdserverpb::LeaseRevokeResponse response;
        return endpoint.lease->LeaseRevoke(context, request, &response);
      },
      std::min(options_.call_timeout_ms, kRevokeTimeoutMs))
      .IgnoreError();
}

std::string EtcdMembership::Key(const std::string& suffix) const {
  return absl::StrCat("/sesh/", options_.cluster, "/", suffix);
}

std::string EtcdMembership::endpoint() const {
  if (endpoints_.empty()) return "";
  return endpoints_[current_.load() % endpoints_.size()].address;
}

void EtcdMembership::AddContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  contexts_.push_back(context);
  if (cancelling_) context->TryCancel();
}

void EtcdMembership::RemoveContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), context),
                  contexts_.end());
}

absl::Status EtcdMembership::OnAnyEndpoint(const std::string& what,
                                           const Call& call,
                                           int64_t timeout_ms) {
  if (endpoints_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd ", what, ": no etcd endpoints configured"));
  }
  if (timeout_ms <= 0) timeout_ms = options_.call_timeout_ms;
  const size_t start = current_.load();
  std::vector<std::string> failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (start + i) % endpoints_.size();
    Endpoint& endpoint = endpoints_[index];
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(timeout_ms));
    AddContext(&context);
    const grpc::Status status = call(endpoint, &context);
    RemoveContext(&context);
    if (status.ok() || !Unanswered(status.error_code())) {
      current_.store(index);
      if (status.ok()) return absl::OkStatus();
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("etcd ", what, " at ", endpoint.address,
                                       ": ", status.error_message()));
    }
    failures.push_back(
        absl::StrCat(endpoint.address, ": ",
                     absl::StatusCodeToString(
                         static_cast<absl::StatusCode>(status.error_code())),
                     " ", status.error_message()));
  }
  return absl::UnavailableError(
      absl::StrCat("etcd ", what, ": no endpoint answered (",
                   absl::StrJoin(failures, "; "), ")"));
}

absl::StatusOr<Membership> EtcdMembership::Fetch() {
  etcdserverpb::RangeRequest request;
  request.set_key(Key("members"));
  etcdserverpb::RangeResponse response;
  absl::Status status =
      OnAnyEndpoint(absl::StrCat("Range ", request.key()),
                    [&](Endpoint& endpoint, grpc::ClientContext* context) {
                      return endpoint.kv->Range(context, request, &response);
                    });
  if (!status.ok()) return status;
  if (response.kvs_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no cluster '", options_.cluster,
                                            "' in etcd (no key ", request.key(),
                                            ")"));
  }
  const mvccpb::KeyValue& kv = response.kvs(0);
  Membership membership;
  membership.epoch = static_cast<uint64_t>(kv.mod_revision());
  if (!membership.record.ParseFromString(kv.value())) {
    return absl::DataLossError(absl::StrCat(
        "etcd key ", request.key(), " (revision ", kv.mod_revision(),
        ") is not a MembershipRecord (", kv.value().size(), " bytes)"));
  }
  return membership;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
EtcdMembership::ReadPrefix(const std::string& suffix) {
  etcdserverpb::RangeRequest request;
  request.set_key(Key(suffix));
  request.set_range_end(PrefixEnd(request.key()));
  etcdserverpb::RangeResponse response;
  absl::Status status =
      OnAnyEndpoint(absl::StrCat("Range ", request.key(), "*"),
                    [&](Endpoint& endpoint, grpc::ClientContext* context) {
                      return endpoint.kv->Range(context, request, &response);
                    });
  if (!status.ok()) return status;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const mvccpb::KeyValue& kv : response.kvs()) {
    keys.emplace_back(kv.key().substr(request.key().size()), kv.value());
  }
  return keys;
}

absl::StatusOr<Membership> EtcdMembership::Swap(uint64_t seen_epoch,
                                                const MembershipRecord& next) {
  const std::string key = Key("members");
  etcdserverpb::TxnRequest request;
  // A key that does not exist compares as mod_revision 0.
  etcdserverpb::Compare* compare = request.add_compare();
  compare->set_key(key);
  compare->set_target(etcdserverpb::Compare::MOD);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_mod_revision(static_cast<int64_t>(seen_epoch));
  etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(next.SerializeAsString());
  etcdserverpb::TxnResponse response;
  absl::Status status =
      OnAnyEndpoint(absl::StrCat("Txn on ", key),
                    [&](Endpoint& endpoint, grpc::ClientContext* context) {
                      return endpoint.kv->Txn(context, request, &response);
                    });
  if (!status.ok()) return status;
  if (!response.succeeded()) {
    return absl::AbortedError(absl::StrCat(
        "membership changed concurrently: ", key, " is no longer at epoch ",
        seen_epoch, "; fetch it again"));
  }
  Membership membership;
  membership.epoch = static_cast<uint64_t>(response.header().revision());
  membership.record = next;
  return membership;
}

absl::Status EtcdMembership::GrantLease() {
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(options_.lease_ttl_s);
  etcdserverpb::LeaseGrantResponse granted;
  absl::Status status = OnAnyEndpoint(
      "LeaseGrant", [&](Endpoint& endpoint, grpc::ClientContext* context) {
        return endpoint.lease->LeaseGrant(context, grant, &granted);
      });
  if (!status.ok()) return status;
  if (!granted.error().empty() || granted.id() == 0) {
    return absl::InternalError(
        absl::StrCat("etcd LeaseGrant at ", endpoint(),
                     " granted no lease: ", granted.error()));
  }
  etcdserverpb::PutRequest put;
  put.set_key(Key(absl::StrCat("alive/", options_.self.id)));
  put.set_value(options_.self.address);
  put.set_lease(granted.id());
  etcdserverpb::PutResponse response;
  status = OnAnyEndpoint(absl::StrCat("Put ", put.key()),
                         [&](Endpoint& endpoint, grpc::ClientContext* context) {
                           return endpoint.kv->Put(context, put, &response);
                         });
  if (!status.ok()) return status;  // the lease expires unused
  absl::MutexLock lock(&mu_);
  lease_id_ = granted.id();
  return absl::OkStatus();
}

absl::Status EtcdMembership::KeepAlive() {
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    lease = lease_id_;
  }
  if (lease == 0) return GrantLease();
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  // One request and its answer per stream: each has its deadline, and no
  // stream is left waiting on an etcd that went silent.
  absl::Status status = OnAnyEndpoint(
      "LeaseKeepAlive", [&](Endpoint& endpoint, grpc::ClientContext* context) {
        auto stream = endpoint.lease->LeaseKeepAlive(context);
        if (stream->Write(request) && stream->Read(&response)) {
          stream->WritesDone();
          stream->Finish().ok();  // answered: the stream's end is moot
          return grpc::Status::OK;
        }
        grpc::Status finished = stream->Finish();
        if (finished.ok()) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "keep-alive stream closed without an answer");
        }
        return finished;
      });
  if (!status.ok()) return status;
  if (response.ttl() > 0) return absl::OkStatus();
  // The lease is gone (it lapsed while etcd was unreachable, or was
  // revoked): alive/<self> went with it.
  {
    absl::MutexLock lock(&mu_);
    if (lease_id_ == lease) lease_id_ = 0;
  }
  return GrantLease();
}

void EtcdMembership::KeepAliveLoop() {
  const absl::Duration interval =
      std::max(absl::Milliseconds(options_.lease_ttl_s * 1000 / 3),
               absl::Milliseconds(100));
  absl::Duration wait = interval;
  while (!stop_.WaitForNotificationWithTimeout(wait)) {
    wait = KeepAlive().ok() ? interval : std::min(interval, kReconnectRetry);
  }
}

absl::StatusOr<Membership> EtcdMembership::Register(int64_t timeout_ms) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  absl::Status last = absl::OkStatus();
  auto wait = [&](absl::Status why) {
    last = std::move(why);
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    absl::SleepFor(std::min(left, kRegisterRetry));
    return true;
  };
  auto timed_out = [&]() {
    const std::string text =
        absl::StrCat("registering ", options_.self.id, " in etcd cluster '",
                     options_.cluster, "' did not finish within ", timeout_ms,
                     " ms: ", last.message());
    if (absl::IsUnavailable(last)) return absl::UnavailableError(text);
    return absl::DeadlineExceededError(text);
  };

  {
    absl::MutexLock register_lock(&register_mu_);
    bool started = false;
    {
      absl::MutexLock lock(&mu_);
      started = keep_alive_started_;
    }
    if (!started) {
      while (true) {
        absl::Status granted = GrantLease();
        if (granted.ok()) break;
        if (!absl::IsUnavailable(granted) &&
            !absl::IsDeadlineExceeded(granted)) {
          return granted;
        }
        if (!wait(granted)) return timed_out();
      }
      absl::MutexLock lock(&mu_);
      keep_alive_started_ = true;
      keep_alive_thread_ = std::thread([this] { KeepAliveLoop(); });
    }
  }

  while (true) {
    absl::StatusOr<Membership> seen = Fetch();
    absl::StatusOr<Membership> swapped;
    if (absl::IsNotFound(seen.status())) {
      swapped = Swap(0, Founded(options_.self, options_.replication_factor));
    } else if (!seen.ok()) {
      if (!absl::IsUnavailable(seen.status()) &&
          !absl::IsDeadlineExceeded(seen.status())) {
        return seen.status();
      }
      if (!wait(seen.status())) return timed_out();
      continue;
    } else if (const MemberRecord* me =
                   FindMember(seen->record, options_.self.id)) {
      if (me->address() == options_.self.address &&
          me->peer_address() == options_.self.peer_address) {
        return seen;  // a restart: nothing to change
      }
      MembershipRecord next = seen->record;
      for (MemberRecord& m : *next.mutable_members()) {
        if (m.id() == options_.self.id) {
          m.set_address(options_.self.address);
          m.set_peer_address(options_.self.peer_address);
        }
      }
      swapped = Swap(seen->epoch, next);
    } else {
      absl::StatusOr<MembershipRecord> next =
          WithJoining(seen->record, options_.self);
      if (absl::IsFailedPrecondition(next.status())) {
        // Another change is under way: wait for it to settle.
        if (!wait(next.status())) return timed_out();
        continue;
      }
      if (!next.ok()) return next.status();
      swapped = Swap(seen->epoch, *next);
    }
    if (swapped.ok()) return swapped;
    if (absl::IsAborted(swapped.status())) {
      // Changed since the Fetch: read it again at once.
      last = swapped.status();
      if (absl::Now() >= deadline) return timed_out();
      continue;
    }
    if (!absl::IsUnavailable(swapped.status()) &&
        !absl::IsDeadlineExceeded(swapped.status())) {
      return swapped.status();
    }
    if (!wait(swapped.status())) return timed_out();
  }
}

absl::StatusOr<Membership> EtcdMembership::Decommission(const std::string& id) {
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < kDecommissionTries; ++attempt) {
    absl::StatusOr<Membership> seen = Fetch();
    if (!seen.ok()) return seen.status();
    const MemberRecord* member = FindMember(seen->record, id);
    if (member != nullptr && member->state() == internal::LEAVING) {
      // Already marked (as by a retried call whose answer was lost).
      return seen;
    }
    absl::StatusOr<MembershipRecord> next = WithLeaving(seen->record, id);
    if (!next.ok()) return next.status();
    absl::StatusOr<Membership> swapped = Swap(seen->epoch, *next);
    if (!absl::IsAborted(swapped.status())) return swapped;
    last = swapped.status();
  }
  return absl::AbortedError(absl::StrCat(
      "decommissioning ", id, ": gave up after ", kDecommissionTries,
      " concurrent changes; last: ", last.message()));
}

absl::Status EtcdMembership::ReportHandoff(uint64_t epoch) {
  etcdserverpb::PutRequest put;
  put.set_key(Key(absl::StrCat("handoff/", options_.self.id)));
  put.set_value(absl::StrCat(epoch));
  etcdserverpb::PutResponse response;
  return OnAnyEndpoint(absl::StrCat("Put ", put.key()),
                       [&](Endpoint& endpoint, grpc::ClientContext* context) {
                         return endpoint.kv->Put(context, put, &response);
                       });
}

absl::StatusOr<bool> EtcdMembership::Advance(
    const Membership& seen, const std::vector<std::string>& gainers) {
  if (!InTransition(seen.record)) return false;
  // A joining node that is gone: roll its join back.
  bool any_joining = false;
  for (const MemberRecord& m : seen.record.members()) {
    any_joining = any_joining || m.state() == internal::JOINING;
  }
  if (any_joining) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> alive =
        ReadPrefix("alive/");
    if (!alive.ok()) return alive.status();
    for (const MemberRecord& m : seen.record.members()) {
      if (m.state() != internal::JOINING) continue;
      const bool is_alive =
          std::any_of(alive->begin(), alive->end(),
                      [&](const auto& kv) { return kv.first == m.id(); });
      if (is_alive) continue;
      absl::StatusOr<Membership> swapped =
          Swap(seen.epoch, RolledBack(seen.record, m.id()));
      if (absl::IsAborted(swapped.status())) return false;
      if (!swapped.ok()) return swapped.status();
      return true;
    }
  }
  // Every gainer done: settle.
  if (!gainers.empty()) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> handoffs =
        ReadPrefix("handoff/");
    if (!handoffs.ok()) return handoffs.status();
    for (const std::string& gainer : gainers) {
      const auto it =
          std::find_if(handoffs->begin(), handoffs->end(),
                       [&](const auto& kv) { return kv.first == gainer; });
      uint64_t epoch = 0;
      if (it == handoffs->end() || !absl::SimpleAtoi(it->second, &epoch) ||
          epoch != seen.epoch) {
        return false;
      }
    }
  }
  absl::StatusOr<Membership> swapped = Swap(seen.epoch, Settled(seen.record));
  if (absl::IsAborted(swapped.status())) return false;
  if (!swapped.ok()) return swapped.status();
  return true;
}

void EtcdMembership::Watch(std::function<void()> changed) {
  absl::MutexLock lock(&mu_);
  if (watch_started_) return;
  watch_started_ = true;
  changed_ = std::move(changed);
  watch_thread_ = std::thread([this] { WatchLoop(); });
}

void EtcdMembership::WatchLoop() {
  if (endpoints_.empty()) return;
  const std::string prefix = Key("");
  size_t index = current_.load();
  while (!stop_.HasBeenNotified()) {
    Endpoint& endpoint = endpoints_[index % endpoints_.size()];
    grpc::ClientContext context;  // no deadline: the stream is long-lived
    AddContext(&context);
    {
      auto stream = endpoint.watch->Watch(&context);
      etcdserverpb::WatchRequest request;
      request.mutable_create_request()->set_key(prefix);
      request.mutable_create_request()->set_range_end(PrefixEnd(prefix));
      etcdserverpb::WatchResponse response;
      if (stream->Write(request)) {
        while (stream->Read(&response)) {
          if (response.created()) {
            // (Re)connected: a change may have been missed meanwhile.
            current_.store(index % endpoints_.size());
            changed_();
          }
          if (response.events_size() > 0) changed_();
          if (response.canceled()) break;  // watch again
        }
      }
      context.TryCancel();
      stream->Finish().ok();
    }
    RemoveContext(&context);
    ++index;  // the next endpoint
    stop_.WaitForNotificationWithTimeout(kReconnectRetry);
  }
}

}  // namespace sesh
