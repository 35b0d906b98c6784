// ScimSource as the daemon drives it: bearer-token checks and a push landing
// in the store. Each test is named after the failure it guards against.
#include "connectors/scim/scim_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon/store/store.h"

namespace keywarden {
namespace {

class ScimSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-scim-source-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "scim.token") << "s3cret-token\n";
    store_ = Store::open(dir_ / "keywarden.db");
    SourceConfig config;
    config.name = "corp-entra";
    config.type = "scim";
    config.settings["token_file"] = (dir_ / "scim.token").string();
    source_ = std::make_unique<ScimSource>(config);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  PushResponse push(const std::string& authorization, const std::string& method, const std::string& path,
                    const std::string& body = "") {
    PushRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.headers["host"] = "kw.example.com";
    if (!authorization.empty()) request.headers["authorization"] = authorization;
    PushContext context{*store_, Timestamp{Duration{1'700'000'000}}};
    return source_->handle_push(request, context);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ScimSource> source_;
};

TEST_F(ScimSourceTest, IsAPushSourceThatNeverPolls) {
  EXPECT_FALSE(source_->polls());
  EXPECT_TRUE(source_->accepts_pushes());
  EXPECT_THROW(source_->read_all(), std::logic_error);
}

TEST_F(ScimSourceTest, MissingOrWrongTokenIs401WithoutEchoingIt) {
  for (const char* authorization : {"", "Bearer wrong", "Basic s3cret-token", "Bearer s3cret-token-longer", "Bearer "}) {
    const PushResponse response = push(authorization, "GET", "/Users");
    EXPECT_EQ(response.status, 401) << authorization;
    EXPECT_EQ(response.body.find("s3cret"), std::string::npos);
    EXPECT_EQ(response.headers.at("WWW-Authenticate"), "Bearer");
  }
}

TEST_F(ScimSourceTest, AuthorizedPushLandsInTheStore) {
  const PushResponse created = push("Bearer s3cret-token", "POST", "/Users",
                                    R"({"userName":"alice@example.com","active":true})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.content_type, "application/scim+json");
  const auto body = nlohmann::json::parse(created.body);
  EXPECT_EQ(body["meta"]["location"], "https://kw.example.com/scim/v2/corp-entra/Users/" + body["id"].get<std::string>());
  EXPECT_EQ(created.affected_emails, std::set<std::string>{"alice@example.com"});
  const PushResponse disabled = push("bearer s3cret-token", "PATCH", "/Users/" + body["id"].get<std::string>(),
                                     R"({"Operations":[{"op":"Replace","path":"active","value":"False"}]})");
  EXPECT_EQ(disabled.status, 200);
  const auto identities = store_->load_identities_by_email("alice@example.com");
  ASSERT_EQ(identities.size(), 1u);
  EXPECT_EQ(identities[0].source, "corp-entra");
  EXPECT_EQ(identities[0].status, IdentityStatus::inactive);
}

TEST_F(ScimSourceTest, PushesInsideAStoreBatchCommitOrRollBackWithTheirItem) {
  store_->batch([&] {
    store_->batch_item([&] {
      EXPECT_EQ(push("Bearer s3cret-token", "POST", "/Users", R"({"userName":"kept@example.com"})").status, 201);
    });
    EXPECT_THROW(store_->batch_item([&] {
      EXPECT_EQ(push("Bearer s3cret-token", "POST", "/Users", R"({"userName":"lost@example.com"})").status, 201);
      throw std::runtime_error("the daemon gave up on this item");
    }),
                 std::runtime_error);
  });
  store_.reset();
  store_ = Store::open(dir_ / "keywarden.db");
  const auto total = [&](const std::string& user_name) {
    PushRequest request;
    request.method = "GET";
    request.path = "/Users";
    request.query["filter"] = "userName eq \"" + user_name + "\"";
    request.headers["authorization"] = "Bearer s3cret-token";
    PushContext context{*store_, Timestamp{Duration{1'700'000'100}}};
    return nlohmann::json::parse(source_->handle_push(request, context).body)["totalResults"].get<int>();
  };
  EXPECT_EQ(total("kept@example.com"), 1);
  EXPECT_EQ(total("lost@example.com"), 0);
  EXPECT_EQ(store_->load_identities_by_email("kept@example.com").size(), 1u);
  EXPECT_TRUE(store_->load_identities_by_email("lost@example.com").empty());
}

TEST_F(ScimSourceTest, MissingTokenFileIs503NotACrash) {
  std::filesystem::remove(dir_ / "scim.token");
  const PushResponse response = push("Bearer s3cret-token", "GET", "/Users");
  EXPECT_EQ(response.status, 503);
}

}  // namespace
}  // namespace keywarden
