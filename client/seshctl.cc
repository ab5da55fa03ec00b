// seshctl: operate a Sesh cluster from the shell, through the C++ client.
//
//   seshctl --addr=h1:7700,h2:7700 --tls_ca=ca.pem --token_file=token
//       create --user=alice role=admin
//   seshctl get ID [--no_touch]            seshctl ring [ID]
//   seshctl --json list-by-user alice      seshctl status
//
// Every call goes over TLS (--tls_ca, and --tls_cert/--tls_key for nodes
// that require a client certificate) with the namespace token of
// --token_file; --insecure talks plaintext to nodes run with --insecure.
// `status` asks every node for its counters: that takes an admin token.
//
// Output is human-readable, or one JSON object with --json (uint64 values
// that may exceed 2^53, version and epoch, are JSON strings so that no
// JSON reader rounds them). Exit status 0 on success; 1 on any error, with
// "seshctl: CODE: message" on stderr.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/sesh/client.h"
#include "client/seshctl_backup.h"
#include "replication/placement.h"
#include "replication/session_id.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7700",
          "Comma-separated host:port list of nodes to ask for the topology "
          "(default 127.0.0.1:7700).");
ABSL_FLAG(std::string, namespace, "default",
          "Namespace of the sessions (default \"default\").");
ABSL_FLAG(bool, json, false,
          "Print one JSON object instead of text (default false).");
ABSL_FLAG(int64_t, deadline_ms, 2000,
          "Deadline of each call, retries included, in milliseconds "
          "(default 2000).");
ABSL_FLAG(std::string, user, "",
          "create: user id of the new session (default none: anonymous).");
ABSL_FLAG(int64_t, idle_timeout_ms, 1800000,
          "create: sliding idle timeout in milliseconds (default 1800000, "
          "30 min).");
ABSL_FLAG(int64_t, absolute_ttl_ms, 0,
          "create: absolute lifetime in milliseconds (default 0: the node's "
          "maximum).");
ABSL_FLAG(bool, no_touch, false,
          "get: read without sliding the expiry (default false).");
ABSL_FLAG(std::vector<std::string>, remove, {},
          "update: comma-separated attribute names to remove (default none).");
ABSL_FLAG(uint64_t, expected_version, 0,
          "update: apply only if the session has this version (default 0: "
          "unconditional).");
ABSL_FLAG(std::string, except, "",
          "destroy-by-user: session id to keep (default none).");
ABSL_FLAG(std::string, except_handle, "",
          "destroy-by-user: handle of the session to keep, from list-by-user "
          "(default none).");
ABSL_FLAG(std::vector<std::string>, attributes, {},
          "list-by-user: comma-separated attribute names to show (default "
          "none).");
ABSL_FLAG(int, page_size, 0,
          "list-by-user: show one page of this many sessions, 1 to 1000, and "
          "its next_page_token (default 0: every page).");
ABSL_FLAG(std::string, page_token, "",
          "list-by-user: show the page that starts at this next_page_token "
          "(default none: the first page).");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA that signed the nodes' certificates; required "
          "unless --insecure (default none).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of a client certificate, for nodes run with "
          "--tls_client_ca; with --tls_key (default none).");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the private key of --tls_cert (default none).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to check in every node's certificate instead of the host of "
          "its address (default none: the host).");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is the namespace token sent with every call "
          "(default none: no token).");
ABSL_FLAG(bool, insecure, false,
          "Plaintext, for nodes run with --insecure; excludes --tls_* "
          "(default false).");

namespace sesh {
namespace {

constexpr char kUsage[] =
    "seshctl [flags] COMMAND [args]\n"
    "An ID or HANDLE may start with '-': put the arguments after \"--\"\n"
    "(seshctl get --no_touch -- ID).\n"
    "Commands:\n"
    "  create [--user=U] [--idle_timeout_ms=MS] [--absolute_ttl_ms=MS] "
    "[k=v ...]\n"
    "  get ID [--no_touch]\n"
    "  update ID [k=v ...] [--remove=k1,k2] [--expected_version=N]\n"
    "  touch ID\n"
    "  rotate ID\n"
    "  destroy ID\n"
    "  list-by-user USER [--attributes=a,b] [--page_size=N] "
    "[--page_token=T]\n"
    "                by handle (ids are never listed)\n"
    "  destroy-handle USER HANDLE   log out one device of USER\n"
    "  destroy-by-user USER [--except=ID | --except_handle=HANDLE]\n"
    "  ring [ID]     nodes, partitions, placement (and ID's preference list)\n"
    "  status        each node's liveness and counters, membership and\n"
    "                hand-off progress (admin token)\n"
    "  decommission NODE   move NODE's partitions away, then remove and stop\n"
    "                it (managed membership, --etcd; admin token)\n"
    "  backup --dir=DIR [--node=ID]   each node (or ID) checkpoints its data\n"
    "                into DIR/<node> on its own filesystem, with a manifest\n"
    "                (admin token; each call gets at least 60 s)\n"
    "  restore --from=DIR --node=ID --data_dir=PATH   copy ID's checkpoint\n"
    "                into a new data dir and check it (local, no RPC)\n"
    "Global flags: --addr, --namespace, --json, --deadline_ms; security:\n"
    "  --tls_ca=FILE (required unless --insecure), --tls_cert=FILE "
    "--tls_key=FILE,\n"
    "  --tls_server_name=NAME, --token_file=FILE, --insecure.";

int Fail(const absl::Status& status) {
  std::cerr << "seshctl: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return 1;
}

int Usage(absl::string_view problem) {
  std::cerr << "seshctl: " << problem << "\nusage: " << kUsage << "\n";
  return 1;
}

// --- JSON ------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // > U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

// A JSON string literal. Valid UTF-8 passes through; a byte that is not part
// of valid UTF-8 (attribute values are bytes) becomes \u00XX, i.e. it reads
// back as the Latin-1 character of that value.
std::string Json(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
      ++i;
    } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      absl::StrAppendFormat(&out, "\\u%04x", c);
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string Json(const SessionData& s) {
  std::vector<std::string> attrs;
  for (const auto& [k, v] : s.attributes) {
    attrs.push_back(absl::StrCat(Json(k), ":", Json(v)));
  }
  return absl::StrCat("{\"id\":", Json(s.id), ",\"handle\":", Json(s.handle),
                      ",\"namespace\":", Json(s.namespace_),
                      ",\"user_id\":", Json(s.user_id), ",\"attributes\":{",
                      absl::StrJoin(attrs, ","),
                      "},\"created_at_ms\":", s.created_at_ms,
                      ",\"last_access_ms\":", s.last_access_ms,
                      ",\"idle_timeout_ms\":", s.idle_timeout_ms,
                      ",\"absolute_deadline_ms\":", s.absolute_deadline_ms,
                      ",\"expires_at_ms\":", s.expires_at_ms, ",\"version\":\"",
                      s.version, "\"}");
}

// --- Text ------------------------------------------------------------------

// Printable ASCII as is, anything else C-escaped.
std::string Text(absl::string_view s) { return absl::CHexEscape(s); }

std::string ExpiresText(int64_t expires_at_ms) {
  const double in_s =
      static_cast<double>(expires_at_ms - absl::ToUnixMillis(absl::Now())) /
      1000.0;
  return absl::StrFormat("%d (in %.1f s)", expires_at_ms, in_s);
}

// Listed sessions have a handle and no id; others an id (and a handle if the
// node reports it).
std::string Text(const SessionData& s) {
  std::string out;
  if (!s.id.empty()) absl::StrAppend(&out, "id: ", s.id, "\n");
  if (!s.handle.empty())
    absl::StrAppend(&out, "handle: ", Text(s.handle), "\n");
  absl::StrAppend(&out, "namespace: ", Text(s.namespace_),
                  "\nuser: ", s.user_id.empty() ? "(none)" : Text(s.user_id),
                  "\nversion: ", s.version, "\ncreated_at: ", s.created_at_ms,
                  "\nlast_access: ", s.last_access_ms,
                  "\nidle_timeout_ms: ", s.idle_timeout_ms,
                  "\nabsolute_deadline: ", s.absolute_deadline_ms,
                  "\nexpires_at: ", ExpiresText(s.expires_at_ms),
                  "\nattributes:");
  if (s.attributes.empty()) out += " (none)";
  for (const auto& [k, v] : s.attributes) {
    absl::StrAppend(&out, "\n  ", Text(k), ": ", Text(v));
  }
  return out;
}

// --- Commands --------------------------------------------------------------

struct Context {
  Client* client;
  std::string ns;
  bool json;
};

void Print(const std::string& s) { std::cout << s << "\n"; }

int PrintSession(const Context& ctx, const absl::StatusOr<SessionData>& s) {
  if (!s.ok()) return Fail(s.status());
  Print(ctx.json ? Json(*s) : Text(*s));
  return 0;
}

// Parses k=v arguments.
absl::StatusOr<std::map<std::string, std::string>> ParseAttributes(
    const std::vector<std::string>& args) {
  std::map<std::string, std::string> attrs;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected key=value, got \"", Text(arg), "\""));
    }
    attrs[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  return attrs;
}

int Create(const Context& ctx, const std::vector<std::string>& args) {
  absl::StatusOr<std::map<std::string, std::string>> attrs =
      ParseAttributes(args);
  if (!attrs.ok()) return Fail(attrs.status());
  CreateOptions options;
  options.user_id = absl::GetFlag(FLAGS_user);
  options.attributes = *std::move(attrs);
  options.idle_timeout_ms = absl::GetFlag(FLAGS_idle_timeout_ms);
  options.absolute_ttl_ms = absl::GetFlag(FLAGS_absolute_ttl_ms);
  return PrintSession(ctx, ctx.client->Create(ctx.ns, options));
}

int Update(const Context& ctx, const std::string& id,
           const std::vector<std::string>& args) {
  absl::StatusOr<std::map<std::string, std::string>> attrs =
      ParseAttributes(args);
  if (!attrs.ok()) return Fail(attrs.status());
  UpdateOptions options;
  options.set = *std::move(attrs);
  options.remove = absl::GetFlag(FLAGS_remove);
  options.expected_version = absl::GetFlag(FLAGS_expected_version);
  return PrintSession(ctx, ctx.client->Update(ctx.ns, id, options));
}

int Touch(const Context& ctx, const std::string& id) {
  absl::StatusOr<int64_t> expires = ctx.client->Touch(ctx.ns, id);
  if (!expires.ok()) return Fail(expires.status());
  Print(ctx.json ? absl::StrCat("{\"expires_at_ms\":", *expires, "}")
                 : absl::StrCat("expires_at: ", ExpiresText(*expires)));
  return 0;
}

int Destroy(const Context& ctx, const std::string& id) {
  absl::Status status = ctx.client->Destroy(ctx.ns, id);
  if (!status.ok()) return Fail(status);
  Print(ctx.json ? "{\"destroyed\":true}" : "destroyed");
  return 0;
}

// Every page (1000 sessions each, as ListByUser), or with --page_size or
// --page_token the one page and its next_page_token.
int ListByUser(const Context& ctx, const std::string& user) {
  ListOptions options;
  options.attributes = absl::GetFlag(FLAGS_attributes);
  options.page_size = absl::GetFlag(FLAGS_page_size);
  options.page_token = absl::GetFlag(FLAGS_page_token);
  const bool one_page = options.page_size != 0 || !options.page_token.empty();
  if (!one_page) options.page_size = 1000;
  std::vector<SessionData> sessions;
  std::string next_page_token;
  for (int page = 0; page < Client::kMaxListPages; ++page) {
    absl::StatusOr<SessionPage> got =
        ctx.client->ListByUserPage(ctx.ns, user, options);
    if (!got.ok()) return Fail(got.status());
    for (SessionData& s : got->sessions) sessions.push_back(std::move(s));
    next_page_token = std::move(got->next_page_token);
    if (one_page || next_page_token.empty()) break;
    options.page_token = next_page_token;
  }
  if (!one_page && !next_page_token.empty()) {
    return Fail(absl::ResourceExhaustedError(absl::StrCat(
        "more than ", Client::kMaxListPages,
        " pages of sessions; list them with --page_size and --page_token")));
  }
  if (ctx.json) {
    std::vector<std::string> items;
    for (const SessionData& s : sessions) items.push_back(Json(s));
    std::string out =
        absl::StrCat("{\"sessions\":[", absl::StrJoin(items, ","), "]");
    if (one_page) {
      absl::StrAppend(&out, ",\"next_page_token\":", Json(next_page_token));
    }
    Print(out + "}");
    return 0;
  }
  Print(absl::StrCat("sessions: ", sessions.size()));
  for (const SessionData& s : sessions) Print("\n" + Text(s));
  if (one_page) {
    Print(absl::StrCat("\nnext_page_token: ", next_page_token.empty()
                                                  ? "(none: last page)"
                                                  : Text(next_page_token)));
  }
  return 0;
}

int DestroyHandle(const Context& ctx, const std::string& user,
                  const std::string& handle) {
  absl::Status status = ctx.client->DestroyByHandle(ctx.ns, user, handle);
  if (!status.ok()) return Fail(status);
  Print(ctx.json ? "{\"destroyed\":true}" : "destroyed");
  return 0;
}

int DestroyByUser(const Context& ctx, const std::string& user) {
  const std::string except_id = absl::GetFlag(FLAGS_except);
  const std::string except_handle = absl::GetFlag(FLAGS_except_handle);
  if (!except_id.empty() && !except_handle.empty()) {
    return Usage("destroy-by-user takes --except or --except_handle, not both");
  }
  absl::StatusOr<int> count =
      except_handle.empty()
          ? ctx.client->DestroyByUser(ctx.ns, user, except_id)
          : ctx.client->DestroyOtherDevices(ctx.ns, user, except_handle);
  if (!count.ok()) return Fail(count.status());
  Print(ctx.json ? absl::StrCat("{\"destroyed_count\":", *count, "}")
                 : absl::StrCat("destroyed: ", *count));
  return 0;
}

int Ring(const Context& ctx, const std::vector<std::string>& args) {
  if (args.size() > 1) return Usage("ring takes at most one ID");
  absl::StatusOr<TopologyInfo> topo = ctx.client->Topology();
  if (!topo.ok()) return Fail(topo.status());
  std::vector<std::string> ids;
  for (const NodeInfo& n : topo->nodes) ids.push_back(n.id);
  absl::StatusOr<PlacementMap> placement =
      PlacementMap::Build(ids, topo->replication_factor);
  if (!placement.ok()) return Fail(placement.status());
  // placement->nodes() is sorted, as is topo->nodes; index by id anyway.
  std::map<std::string, const NodeInfo*> by_id;
  for (const NodeInfo& n : topo->nodes) by_id[n.id] = &n;
  std::vector<uint64_t> primaries(placement->nodes().size(), 0);
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    ++primaries[placement->Primary(p)];
  }

  std::optional<uint32_t> partition;
  if (!args.empty()) {
    absl::StatusOr<std::string> raw = DecodeId(args[0]);
    if (!raw.ok()) return Fail(raw.status());
    partition = PartitionOf(*raw);
  }
  std::vector<std::string> preference;
  if (partition.has_value()) {
    for (uint8_t idx : placement->Replicas(*partition)) {
      preference.push_back(placement->nodes()[idx]);
    }
  }

  if (ctx.json) {
    std::vector<std::string> nodes;
    for (size_t i = 0; i < placement->nodes().size(); ++i) {
      const NodeInfo& n = *by_id[placement->nodes()[i]];
      nodes.push_back(
          absl::StrCat("{\"id\":", Json(n.id), ",\"address\":", Json(n.address),
                       ",\"up\":", n.up ? "true" : "false",
                       ",\"primary_partitions\":", primaries[i], "}"));
    }
    std::string out = absl::StrCat(
        "{\"epoch\":\"", topo->epoch,
        "\",\"partition_count\":", kPartitionCount,
        ",\"replication_factor\":", placement->replication_factor(),
        ",\"nodes\":[", absl::StrJoin(nodes, ","), "]");
    if (partition.has_value()) {
      std::vector<std::string> quoted;
      for (const std::string& id : preference) quoted.push_back(Json(id));
      absl::StrAppend(&out, ",\"partition\":", *partition,
                      ",\"preference_list\":[", absl::StrJoin(quoted, ","),
                      "]");
    }
    Print(out + "}");
    return 0;
  }
  Print(absl::StrCat("epoch: ", topo->epoch, "\npartitions: ", kPartitionCount,
                     "\nreplication_factor: ", placement->replication_factor(),
                     "\nnodes:"));
  for (size_t i = 0; i < placement->nodes().size(); ++i) {
    const NodeInfo& n = *by_id[placement->nodes()[i]];
    Print(absl::StrFormat(
        "  %s %s %s primaries: %d (%.1f%%)", n.id, n.address,
        n.up ? "up" : "DOWN", primaries[i],
        100.0 * static_cast<double>(primaries[i]) / kPartitionCount));
  }
  if (partition.has_value()) {
    Print(absl::StrCat("partition: ", *partition,
                       "\npreference_list: ", absl::StrJoin(preference, ", ")));
  }
  return 0;
}

// Exit 0 whenever the topology could be fetched: a node that does not answer
// is reported, not an error of the command.
// Managed membership in status: members, and the node's hand-off.
std::string MembershipText(const NodeStatsInfo& s) {
  std::vector<std::string> members;
  for (const auto& [id, state] : s.members) {
    members.push_back(absl::StrCat(Text(id), ":", state));
  }
  std::string text = absl::StrCat(" membership: epoch ", s.epoch, " [",
                                  absl::StrJoin(members, " "), "]");
  if (s.handoff.epoch != 0) {
    absl::StrAppend(&text, " hand-off: epoch ", s.handoff.epoch, " ",
                    s.handoff.partitions_done, "/", s.handoff.partitions_total,
                    " partitions, ", s.handoff.records, " records, ",
                    s.handoff.bytes, " bytes",
                    s.handoff.done ? ", done"
                                   : absl::StrFormat(", ETA %.0f s",
                                                     s.handoff.eta_seconds));
  }
  if (!s.etcd_error.empty()) {
    absl::StrAppend(&text, " etcd_error: ", Text(s.etcd_error));
  }
  return text;
}

std::string MembershipJson(const NodeStatsInfo& s) {
  std::vector<std::string> members;
  for (const auto& [id, state] : s.members) {
    members.push_back(
        absl::StrCat("{\"id\":", Json(id), ",\"state\":", Json(state), "}"));
  }
  return absl::StrCat(
      "{\"managed\":", s.managed ? "true" : "false", ",\"epoch\":\"", s.epoch,
      "\",\"members\":[", absl::StrJoin(members, ","),
      "],\"handoff\":{\"epoch\":\"", s.handoff.epoch,
      "\",\"partitions_total\":", s.handoff.partitions_total,
      ",\"partitions_done\":", s.handoff.partitions_done,
      ",\"records\":", s.handoff.records, ",\"bytes\":", s.handoff.bytes,
      ",\"eta_seconds\":", absl::StrFormat("%.1f", s.handoff.eta_seconds),
      ",\"done\":", s.handoff.done ? "true" : "false",
      "},\"etcd_error\":", Json(s.etcd_error), "}");
}

int Decommission(const Context& ctx, const std::string& node_id) {
  absl::StatusOr<uint64_t> epoch = ctx.client->Decommission(node_id);
  if (!epoch.ok()) return Fail(epoch.status());
  if (ctx.json) {
    Print(absl::StrCat("{\"node\":", Json(node_id), ",\"state\":\"LEAVING\","
                       "\"epoch\":\"", *epoch, "\"}"));
  } else {
    Print(absl::StrCat(Text(node_id), " LEAVING at epoch ", *epoch,
                       "; its partitions move now (seshctl status shows the "
                       "hand-off), then it stops"));
  }
  return 0;
}

int Status(const Context& ctx) {
  absl::StatusOr<TopologyInfo> topo = ctx.client->Topology();
  if (!topo.ok()) return Fail(topo.status());
  std::vector<std::string> json_nodes;
  if (!ctx.json) {
    Print(absl::StrCat("epoch: ", topo->epoch,
                       "\nreplication_factor: ", topo->replication_factor,
                       "\nnodes: ", topo->nodes.size()));
  }
  for (const NodeInfo& n : topo->nodes) {
    absl::StatusOr<NodeStatsInfo> stats = ctx.client->NodeStats(n.id);
    if (ctx.json) {
      std::string node =
          absl::StrCat("{\"id\":", Json(n.id), ",\"address\":", Json(n.address),
                       ",\"up\":", n.up ? "true" : "false");
      if (stats.ok()) {
        absl::StrAppend(
            &node, ",\"serving\":", stats->serving ? "true" : "false",
            ",\"requests_served\":", stats->requests_served,
            ",\"requests_forwarded\":", stats->requests_forwarded,
            ",\"stored_sessions\":", stats->stored_sessions,
            ",\"batch_get_calls\":", stats->batch_get_calls,
            ",\"pending_touches\":", stats->pending_touches,
            ",\"repair_reads\":", stats->repair_reads,
            ",\"storage_busy\":", stats->storage_busy ? "true" : "false",
            ",\"hints_queued\":", stats->hints_queued,
            ",\"touches_requested\":", stats->touches_requested,
            ",\"touches_written\":", stats->touches_written,
            ",\"anti_entropy\":{\"passes\":", stats->anti_entropy_passes,
            ",\"next_partition\":", stats->anti_entropy_next_partition,
            ",\"compared\":", stats->anti_entropy_compared,
            ",\"repaired\":", stats->anti_entropy_repaired,
            ",\"records\":", stats->anti_entropy_records, "}",
            ",\"membership_error\":", Json(stats->membership_error),
            ",\"membership\":", MembershipJson(*stats));
      } else {
        absl::StrAppend(&node,
                        ",\"stats_error\":", Json(stats.status().ToString()));
      }
      json_nodes.push_back(node + "}");
      continue;
    }
    std::string line =
        absl::StrCat(n.id, " ", n.address, " ", n.up ? "up" : "DOWN");
    if (stats.ok()) {
      absl::StrAppend(&line, stats->serving ? " serving" : " NOT-SERVING",
                      " requests_served: ", stats->requests_served,
                      " requests_forwarded: ", stats->requests_forwarded,
                      " stored_sessions: ", stats->stored_sessions,
                      " batch_get_calls: ", stats->batch_get_calls,
                      " pending_touches: ", stats->pending_touches,
                      " repair_reads: ", stats->repair_reads,
                      stats->storage_busy ? " storage: busy" : " storage: idle",
                      " hints_queued: ", stats->hints_queued,
                      " touches_requested: ", stats->touches_requested,
                      " touches_written: ", stats->touches_written,
                      " anti_entropy: pass ", stats->anti_entropy_passes,
                      " at partition ", stats->anti_entropy_next_partition,
                      ", compared ", stats->anti_entropy_compared,
                      ", repaired ", stats->anti_entropy_repaired,
                      " (", stats->anti_entropy_records, " records)");
      if (!stats->membership_error.empty()) {
        absl::StrAppend(&line,
                        " membership_error: ", Text(stats->membership_error));
      }
      if (stats->managed) absl::StrAppend(&line, MembershipText(*stats));
    } else {
      absl::StrAppend(&line, " stats_error: ",
                      absl::StatusCodeToString(stats.status().code()), ": ",
                      stats.status().message());
    }
    Print(line);
  }
  if (ctx.json) {
    Print(absl::StrCat("{\"epoch\":\"", topo->epoch,
                       "\",\"replication_factor\":", topo->replication_factor,
                       ",\"nodes\":[", absl::StrJoin(json_nodes, ","), "]}"));
  }
  return 0;
}

int Run(const std::vector<std::string>& argv) {
  if (argv.empty()) return Usage("missing command");
  const std::string& command = argv[0];
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  static const std::set<std::string> kCommands = {
      "create",          "get",     "update",       "touch",
      "rotate",          "destroy", "list-by-user", "destroy-handle",
      "destroy-by-user", "ring",    "status", "decommission",
      "backup",          "restore"};
  if (kCommands.count(command) == 0) {
    return Usage(absl::StrCat("unknown command \"", Text(command), "\""));
  }

  if (command == "restore") {
    if (!args.empty()) return Usage("restore takes flags only");
    return RunRestore(absl::GetFlag(FLAGS_json), &Json);
  }
  ClientOptions options;
  options.seeds =
      absl::StrSplit(absl::GetFlag(FLAGS_addr), ',', absl::SkipWhitespace());
  options.deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  // A checkpoint flushes the node's memtables first.
  if (command == "backup") {
    options.deadline = std::max(options.deadline, absl::Seconds(60));
  }
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  const std::string tls_ca = absl::GetFlag(FLAGS_tls_ca);
  if (!options.insecure && tls_ca.empty()) {
    return Usage(
        "--tls_ca=FILE is required (or --insecure, for nodes run with "
        "--insecure)");
  }
  absl::StatusOr<ClientOptions> loaded = LoadTlsFiles(
      std::move(options), tls_ca, absl::GetFlag(FLAGS_tls_cert),
      absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_token_file));
  if (!loaded.ok()) return Fail(loaded.status());
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*loaded);
  if (!client.ok()) return Fail(client.status());
  const Context ctx{client->get(), absl::GetFlag(FLAGS_namespace),
                    absl::GetFlag(FLAGS_json)};

  auto need_id = [&](size_t max_args) -> bool {
    return !args.empty() && args.size() <= max_args;
  };
  if (command == "create") return Create(ctx, args);
  if (command == "get") {
    if (!need_id(1)) return Usage("get takes one ID");
    return PrintSession(
        ctx, ctx.client->Get(ctx.ns, args[0], !absl::GetFlag(FLAGS_no_touch)));
  }
  if (command == "update") {
    if (!need_id(args.size())) return Usage("update takes an ID");
    return Update(ctx, args[0],
                  std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (command == "touch") {
    if (!need_id(1)) return Usage("touch takes one ID");
    return Touch(ctx, args[0]);
  }
  if (command == "rotate") {
    if (!need_id(1)) return Usage("rotate takes one ID");
    return PrintSession(ctx, ctx.client->Rotate(ctx.ns, args[0]));
  }
  if (command == "destroy") {
    if (!need_id(1)) return Usage("destroy takes one ID");
    return Destroy(ctx, args[0]);
  }
  if (command == "list-by-user") {
    if (!need_id(1)) return Usage("list-by-user takes one USER");
    return ListByUser(ctx, args[0]);
  }
  if (command == "destroy-handle") {
    if (args.size() != 2) return Usage("destroy-handle takes USER HANDLE");
    return DestroyHandle(ctx, args[0], args[1]);
  }
  if (command == "destroy-by-user") {
    if (!need_id(1)) return Usage("destroy-by-user takes one USER");
    return DestroyByUser(ctx, args[0]);
  }
  if (command == "ring") return Ring(ctx, args);
  if (command == "decommission") {
    if (args.size() != 1) return Usage("decommission takes one NODE");
    return Decommission(ctx, args[0]);
  }
  if (command == "backup") {
    if (!args.empty()) return Usage("backup takes flags only");
    return RunBackup(ctx.client, ctx.json, &Json);
  }
  if (command == "status") {
    if (!args.empty()) return Usage("status takes no arguments");
    return Status(ctx);
  }
  return Usage(absl::StrCat("unknown command \"", Text(command), "\""));
}

}  // namespace
}  // namespace sesh

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(sesh::kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return sesh::Run(
      std::vector<std::string>(positional.begin() + 1, positional.end()));
}
