// What the store knows of one source, read-only, as a push handler sees it
// while it decides what a delivery means: the source's identities, the
// events it already applied, and its stored values. Every change goes back
// as facts (IdentityChanges) for Store::apply_changes.
#pragma once

#include <optional>
#include <string>

#include "daemon/store/store.h"

namespace keywarden {

class SourceFacts {
 public:
  // `store` must outlive this object.
  SourceFacts(const Store& store, std::string source) : store_(store), source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  std::optional<IdentityRecord> identity(const std::string& subject_id) const {
    return store_.load_identity(source_, subject_id);
  }
  // True when the event id was applied before (at-least-once deliveries).
  bool event_seen(const std::string& event_id) const { return store_.event_seen(source_, event_id); }
  // One of the source's stored values (Store::cursor_scope).
  std::optional<std::string> state(const std::string& name) const {
    return store_.get_value(Store::cursor_scope(source_), name);
  }

 private:
  const Store& store_;
  std::string source_;
};

}  // namespace keywarden
