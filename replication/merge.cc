#include "replication/merge.h"

#include <algorithm>
#include <tuple>

namespace sesh {
namespace {

using internal::Attribute;
using internal::SessionRecord;

// A total order on register values, so that the winner never depends on the
// order of arrival even for two different writes with equal stamps.
bool AttributeLess(const Attribute& x, const Attribute& y) {
  return std::make_tuple(x.hlc(), x.writer(), x.removed(), x.value()) <
         std::make_tuple(y.hlc(), y.writer(), y.removed(), y.value());
}

// The creation-time fields never change after Create, so replicas agree on
// them. Should two copies ever disagree, the smaller tuple wins everywhere.
auto CreationFields(const SessionRecord& r) {
  return std::make_tuple(r.created_at_ms(), r.absolute_deadline_ms(),
                         r.idle_timeout_ms(), r.namespace_(), r.user_id());
}

}  // namespace

SessionRecord Merge(const SessionRecord& a, const SessionRecord& b) {
  if (a.id().empty()) return b;
  if (b.id().empty()) return a;
  const bool b_first = CreationFields(b) < CreationFields(a);
  SessionRecord out = b_first ? b : a;
  const SessionRecord& other = b_first ? a : b;
  out.set_last_access_ms(std::max(a.last_access_ms(), b.last_access_ms()));
  out.set_version(std::max(a.version(), b.version()));
  if (a.destroyed() || b.destroyed()) {
    out.set_destroyed(true);
    out.clear_attributes();
    return out;
  }
  for (const auto& [key, attr] : other.attributes()) {
    auto it = out.mutable_attributes()->find(key);
    if (it == out.mutable_attributes()->end()) {
      (*out.mutable_attributes())[key] = attr;
    } else if (AttributeLess(it->second, attr)) {
      it->second = attr;
    }
  }
  return out;
}

bool SameState(const SessionRecord& a, const SessionRecord& b) {
  if (a.id() != b.id() || a.namespace_() != b.namespace_() ||
      a.user_id() != b.user_id() || a.created_at_ms() != b.created_at_ms() ||
      a.last_access_ms() != b.last_access_ms() ||
      a.idle_timeout_ms() != b.idle_timeout_ms() ||
      a.absolute_deadline_ms() != b.absolute_deadline_ms() ||
      a.version() != b.version() || a.destroyed() != b.destroyed() ||
      a.attributes_size() != b.attributes_size()) {
    return false;
  }
  for (const auto& [key, attr] : a.attributes()) {
    auto it = b.attributes().find(key);
    if (it == b.attributes().end()) return false;
    const Attribute& other = it->second;
    if (attr.hlc() != other.hlc() || attr.writer() != other.writer() ||
        attr.removed() != other.removed() || attr.value() != other.value()) {
      return false;
    }
  }
  return true;
}

}  // namespace sesh
