#include "node/membership_controller.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "replication/clock.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "replication/managed_membership.h"
#include "util/log.h"

namespace sesh {
namespace {

int64_t NowMs() { return SteadyClock()->NowMs(); }

// How long a node removed from the membership keeps serving as a replica
// before it stops: peers still on the previous epoch count on its copies
// until they install the new one (a watch event away), and its drain takes
// only a moment.
constexpr int64_t kRemovedLingerMs = 3000;

const char* StateName(internal::MemberState state) {
  switch (state) {
    case internal::JOINING:
      return "JOINING";
    case internal::NORMAL:
      return "NORMAL";
    case internal::LEAVING:
      return "LEAVING";
    default:
      return "UNKNOWN";
  }
}

std::string Describe(const internal::MembershipRecord& record) {
  std::vector<std::string> parts;
  for (const internal::MemberRecord& m : record.members()) {
    parts.push_back(absl::StrCat(m.id(), ":", StateName(m.state())));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace

MembershipController::MembershipController(EtcdMembership* etcd,
                                           CurrentGeneration* current,
                                           SessionStore* store,
                                           HintStore* hints, BuildFn build,
                                           MembershipControllerOptions options,
                                           std::function<void()> on_removed)
    : etcd_(etcd),
      current_(current),
      store_(store),
      hints_(hints),
      build_(std::move(build)),
      options_(options),
      on_removed_(std::move(on_removed)) {}

MembershipController::~MembershipController() {
  Stop();
  retired_.clear();
}

absl::StatusOr<Membership> MembershipController::Start(
    int64_t register_timeout_ms) {
  absl::StatusOr<Membership> registered = etcd_->Register(register_timeout_ms);
  if (!registered.ok()) return registered.status();
  Install(*registered);
  if (current_->Get() == nullptr) {
    return absl::InternalError("no generation could be built");
  }
  return registered;
}

void MembershipController::Run() {
  etcd_->Watch([this] { Poke(); });
  thread_ = std::thread([this] { Loop(); });
}

void MembershipController::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  StopHandoff();
}

void MembershipController::Poke() {
  absl::MutexLock lock(&mu_);
  poked_ = true;
}

void MembershipController::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // A step at least every 250 ms, at once when poked.
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](MembershipController* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                   c->mu_) { return c->poked_ || c->stopping_; },
              this),
          absl::Milliseconds(250));
      if (stopping_) return;
      poked_ = false;
    }
    Step();
  }
}

void MembershipController::Step() {
  // Replaced generations are freed once the calls on them are over.
  while (!retired_.empty() && retired_.front().first <= NowMs()) {
    retired_.pop_front();
  }
  for (auto it = departed_.begin(); it != departed_.end();) {
    if (hints_->Count(it->first) > 0) {
      absl::Status cleared = hints_->Clear(it->first);
      if (!cleared.ok()) {
        LogWarning("membership", "dropping hints for %s: %s", it->first.c_str(),
                   cleared.ToString().c_str());
      }
    }
    it = it->second <= NowMs() ? departed_.erase(it) : std::next(it);
  }
  absl::StatusOr<Membership> fetched = etcd_->Fetch();
  std::shared_ptr<Generation> generation = current_->Get();
  if (!fetched.ok()) {
    absl::MutexLock lock(&mu_);
    const std::string error = std::string(fetched.status().message());
    if (etcd_error_.empty()) {
      LogWarning(
          "membership",
          "etcd unreachable (%s); serving on membership epoch %llu, changes "
          "wait",
          error.c_str(),
          static_cast<unsigned long long>(generation->cluster()->epoch()));
    }
    etcd_error_ = error;
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (!etcd_error_.empty()) {
      LogInfo("membership", "etcd reachable again");
    }
    etcd_error_.clear();
    seen_ = *fetched;
  }
  const std::string& self = generation->cluster()->self_id();
  if (FindMember(fetched->record, self) == nullptr) {
    if (!removed_) {
      removed_ = true;
      removed_ms_ = NowMs();
      LogWarning("membership",
                 "no longer a member at epoch %llu (%s); stopping in %lld ms",
                 static_cast<unsigned long long>(fetched->epoch),
                 Describe(fetched->record).c_str(),
                 static_cast<long long>(kRemovedLingerMs));
      StopHandoff();
    } else if (!removed_reported_ && NowMs() - removed_ms_ >= kRemovedLingerMs) {
      removed_reported_ = true;
      if (on_removed_) on_removed_();
    }
    return;
  }
  if (fetched->epoch > generation->cluster()->epoch()) {
    Install(*fetched);
    generation = current_->Get();
  }
  if (generation->cluster()->epoch() != fetched->epoch) return;
  const PlacementMap* pending = generation->cluster()->pending();
  if (pending != nullptr) {
    MaybeStartHandoff(generation);
    std::vector<std::string> gainers;
    for (int node : Gainers(generation->cluster()->placement(), *pending)) {
      gainers.push_back(generation->cluster()->placement().nodes()[node]);
    }
    // A leaving node reports too, once it holds no hints.
    for (const std::string& id : generation->cluster()->LeavingIds()) {
      gainers.push_back(id);
    }
    absl::StatusOr<bool> advanced = etcd_->Advance(*fetched, gainers);
    if (!advanced.ok()) {
      LogWarning("membership", "advancing the membership change: %s",
                 advanced.status().ToString().c_str());
    } else if (*advanced) {
      Poke();
    }
  } else {
    DropOrphansStep(generation);
  }
}

void MembershipController::Install(const Membership& membership) {
  absl::StatusOr<std::shared_ptr<Generation>> built = build_(membership);
  if (!built.ok()) {
    LogWarning("membership", "cannot install membership epoch %llu (%s): %s",
               static_cast<unsigned long long>(membership.epoch),
               Describe(membership.record).c_str(),
               built.status().ToString().c_str());
    return;
  }
  std::shared_ptr<Generation> next = *built;
  ClusterService::MembershipHooks hooks;
  hooks.stats = [this](v1::MembershipStats* stats) { Stats(stats); };
  hooks.decommission = [this](const std::string& id) {
    return Decommission(id);
  };
  next->cluster_service()->set_membership_hooks(std::move(hooks));
  std::shared_ptr<Generation> old = current_->Get();
  if (old != nullptr) {
    // Serving already: the store holds this node's data.
    next->cluster()->SetServing(old->cluster()->serving());
    next->cluster()->InheritLiveness(*old->cluster());
  }
  old = current_->Swap(next);
  if (old != nullptr) {
    // Writes held for a node that left would never be delivered; calls of
    // the old generation still in flight may add some for a while.
    for (const std::string& id : old->cluster()->placement().nodes()) {
      if (next->cluster()->placement().IndexOf(id) >= 0) continue;
      departed_[id] = NowMs() + options_.retire_after_ms;
    }
    old->Retire();
    retired_.emplace_back(NowMs() + options_.retire_after_ms, std::move(old));
  }
  next->cluster()->Start();
  if (handoff_thread_.joinable()) {
    absl::MutexLock lock(&mu_);
    if (handoff_ != nullptr && handoff_->progress().epoch != membership.epoch) {
      handoff_->Cancel();
    }
  }
  LogInfo("membership", "membership epoch %llu installed: %s%s",
          static_cast<unsigned long long>(membership.epoch),
          Describe(membership.record).c_str(),
          next->cluster()->pending() != nullptr ? " (move under way)" : "");
}

void MembershipController::MaybeStartHandoff(
    const std::shared_ptr<Generation>& generation) {
  const uint64_t epoch = generation->cluster()->epoch();
  {
    absl::MutexLock lock(&mu_);
    if (handoff_reported_ == epoch) return;
    if (handoff_ != nullptr && handoff_->progress().epoch == epoch) return;
  }
  StopHandoff();
  const PlacementMap* pending = generation->cluster()->pending();
  if (!generation->cluster()->leaving() &&
      GainedPartitions(generation->cluster()->placement(), *pending,
                       generation->cluster()->self_index())
          .empty()) {
    absl::MutexLock lock(&mu_);
    handoff_reported_ = epoch;  // nothing to fetch, nothing to report
    return;
  }
  auto handoff = std::make_shared<Handoff>(generation->cluster(), store_,
                                           options_.handoff_max_bytes_per_s);
  {
    absl::MutexLock lock(&mu_);
    handoff_ = handoff;
  }
  LogInfo("membership", "hand-off of epoch %llu started",
          static_cast<unsigned long long>(epoch));
  handoff_thread_ = std::thread([this, generation, handoff, epoch] {
    absl::Status s = handoff->Run();
    if (!s.ok()) {
      // Not done: never reported. The next step starts it again.
      if (!absl::IsCancelled(s)) {
        LogWarning("membership", "hand-off of epoch %llu failed: %s",
                   static_cast<unsigned long long>(epoch),
                   s.ToString().c_str());
        absl::MutexLock lock(&mu_);
        if (handoff_ == handoff) handoff_ = nullptr;
      }
      return;
    }
    s = etcd_->ReportHandoff(epoch);
    while (!s.ok()) {
      // etcd down: the data is here, keep trying to say so.
      LogInfo("membership", "hand-off of epoch %llu: %s",
              static_cast<unsigned long long>(epoch), s.ToString().c_str());
      {
        absl::MutexLock lock(&mu_);
        if (stopping_ || handoff_ != handoff) return;
      }
      absl::SleepFor(absl::Milliseconds(500));
      s = etcd_->ReportHandoff(epoch);
    }
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      handoff_reported_ = epoch;
      poked_ = true;
    }
  });
}

void MembershipController::StopHandoff() {
  {
    absl::MutexLock lock(&mu_);
    if (handoff_ != nullptr) handoff_->Cancel();
  }
  if (handoff_thread_.joinable()) handoff_thread_.join();
}

void MembershipController::DropOrphansStep(
    const std::shared_ptr<Generation>& generation) {
  Cluster* cluster = generation->cluster();
  if (orphans_epoch_ != cluster->epoch()) {
    orphans_epoch_ = cluster->epoch();
    orphans_due_ms_ = NowMs() + options_.orphan_delay_ms;
    orphans_next_ = 0;
    orphans_dropped_ = 0;
  }
  if (NowMs() < orphans_due_ms_ || orphans_next_ >= kPartitionCount) return;
  const uint32_t first = orphans_next_;
  const uint32_t last = std::min<uint32_t>(
      kPartitionCount - 1, first + options_.orphan_partitions_per_step - 1);
  orphans_next_ = last + 1;
  const int self = cluster->self_index();
  // The map only changes with the generation: `cluster` stays this one's.
  absl::StatusOr<int64_t> dropped = store_->DropPartitions(
      first, last,
      [cluster, self](uint32_t p) { return !cluster->WillHold(self, p); });
  if (!dropped.ok()) {
    LogWarning("membership", "deleting moved-away data: %s",
               dropped.status().ToString().c_str());
    return;
  }
  orphans_dropped_ += *dropped;
  if (orphans_next_ >= kPartitionCount && orphans_dropped_ > 0) {
    LogInfo("membership",
            "deleted %lld records of partitions this node no longer holds "
            "(epoch %llu)",
            static_cast<long long>(orphans_dropped_),
            static_cast<unsigned long long>(orphans_epoch_));
  }
}

void MembershipController::Stats(v1::MembershipStats* stats) const {
  absl::MutexLock lock(&mu_);
  stats->set_managed(true);
  for (const internal::MemberRecord& m : seen_.record.members()) {
    v1::MemberStatus* member = stats->add_members();
    member->set_id(m.id());
    member->set_state(StateName(m.state()));
  }
  stats->set_etcd_error(etcd_error_);
  if (handoff_ != nullptr) {
    const HandoffProgress p = handoff_->progress();
    v1::HandoffStats* h = stats->mutable_handoff();
    h->set_epoch(p.epoch);
    h->set_partitions_total(p.partitions_total);
    h->set_partitions_done(p.partitions_done);
    h->set_records_received(p.records_received);
    h->set_bytes_received(p.bytes_received);
    h->set_eta_seconds(p.eta_seconds);
    h->set_done(p.done);
  }
}

absl::StatusOr<uint64_t> MembershipController::Decommission(
    const std::string& node_id) {
  absl::StatusOr<Membership> changed = etcd_->Decommission(node_id);
  if (!changed.ok()) return changed.status();
  Poke();
  return changed->epoch;
}

}  // namespace sesh
