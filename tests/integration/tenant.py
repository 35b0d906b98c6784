"""Builds realistic Palette tenants and matching identity exports for the
integration tests. Python 3 standard library only."""

import random

SELF_UID = "5f00000000000000000000aa"


def uid(rng):
    return "%024x" % rng.getrandbits(96)


class Tenant:
    """A seed for palette-sim plus bookkeeping of who is who."""

    def __init__(self, n_people, n_keys, seed=7, api_key="", key_names=None):
        rng = random.Random(seed)
        self.rng = rng
        self.self_user = {"uid": SELF_UID, "email": "keywarden@example.com", "firstName": "key",
                          "lastName": "warden", "isActive": True}
        self.people = []
        for i in range(n_people):
            self.people.append({"uid": uid(rng), "email": f"person{i:04d}@example.com", "firstName": f"P{i}",
                                "lastName": "Example", "isActive": True})
        self.keys = []
        owners = [self.self_user] + self.people
        for i in range(n_keys):
            owner = owners[i % len(owners)]
            name = key_names(i, owner) if key_names else f"key-{i:04d}"
            self.keys.append({"uid": uid(rng), "name": name, "ownerUid": owner["uid"], "isActive": True,
                              "createdAt": "2026-06-01T10:00:00.000Z", "expiry": "2027-06-01T10:00:00.000Z"})
        self.api_key = api_key

    def seed(self):
        return {"apiKey": self.api_key,
                "self": {"userUid": SELF_UID, "tenantUid": "tenant-1", "orgName": "example"},
                "users": [self.self_user] + self.people,
                "keys": self.keys}

    def keys_of(self, person):
        return [k for k in self.keys if k["ownerUid"] == person["uid"]]


def identity(person, active=True, groups=("palette-users",), deleted=False, subject=None):
    entry = {"id": subject or "00u" + person["uid"][:10], "userName": person["email"], "email": person["email"],
             "active": active, "groups": list(groups)}
    if deleted:
        entry["deleted"] = True
    return entry
