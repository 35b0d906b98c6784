// type = "file": a JSON export of identities (SPEC §3), re-read on every
// reconcile. A missing, unreadable, invalid or empty file is a failed read,
// never "everyone left".
#pragma once

#include <string>
#include <vector>

#include "connectors/source.h"
#include "connectors/source_type.h"

namespace keywarden {

// Parses the document {"users":[{"id","userName","email","active","groups"}]}.
// Optional per user: "deleted": true (the identity is gone), "status" (source
// wording shown in plans). Throws SourceReadError naming `origin` and the
// problem. `origin` is used in messages only.
std::vector<Identity> parse_identity_document(const std::string& text, const std::string& origin);

// The declaration of type "file": keys, factory.
const SourceType& file_source_type();

class FileSource final : public Source {
 public:
  FileSource(SourceConfig config, boost::asio::any_io_executor executor);
  bool polls() const override { return true; }
  boost::asio::awaitable<FullRead> read_all(const ReadContext& context) override;

 private:
  boost::asio::any_io_executor executor_;
};

}  // namespace keywarden
