// SCIM filters: each test is named after the mistake it guards against.
#include "connectors/scim/scim_filter.h"

#include <gtest/gtest.h>

#include "connectors/scim/scim_error.h"

namespace keywarden {
namespace {

using nlohmann::json;

const json kUser = json::parse(R"({
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "Ext-42",
  "userName": "Bjensen@Example.com",
  "active": true,
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "title": "",
  "loginCount": 7,
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "meta": {"lastModified": "2026-11-26T10:00:00Z"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
})");

const json kGroup = json::parse(R"({
  "id": "g1", "displayName": "Palette-Users",
  "members": [{"value": "U1", "display": "a"}, {"value": "u2"}]
})");

bool matches(const std::string& filter, const json& resource = kUser) {
  return scim_filter_matches(parse_scim_filter(filter), resource);
}

std::string error_type(const std::string& filter) {
  try {
    parse_scim_filter(filter);
  } catch (const ScimError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.scim_type();
  }
  return "no error";
}

TEST(ScimFilterTest, UserNameEqIsCaseInsensitiveInNameAndValue) {
  EXPECT_TRUE(matches(R"(userName eq "bjensen@example.com")"));
  EXPECT_TRUE(matches(R"(USERNAME EQ "BJENSEN@EXAMPLE.COM")"));
  EXPECT_FALSE(matches(R"(userName eq "bjensen")"));
}

TEST(ScimFilterTest, IdAndExternalIdCompareExactly) {
  EXPECT_TRUE(matches(R"(externalId eq "Ext-42")"));
  EXPECT_FALSE(matches(R"(externalId eq "ext-42")"));
  EXPECT_FALSE(matches(R"(id eq "2819C223-7F76-453A-919D-413861904646")"));
}

TEST(ScimFilterTest, MemberValuesCompareExactly) {
  EXPECT_TRUE(matches(R"(members[value eq "U1"])", kGroup));
  EXPECT_FALSE(matches(R"(members[value eq "u1"])", kGroup));
  EXPECT_TRUE(matches(R"(members.value eq "u2")", kGroup));
  EXPECT_TRUE(matches(R"(displayName eq "palette-users")", kGroup));
}

TEST(ScimFilterTest, EntraWorkEmailValuePathMatchesOnlyTheWorkEmail) {
  EXPECT_TRUE(matches(R"(emails[type eq "work"].value eq "BJENSEN@example.com")"));
  EXPECT_FALSE(matches(R"(emails[type eq "work"].value eq "babs@jensen.org")"));
  EXPECT_TRUE(matches(R"(emails[type eq "home"].value eq "babs@jensen.org")"));
  EXPECT_TRUE(matches(R"(emails[type eq "work" and value co "@example.com"])"));
}

TEST(ScimFilterTest, MultiValuedAttributeMatchesWhenAnyValueMatches) {
  EXPECT_TRUE(matches(R"(emails co "jensen.org")"));
  EXPECT_TRUE(matches(R"(emails.value ew ".org")"));
  EXPECT_FALSE(matches(R"(emails.value eq "nobody@example.com")"));
}

TEST(ScimFilterTest, StringOperators) {
  EXPECT_TRUE(matches(R"(name.familyName co "ens")"));
  EXPECT_TRUE(matches(R"(name.familyName sw "J")"));
  EXPECT_TRUE(matches(R"(name.familyName ew "SEN")"));
  EXPECT_FALSE(matches(R"(name.familyName sw "ens")"));
  EXPECT_TRUE(matches(R"(userName ne "someone")"));
}

TEST(ScimFilterTest, PresenceIgnoresEmptyAndNull) {
  EXPECT_TRUE(matches("title pr") == false);
  EXPECT_TRUE(matches("name.givenName pr"));
  EXPECT_FALSE(matches("nickName pr"));
  EXPECT_TRUE(matches("nickName eq null"));
  EXPECT_TRUE(matches("userName ne null"));
}

TEST(ScimFilterTest, OrderingOnNumbersAndDates) {
  EXPECT_TRUE(matches("loginCount gt 5"));
  EXPECT_TRUE(matches("loginCount ge 7"));
  EXPECT_FALSE(matches("loginCount lt 7"));
  EXPECT_TRUE(matches("loginCount le 7.5"));
  EXPECT_TRUE(matches(R"(meta.lastModified gt "2026-01-01T00:00:00Z")"));
  EXPECT_FALSE(matches(R"(meta.lastModified lt "2026-01-01T00:00:00Z")"));
}

TEST(ScimFilterTest, BooleansAndLiteralsInAnyCase) {
  EXPECT_TRUE(matches("active eq true"));
  EXPECT_TRUE(matches("active eq TRUE"));
  EXPECT_FALSE(matches("active eq false"));
  EXPECT_FALSE(matches(R"(active eq "true")")) << "a string is not a boolean";
}

TEST(ScimFilterTest, PrecedenceIsNotThenAndThenOr) {
  // or binds looser than and: (false and false) or true
  EXPECT_TRUE(matches(R"(userName eq "x" and active eq false or active eq true)"));
  // parentheses change it: false and (false or true)
  EXPECT_FALSE(matches(R"(userName eq "x" and (active eq false or active eq true))"));
  EXPECT_TRUE(matches(R"(not (userName eq "x") and active eq true)"));
  EXPECT_FALSE(matches(R"(not(active eq true))"));
}

TEST(ScimFilterTest, SchemaQualifiedNames) {
  EXPECT_TRUE(matches(R"(urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com")"));
  EXPECT_TRUE(matches(
      R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984")"));
  EXPECT_FALSE(matches(
      R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1")"));
}

TEST(ScimFilterTest, StringEscapesAreDecoded) {
  const json user = {{"userName", "a\"b\\c\u00e9"}};
  EXPECT_TRUE(matches(R"(userName eq "a\"b\\c\u00e9")", user));
  EXPECT_TRUE(matches(R"(userName eq "a\"b\\cé")", user));
}

TEST(ScimFilterTest, MalformedFiltersAreInvalidFilter) {
  for (const char* filter :
       {"", "userName", "userName eq", R"(userName xx "a")", R"(userName eq "unterminated)",
        R"((userName eq "a")", R"(userName eq "a"))", R"(userName eq "a" and)", "and",
        R"(userName eq bareword)", R"(emails[type eq "work")", R"(emails[type[x eq 1] eq 2])",
        R"(emails[type eq "work"].value.x eq "a")", R"(1abc eq "a")", R"(userName eq "\q")",
        R"(active gt true)", R"(title lt null)", R"(not userName eq "a")", R"(a.b.c eq 1)",
        R"(userName eq "a" "b")", "userName eq 1e99999", "]", "userName eq -"}) {
    EXPECT_EQ(error_type(filter), "invalidFilter") << filter;
  }
}

TEST(ScimFilterTest, DeepNestingIsRejectedNotAStackOverflow) {
  const std::string deep = std::string(100000, '(') + "userName eq \"a\"" + std::string(100000, ')');
  EXPECT_EQ(error_type(deep), "invalidFilter");
  std::string nots;
  for (int i = 0; i < 3000; ++i) nots += "not (";
  EXPECT_EQ(error_type(nots + "active eq true" + std::string(3000, ')')), "invalidFilter");
  // Short enough for the length limit, too deep for the depth limit.
  EXPECT_EQ(error_type(std::string(40, '(') + "active eq true" + std::string(40, ')')), "invalidFilter");
  // Within the limits, nesting works.
  const std::string ok = std::string(20, '(') + "userName eq \"bjensen@example.com\"" + std::string(20, ')');
  EXPECT_TRUE(matches(ok));
}

TEST(ScimFilterTest, TooManyTermsAreRejected) {
  std::string many = "active eq true";
  for (int i = 0; i < 200; ++i) many += " and active eq true";
  EXPECT_EQ(error_type(many), "invalidFilter");
}

TEST(ScimFilterTest, PatchPathsParse) {
  ScimPatchPath path = parse_scim_patch_path(R"(emails[type eq "work"].value)");
  EXPECT_EQ(path.attribute.attribute, "emails");
  EXPECT_TRUE(path.has_filter);
  EXPECT_EQ(path.sub_attribute, "value");
  path = parse_scim_patch_path("name.givenName");
  EXPECT_EQ(path.attribute.attribute, "name");
  EXPECT_EQ(path.attribute.sub_attribute, "givenName");
  EXPECT_FALSE(path.has_filter);
  path = parse_scim_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager");
  EXPECT_EQ(path.attribute.schema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
  EXPECT_EQ(path.attribute.attribute, "manager");
  for (const char* bad : {"", "members[", "members[value eq \"a\"", "members]", "a b", "[x]"}) {
    try {
      parse_scim_patch_path(bad);
      ADD_FAILURE() << bad;
    } catch (const ScimError& e) {
      EXPECT_EQ(e.scim_type(), "invalidPath") << bad;
    }
  }
}

TEST(ScimFilterTest, MentionsFindsValuePaths) {
  EXPECT_TRUE(scim_filter_mentions(parse_scim_filter(R"(members[value eq "x"])"), "members"));
  EXPECT_TRUE(scim_filter_mentions(parse_scim_filter(R"(displayName eq "a" or members.value eq "x")"), "MEMBERS"));
  EXPECT_FALSE(scim_filter_mentions(parse_scim_filter(R"(displayName eq "a")"), "members"));
}

}  // namespace
}  // namespace keywarden
