#include "node/backup_files.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

namespace fs = std::filesystem;
using absl::StatusCode;

class BackupFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(
        ::testing::TempDir(), "/backup_files_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = root_ + "/data";
    backup_ = root_ + "/backup";
    fs::remove_all(root_);
    fs::create_directories(data_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void WriteFile(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
  }

  // A backup of n1 in backup_: two files, 5 bytes, and its manifest.
  void MakeBackup() {
    WriteFile(CheckpointPath(backup_, "n1") + "/CURRENT", "abc");
    WriteFile(CheckpointPath(backup_, "n1") + "/hints/CURRENT", "de");
    v1::BackupManifest manifest;
    manifest.set_node_id("n1");
    manifest.set_records(7);
    manifest.set_files(2);
    manifest.set_bytes(5);
    ASSERT_THAT(WriteManifest(ManifestPath(backup_, "n1"), manifest), IsOk());
  }

  std::string root_;
  std::string data_;
  std::string backup_;
};

TEST_F(BackupFilesTest, CheckBackupTarget_NewDir_Ok) {
  EXPECT_THAT(CheckBackupTarget(root_ + "/backup", "n1", data_), IsOk());
  EXPECT_THAT(CheckBackupTarget(root_ + "/backup/", "n1", data_), IsOk());
  EXPECT_FALSE(fs::exists(root_ + "/backup"));
}

TEST_F(BackupFilesTest, CheckBackupTarget_BadDir_InvalidArgument) {
  for (const std::string& dir :
       {std::string(""), std::string("backup"), std::string("./backup"),
        root_ + "/a/../backup", root_ + "/./backup", root_ + "/a/..",
        data_, data_ + "/backups"}) {
    EXPECT_THAT(CheckBackupTarget(dir, "n1", data_),
                StatusIs(StatusCode::kInvalidArgument))
        << dir;
  }
  WriteFile(root_ + "/file", "x");
  EXPECT_THAT(CheckBackupTarget(root_ + "/file", "n1", data_),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckBackupTarget(root_ + "/backup", "../n1", data_),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(BackupFilesTest, CheckBackupTarget_SymlinkIntoDataDir_InvalidArgument) {
  fs::create_directory_symlink(data_, root_ + "/link");
  EXPECT_THAT(CheckBackupTarget(root_ + "/link/backup", "n1", data_),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(BackupFilesTest, CheckBackupTarget_NodeAlreadyBackedUp_AlreadyExists) {
  MakeBackup();
  EXPECT_THAT(CheckBackupTarget(backup_, "n1", data_),
              StatusIs(StatusCode::kAlreadyExists));
  // Another node may share the directory.
  EXPECT_THAT(CheckBackupTarget(backup_, "n2", data_), IsOk());
  // An empty directory at the target is no backup.
  fs::create_directories(CheckpointPath(backup_, "n3"));
  EXPECT_THAT(CheckBackupTarget(backup_, "n3", data_), IsOk());
  WriteFile(CheckpointPath(backup_, "n3") + "/x", "y");
  EXPECT_THAT(CheckBackupTarget(backup_, "n3", data_),
              StatusIs(StatusCode::kAlreadyExists));
}

TEST_F(BackupFilesTest, WriteManifest_ThenRead_SameManifest) {
  v1::BackupManifest manifest;
  manifest.set_node_id("n2");
  manifest.set_taken_at_ms(1'700'000'000'123);
  manifest.set_epoch(42);
  manifest.set_records(uint64_t{1} << 60);
  v1::Node* member = manifest.add_members();
  member->set_id("n1");
  member->set_address("127.0.0.1:7701");
  const std::string path = root_ + "/m.json";
  ASSERT_THAT(WriteManifest(path, manifest), IsOk());
  absl::StatusOr<v1::BackupManifest> read = ReadManifest(path);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->SerializeAsString(), manifest.SerializeAsString());
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST_F(BackupFilesTest, ReadManifest_Missing_NotFound_Garbage_DataLoss) {
  EXPECT_THAT(ReadManifest(root_ + "/none.json"),
              StatusIs(StatusCode::kNotFound));
  WriteFile(root_ + "/bad.json", "{not json");
  EXPECT_THAT(ReadManifest(root_ + "/bad.json"),
              StatusIs(StatusCode::kDataLoss));
}

TEST_F(BackupFilesTest, RestoreNode_IntoNewDir_CopiesEveryFile) {
  MakeBackup();
  const std::string target = root_ + "/restored/n1";
  absl::StatusOr<v1::BackupManifest> manifest =
      RestoreNode(backup_, "n1", target);
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->records(), 7u);
  uint64_t files = 0, bytes = 0;
  ASSERT_THAT(CountFiles(target, &files, &bytes), IsOk());
  EXPECT_EQ(files, 2u);
  EXPECT_EQ(bytes, 5u);
  EXPECT_TRUE(fs::exists(target + "/hints/CURRENT"));
}

TEST_F(BackupFilesTest, RestoreNode_IntoNonEmptyDir_AlreadyExistsUnchanged) {
  MakeBackup();
  const std::string target = root_ + "/restored";
  WriteFile(target + "/OLD", "old");
  EXPECT_THAT(RestoreNode(backup_, "n1", target),
              StatusIs(StatusCode::kAlreadyExists));
  uint64_t files = 0, bytes = 0;
  ASSERT_THAT(CountFiles(target, &files, &bytes), IsOk());
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(bytes, 3u);
}

TEST_F(BackupFilesTest, RestoreNode_NoBackupOfNode_NotFound) {
  MakeBackup();
  EXPECT_THAT(RestoreNode(backup_, "n2", root_ + "/restored"),
              StatusIs(StatusCode::kNotFound));
  EXPECT_FALSE(fs::exists(root_ + "/restored"));
}

TEST_F(BackupFilesTest, RestoreNode_CopyDiffersFromManifest_DataLossRemoved) {
  MakeBackup();
  fs::remove(CheckpointPath(backup_, "n1") + "/hints/CURRENT");
  const std::string target = root_ + "/restored";
  fs::create_directories(target);
  EXPECT_THAT(RestoreNode(backup_, "n1", target),
              StatusIs(StatusCode::kDataLoss));
  // Left as it was: an empty directory.
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_TRUE(fs::is_empty(target));
}

}  // namespace
}  // namespace sesh
