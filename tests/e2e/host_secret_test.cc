// The host's secret lookup: environment first, then NAME_FILE, which must be 0600 or 0400.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "plugin_loader.h"

namespace {

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kam-secret-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    unsetenv("KAM_TEST_TOKEN");
    unsetenv("KAM_TEST_TOKEN_FILE");
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    unsetenv("KAM_TEST_TOKEN");
    unsetenv("KAM_TEST_TOKEN_FILE");
  }
  std::string WriteSecret(const std::string& content, mode_t mode) {
    std::string path = (dir_ / "token").string();
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(SecretTest, EnvironmentVariableWins) {
  setenv("KAM_TEST_TOKEN", "from-env", 1);
  setenv("KAM_TEST_TOKEN_FILE", WriteSecret("from-file", 0600).c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why), "from-env");
}

TEST_F(SecretTest, FileWithMode0600IsReadWithoutTrailingNewline) {
  setenv("KAM_TEST_TOKEN_FILE", WriteSecret("pat-na1-secret\n", 0600).c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why), "pat-na1-secret");
}

TEST_F(SecretTest, FileReadableByOthersIsRefusedWithTheReason) {
  setenv("KAM_TEST_TOKEN_FILE", WriteSecret("pat-na1-secret", 0644).c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why), std::nullopt);
  EXPECT_NE(why.find("0644"), std::string::npos) << why;
  EXPECT_NE(why.find("chmod 600"), std::string::npos) << why;
  EXPECT_EQ(why.find("pat-na1-secret"), std::string::npos) << "the secret leaked: " << why;
}

TEST_F(SecretTest, FileReadableByGroupIsRefused) {
  setenv("KAM_TEST_TOKEN_FILE", WriteSecret("x", 0640).c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why), std::nullopt);
  EXPECT_NE(why.find("0640"), std::string::npos) << why;
}

TEST_F(SecretTest, MissingSecretSaysWhereToPutIt) {
  std::string why;
  bool absent = false;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why, &absent), std::nullopt);
  EXPECT_NE(why.find("KAM_TEST_TOKEN_FILE"), std::string::npos) << why;
  EXPECT_TRUE(absent) << "not set at all: the host logs it as a warning";
}

TEST_F(SecretTest, ARefusedSecretIsNotAbsent) {
  setenv("KAM_TEST_TOKEN_FILE", WriteSecret("pat-na1-secret", 0644).c_str(), 1);
  std::string why;
  bool absent = true;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why, &absent), std::nullopt);
  EXPECT_FALSE(absent) << "set but refused: the host logs it as an error";
}

TEST_F(SecretTest, DirectoryIsRefused) {
  setenv("KAM_TEST_TOKEN_FILE", dir_.c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_TEST_TOKEN", &why), std::nullopt);
  EXPECT_FALSE(why.empty());
}

}  // namespace
