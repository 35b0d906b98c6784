// libFuzzer target over Palette's JSON (scripts/fuzz.sh): every input goes
// through every parser of palette_json.h, as the Palette client hands them
// each response body (GET /v1/apiKeys, /v1/users, /v1/teams, /v1/users/info,
// and any error body). Seed corpus: ./corpus (shapes of
// reference/palette-api.md and palette-sim).
//
// Beyond the sanitizers, it checks the parsers' contracts: they throw
// nothing but PaletteFormatError (an escaping exception is a crash here),
// parse_api_error never throws, a parsed page holds only items with a uid,
// and normalized emails have no upper case or surrounding blanks.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/palette/palette_json.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

template <class Parse>
void expect_page_or_format_error(Parse&& parse) {
  try {
    parse();
  } catch (const keywarden::PaletteFormatError& e) {
    check(e.what()[0] != '\0');  // a refusal says why
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  expect_page_or_format_error([&] {
    const keywarden::PaletteKeysPage page = keywarden::parse_keys_page(body);
    for (const keywarden::PaletteKey& key : page.keys) check(!key.uid.empty());
  });
  expect_page_or_format_error([&] {
    const keywarden::PaletteUsersPage page = keywarden::parse_users_page(body);
    for (const keywarden::PaletteUser& user : page.users) {
      check(!user.uid.empty());
      for (const char c : user.email) check(!std::isupper(static_cast<unsigned char>(c)));
      check(user.email.empty() || (user.email.front() != ' ' && user.email.back() != ' '));
    }
  });
  expect_page_or_format_error([&] {
    const keywarden::PaletteTeamsPage page = keywarden::parse_teams_page(body);
    for (const keywarden::PaletteTeam& team : page.teams) check(!team.uid.empty() && !team.name.empty());
  });
  expect_page_or_format_error([&] {
    const keywarden::PaletteUserInfo info = keywarden::parse_user_info(body);
    check(!info.user_uid.empty() && !info.tenant_uid.empty());
  });
  (void)keywarden::parse_api_error(body);  // never throws: a throw here is a crash
  return 0;
}
