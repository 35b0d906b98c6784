#include "connectors/file/file_source.h"

#include <gtest/gtest.h>

namespace keywarden {
namespace {

TEST(IdentityDocument, ParsesTheDocumentedShape) {
  auto ids = parse_identity_document(
      R"({"users": [{"id": "00u1", "userName": "alice@example.com", "email": "Alice@Example.com",
                     "active": true, "groups": ["palette-users"]},
                    {"id": "00u2", "userName": "bob@example.com", "active": false, "status": "SUSPENDED"},
                    {"id": "00u3", "email": "carol@example.com", "deleted": true}]})",
      "ids.json");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].subject_id, "00u1");
  EXPECT_EQ(ids[0].email, "Alice@Example.com");  // the store normalizes
  EXPECT_EQ(ids[0].status, IdentityStatus::active);
  EXPECT_EQ(ids[0].groups, std::vector<std::string>{"palette-users"});
  EXPECT_EQ(ids[1].email, "bob@example.com");  // from userName
  EXPECT_EQ(ids[1].status, IdentityStatus::inactive);
  EXPECT_EQ(ids[1].status_detail, "status SUSPENDED");
  EXPECT_EQ(ids[2].status, IdentityStatus::deleted);
}

void expect_rejected(const std::string& text, const std::string& needle) {
  try {
    parse_identity_document(text, "ids.json");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const SourceReadError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("ids.json", 0), 0u) << e.what();
  }
}

TEST(IdentityDocument, AnEmptyExportIsAFailedReadNotEveryoneLeft) {
  expect_rejected(R"({"users": []})", "no users");
  expect_rejected("", "invalid JSON");
}

TEST(IdentityDocument, RejectsTruncatedAndMalformedDocuments) {
  expect_rejected(R"({"users": [{"id": "1", "active": tr)", "invalid JSON");
  expect_rejected(R"({"users": [{"id": "1", "n": 1e400}]})", "invalid JSON");  // out_of_range, not parse_error
  expect_rejected(R"([1,2])", "\"users\" array");
  expect_rejected(R"({"users": {}})", "\"users\" array");
  expect_rejected(R"({"users": [{"userName": "x"}]})", "\"id\" is required");
  expect_rejected(R"({"users": [{"id": "1", "active": "yes"}]})", "true or false");
  expect_rejected(R"({"users": [{"id": "1", "groups": "palette-users"}]})", "array of names");
  expect_rejected(R"({"users": [{"id": "1"}, {"id": "1"}]})", "duplicate id");
  expect_rejected(R"({"users": [7]})", "must be an object");
}

}  // namespace
}  // namespace keywarden
