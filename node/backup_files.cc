#include "node/backup_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"

namespace sesh {
namespace {

namespace fs = std::filesystem;

absl::Status FsError(absl::string_view what, const std::error_code& error) {
  return absl::InternalError(absl::StrCat(what, ": ", error.message()));
}

// True if `path` exists and is not an empty directory.
bool Occupied(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return error.value() != 0;
  return !fs::is_directory(path, error) || !fs::is_empty(path, error) ||
         error.value() != 0;
}

bool IsPlainName(absl::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         !absl::StrContains(name, '/') && !absl::StrContains(name, '\0');
}

}  // namespace

std::string CheckpointPath(const std::string& dir, const std::string& node_id) {
  return absl::StrCat(absl::StripSuffix(dir, "/"), "/", node_id);
}

std::string ManifestPath(const std::string& dir, const std::string& node_id) {
  return absl::StrCat(CheckpointPath(dir, node_id), ".manifest.json");
}

absl::Status CheckBackupTarget(const std::string& dir,
                               const std::string& node_id,
                               const std::string& data_dir) {
  if (!IsPlainName(node_id)) {
    return absl::InvalidArgumentError("the node id is not a file name");
  }
  if (dir.empty() || dir[0] != '/') {
    return absl::InvalidArgumentError(
        "the backup dir must be an absolute path");
  }
  // Repeated slashes are harmless; "." and ".." could lead anywhere.
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(
          "the backup dir must be normalized: no '.' or '..' components");
    }
  }
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error)) {
    return absl::InvalidArgumentError(
        "the backup dir exists and is not a directory");
  }
  // Compared after resolving symbolic links: a backup inside the data dir
  // would be copied into every later backup and restore.
  const fs::path resolved = fs::weakly_canonical(dir, error);
  const fs::path data = fs::weakly_canonical(data_dir, error);
  if (error) return FsError("resolving the backup dir", error);
  const std::string data_prefix = absl::StrCat(data.string(), "/");
  if (resolved == data ||
      absl::StartsWith(absl::StrCat(resolved.string(), "/"), data_prefix)) {
    return absl::InvalidArgumentError(
        "the backup dir is inside the node's data dir");
  }
  if (Occupied(CheckpointPath(dir, node_id)) ||
      fs::exists(ManifestPath(dir, node_id), error)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a backup of ", node_id, " is already in ", dir,
        " (or something else is at ", CheckpointPath(dir, node_id), ")"));
  }
  return absl::OkStatus();
}

absl::Status CountFiles(const std::string& path, uint64_t* files,
                        uint64_t* bytes) {
  *files = 0;
  *bytes = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(path, error), end;
       !error && it != end; it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    const uintmax_t size = it->file_size(error);
    if (error) break;
    ++*files;
    *bytes += size;
  }
  if (error) return FsError(absl::StrCat("listing ", path), error);
  return absl::OkStatus();
}

absl::Status WriteManifest(const std::string& path,
                           const v1::BackupManifest& manifest) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto printed =
      google::protobuf::util::MessageToJsonString(manifest, &json, options);
  if (!printed.ok()) {
    return absl::InternalError(absl::StrCat("encoding the manifest: ",
                                            printed.message().ToString()));
  }
  const std::string partial = absl::StrCat(path, ".partial");
  {
    std::ofstream out(partial, std::ios::trunc);
    out << json;
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("writing ", partial));
    }
  }
  std::error_code error;
  fs::rename(partial, path, error);
  if (error) {
    fs::remove(partial, error);
    return FsError(absl::StrCat("renaming ", partial), error);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::BackupManifest> ReadManifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no manifest at ", path));
  std::stringstream text;
  text << in.rdbuf();
  v1::BackupManifest manifest;
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(text.str(), &manifest);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the manifest at ", path, " does not parse: ",
        parsed.message().ToString()));
  }
  return manifest;
}

absl::StatusOr<v1::BackupManifest> RestoreNode(const std::string& from,
                                               const std::string& node_id,
                                               const std::string& data_dir) {
  if (from.empty() || data_dir.empty() || !IsPlainName(node_id)) {
    return absl::InvalidArgumentError(
        "restore needs a backup dir, a node id and a data dir");
  }
  absl::StatusOr<v1::BackupManifest> manifest =
      ReadManifest(ManifestPath(from, node_id));
  if (!manifest.ok()) return manifest.status();
  if (manifest->node_id() != node_id) {
    return absl::DataLossError(absl::StrCat(
        "the manifest of ", node_id, " names node ", manifest->node_id()));
  }
  const std::string source = CheckpointPath(from, node_id);
  std::error_code error;
  if (!fs::is_directory(source, error)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", source));
  }
  if (Occupied(data_dir)) {
    return absl::AlreadyExistsError(absl::StrCat(
        data_dir, " exists and is not empty: restore only into a new or "
                  "empty data dir"));
  }
  const bool existed = fs::exists(data_dir, error);
  // Puts data_dir back as it was (absent, or an empty directory).
  auto undo = [&] {
    std::error_code ignored;
    fs::remove_all(data_dir, ignored);
    if (existed) fs::create_directory(data_dir, ignored);
  };
  fs::create_directories(data_dir, error);
  if (!error) fs::copy(source, data_dir, fs::copy_options::recursive, error);
  if (error) {
    undo();
    return FsError(absl::StrCat("copying ", source, " to ", data_dir), error);
  }
  uint64_t files = 0;
  uint64_t bytes = 0;
  absl::Status counted = CountFiles(data_dir, &files, &bytes);
  if (!counted.ok()) {
    undo();
    return counted;
  }
  if (files != manifest->files() || bytes != manifest->bytes()) {
    undo();
    return absl::DataLossError(absl::StrCat(
        "the copy of ", source, " has ", files, " files and ", bytes,
        " bytes; the manifest says ", manifest->files(), " and ",
        manifest->bytes()));
  }
  return manifest;
}

}  // namespace sesh
