// The push the fault loops commit and look for after a reopen, shared by
// store_fault_test and store_worker_fault_test: one person deactivated, with
// the event that said so, in one apply_changes (as a SCIM or hook source
// commits it).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "daemon/store/store.h"

namespace keywarden::fault_test {

inline void push(Store& store, int i) {
  IdentityChanges changes;
  Identity identity;
  identity.subject_id = "s" + std::to_string(i);
  identity.user_name = identity.subject_id + "-name";
  identity.email = identity.subject_id + "@example.com";
  identity.status = IdentityStatus::inactive;
  changes.identities.push_back(identity);
  changes.event_ids.push_back("evt-" + std::to_string(i));
  store.apply_changes("pushed-idp", changes, Timestamp{Duration{100}}, /*mark_success=*/true);
}

// True when push i is there; a push there only in part fails the test.
inline bool pushed(Store& store, int i) {
  const bool identity = store.load_identity("pushed-idp", "s" + std::to_string(i)).has_value();
  const bool event = store.event_seen("pushed-idp", "evt-" + std::to_string(i));
  EXPECT_EQ(identity, event) << "push " << i << " is there only in part";
  return identity;
}

}  // namespace keywarden::fault_test
