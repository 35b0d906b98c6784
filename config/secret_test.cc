// Secret files: only a regular file (through symlinks) of at most 64 KiB is
// read; a FIFO or a device is refused at once, and a file others may read is
// worth a warning. check_secrets reports each at the key that names it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>

#include "config/config.h"
#include "config/source_schema.h"

namespace keywarden {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// config/ knows no source type: two of the test's own, with secrets.
const SourceSchema kPushed{"pushed", {{"token", ValueKind::secret, true, {}, {}, "bearer"}}, {}, "a test type"};
const SourceSchema kPolled{"polled",
                           {{"url", ValueKind::url, true, {}, {}, "where"},
                            {"token", ValueKind::secret, true, {}, {}, "API token"},
                            {"hook_secret", ValueKind::secret, false, {}, {}, "hook header"}},
                           {},
                           "another"};
const SourceSchemas kSchemas{&kPushed, &kPolled};

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keywarden-secret-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    return p;
  }

  fs::path fifo(const std::string& name) {
    const fs::path p = dir_ / name;
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  }

  // read_secret(ref)'s error, within five seconds: a FIFO must not block it.
  // Should it block, a writer is opened and closed so that the test ends.
  static std::string error_of(const SecretRef& ref) {
    auto attempt = std::async(std::launch::async, [ref]() -> std::string {
      try {
        (void)read_secret(ref);
        return "(no error)";
      } catch (const std::exception& e) {
        return e.what();
      }
    });
    if (attempt.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "read_secret blocked on " << ref.file;
      const int w = ::open(ref.file.c_str(), O_WRONLY | O_NONBLOCK);
      if (w >= 0) ::close(w);
    }
    return attempt.get();
  }

  fs::path dir_;
};

TEST_F(SecretTest, AFifoIsRefusedWithoutBlocking) {
  const fs::path f = fifo("token");
  const std::string e = error_of(SecretRef{f, ""});
  EXPECT_NE(e.find(f.string() + " is a FIFO"), std::string::npos) << e;
  EXPECT_NE(e.find("regular file"), std::string::npos) << e;
}

TEST_F(SecretTest, DevZeroIsRefusedUnread) {
  const std::string e = error_of(SecretRef{"/dev/zero", ""});
  EXPECT_NE(e.find("/dev/zero is a character device"), std::string::npos) << e;
}

TEST_F(SecretTest, ADirectoryIsRefused) {
  const std::string e = error_of(SecretRef{dir_, ""});
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
}

TEST_F(SecretTest, ASymlinkToAFifoIsRefusedToo) {
  const fs::path target = fifo("real");
  fs::create_symlink(target, dir_ / "link");
  const std::string e = error_of(SecretRef{dir_ / "link", ""});
  EXPECT_NE(e.find("is a FIFO"), std::string::npos) << e;
}

TEST_F(SecretTest, SymlinksToARegularFileAreFollowedAsInKubernetesMounts) {
  // A Kubernetes secret volume: token -> ..data/token, ..data -> ..2026_12_01/
  fs::create_directory(dir_ / "..2026_12_01");
  write("..2026_12_01/token", "s3cr3t\n");
  fs::create_directory_symlink("..2026_12_01", dir_ / "..data");
  fs::create_symlink("..data/token", dir_ / "token");
  EXPECT_EQ(read_secret(SecretRef{dir_ / "token", ""}), "s3cr3t");
}

TEST_F(SecretTest, UpTo64KiBIsReadAndMoreIsRefused) {
  const std::string at_limit(kMaxSecretFileBytes, 'k');
  EXPECT_EQ(read_secret(SecretRef{write("ok", at_limit), ""}), at_limit);
  const fs::path big = write("big", at_limit + "k");
  const std::string e = error_of(SecretRef{big, ""});
  EXPECT_NE(e.find(big.string() + " is 65537 bytes; a secret file may be at most 65536 bytes"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("kkkk"), std::string::npos) << "the value never appears";
}

TEST_F(SecretTest, AFileOthersMayReadIsReadWithAWarning) {
  std::string warning = "stale";
  EXPECT_EQ(read_secret(SecretRef{write("private", "v1\n", 0600), ""}, &warning), "v1");
  EXPECT_EQ(warning, "");
  EXPECT_EQ(read_secret(SecretRef{write("owner-only-read", "v1\n", 0400), ""}, &warning), "v1");
  EXPECT_EQ(warning, "");

  const fs::path world = write("world", "v2-hidden\n", 0644);
  EXPECT_EQ(read_secret(SecretRef{world, ""}, &warning), "v2-hidden");
  EXPECT_NE(warning.find(world.string() + " is readable by everyone (mode 0644)"), std::string::npos)
      << warning;
  EXPECT_EQ(warning.find("v2-hidden"), std::string::npos);

  const fs::path group = write("group", "v3\n", 0640);
  EXPECT_EQ(read_secret(SecretRef{group, ""}, &warning), "v3");
  EXPECT_NE(warning.find("readable by its group (mode 0640)"), std::string::npos) << warning;
}

TEST_F(SecretTest, CheckSecretsReportsEachAtTheKeyThatNamesIt) {
  fifo("push.token");
  write("palette.key", "pk\n", 0644);
  const fs::path config_file = write("keywarden.toml", R"([palette]
  api_key_file = "palette.key"

[[source]]
name = "corp"
type = "pushed"
    token_file = "push.token"

[[source]]
name = "zero"
type = "polled"
url = "https://idp.example"
token_file = "/dev/zero"
hook_secret_env = "KEYWARDEN_TEST_UNSET_HOOK"
)");
  ::unsetenv("KEYWARDEN_TEST_UNSET_HOOK");
  const auto loaded = load_config(config_file, kSchemas);
  ASSERT_TRUE(loaded.config) << (loaded.errors.empty() ? "" : loaded.errors[0].format());

  auto check = std::async(std::launch::async, [&] { return check_secrets(*loaded.config); });
  ASSERT_EQ(check.wait_for(5s), std::future_status::ready) << "check_secrets blocked on the FIFO";
  const SecretCheck result = check.get();

  ASSERT_EQ(result.errors.size(), 3u);
  const std::string file = loaded.config->file.string();
  EXPECT_EQ(result.errors[0].format().substr(0, file.size() + 6), file + ":7:5: ");
  EXPECT_NE(result.errors[0].message.find("source \"corp\" token: secret file"), std::string::npos);
  EXPECT_NE(result.errors[0].message.find("is a FIFO"), std::string::npos);
  EXPECT_EQ(result.errors[1].line, 13);
  EXPECT_EQ(result.errors[1].column, 1);
  EXPECT_NE(result.errors[1].message.find("/dev/zero is a character device"), std::string::npos);
  EXPECT_EQ(result.errors[2].line, 14);
  EXPECT_NE(result.errors[2].message.find("KEYWARDEN_TEST_UNSET_HOOK is not set"), std::string::npos);

  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_EQ(result.warnings[0].line, 2);
  EXPECT_EQ(result.warnings[0].column, 3);
  EXPECT_NE(result.warnings[0].message.find("[palette] api key: secret file"), std::string::npos);
  EXPECT_NE(result.warnings[0].message.find("readable by everyone"), std::string::npos);
}

}  // namespace
}  // namespace keywarden
