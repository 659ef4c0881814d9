// The host's side of the secret rules: only KAM_ names are handed out, and a NAME_FILE secret
// file that is a symbolic link is refused (O_NOFOLLOW).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "plugin_loader.h"

namespace {

TEST(HostSecrets, ANameNotStartingWithKamIsNeverHandedOut) {
  setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value", 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("AWS_SECRET_ACCESS_KEY", &why), std::nullopt);
  EXPECT_NE(why.find("KAM_"), std::string::npos) << why;
  unsetenv("AWS_SECRET_ACCESS_KEY");
}

TEST(HostSecrets, ASecretFileThatIsASymbolicLinkIsRefused) {
  char tmpl[] = "/tmp/kam_host_secret_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string real = dir + "/real.token", link = dir + "/link.token";
  std::ofstream(real) << "link-target-secret";
  ASSERT_EQ(chmod(real.c_str(), 0600), 0);
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  unsetenv("KAM_LINK_TEST");
  setenv("KAM_LINK_TEST_FILE", link.c_str(), 1);
  std::string why;
  EXPECT_EQ(kam::host::ReadSecret("KAM_LINK_TEST", &why), std::nullopt);
  EXPECT_NE(why.find(link), std::string::npos) << why;
  setenv("KAM_LINK_TEST_FILE", real.c_str(), 1);  // the control: the file itself is accepted
  EXPECT_EQ(kam::host::ReadSecret("KAM_LINK_TEST", &why), "link-target-secret") << why;
  unsetenv("KAM_LINK_TEST_FILE");
  std::filesystem::remove_all(dir);
}

}  // namespace
