#include "bench/tenant_fixture.h"

#include <random>

namespace keywarden::bench {

namespace {

// Person `i` as a source reports them and as the store remembers them.
void add_identity(TenantFixture& t, size_t i, size_t roll, std::vector<std::string> groups, Timestamp now) {
  const Timestamp long_ago = now - std::chrono::days{90};
  const bool entitled = roll >= 10;
  Identity id;
  id.subject_id = "00u" + std::to_string(i);
  id.email = "person" + std::to_string(i) + "@example.com";
  id.user_name = id.email;
  id.status = roll < 5 ? IdentityStatus::inactive : roll < 7 ? IdentityStatus::deleted : IdentityStatus::active;
  id.groups = std::move(groups);

  IdentityRecord r;
  r.source = "corp";
  r.subject_id = id.subject_id;
  r.user_name = id.user_name;
  r.email = id.email;
  r.status = id.status;
  r.status_since = long_ago;
  r.first_seen = long_ago;
  for (const auto& g : id.groups) r.memberships.push_back({g, long_ago, std::nullopt});
  if (!entitled) r.memberships.push_back({"palette-users", long_ago, now - std::chrono::days{1}});
  t.records.push_back(std::move(r));
  t.identities.push_back(std::move(id));
}

}  // namespace

TenantFixture make_tenant(size_t people, size_t groups_per_person, size_t keys, Timestamp now,
                          TenantParts parts) {
  const bool with_identities = parts == TenantParts::all;
  TenantFixture t;
  std::mt19937_64 rng(42);
  std::vector<std::string> groups;
  groups.reserve(1000);
  groups.push_back("palette-users");
  for (int g = 1; g < 1000; ++g) groups.push_back("group-" + std::to_string(g));
  const Timestamp long_ago = now - std::chrono::days{90};

  if (with_identities) {
    t.identities.reserve(people);
    t.records.reserve(people);
  }
  for (size_t i = 0; i < people; ++i) {
    const size_t roll = rng() % 100;
    const bool entitled = roll >= 10;
    std::vector<size_t> drawn;  // drawn under palette_only too: the keys' owners below come from the same rng
    while (drawn.size() + (entitled ? 1 : 0) < groups_per_person) drawn.push_back(1 + rng() % 999);
    if (with_identities) {
      std::vector<std::string> person_groups;
      if (entitled) person_groups.push_back("palette-users");
      for (size_t g : drawn) person_groups.push_back(groups[g]);
      add_identity(t, i, roll, std::move(person_groups), now);
    }

    PaletteUser u;
    u.uid = "user-" + std::to_string(i);
    u.email = "person" + std::to_string(i) + "@example.com";
    t.inventory.users_by_uid.emplace(u.uid, u);
  }
  t.inventory.self_user_uid = "user-0";
  t.inventory.keys.reserve(keys);
  for (size_t k = 0; k < keys; ++k) {
    PaletteKey key;
    key.uid = "key-" + std::to_string(k);
    key.name = k % 50 == 0 ? "ci-" + std::to_string(k) : "laptop-" + std::to_string(k);
    key.owner_uid = "user-" + std::to_string(rng() % people);
    key.created_at = long_ago;
    key.active = true;
    t.inventory.keys.push_back(std::move(key));
  }
  t.policy.exempt_keys = {"ci-*"};
  return t;
}

}  // namespace keywarden::bench
