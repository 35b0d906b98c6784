// For the SCIM tests: a client that sends requests to a ScimService backed
// by a MemoryScimRepository, with ids "id-1", "id-2", … and a clock the test
// moves.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "connectors/scim/memory_scim_repository.h"
#include "connectors/scim/scim_service.h"

namespace keywarden::scim_test {

inline Timestamp at(int64_t seconds) { return Timestamp{Duration{seconds}}; }

struct Reply {
  ScimResponse response;
  nlohmann::json body;  // parsed; null when the body is empty
  int steps = 1;        // how many steps the request took (a large group PATCH takes several)

  int status() const { return response.status; }
  std::string header(const std::string& name) const {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "";
  }
};

class ScimTestClient {
 public:
  explicit ScimTestClient(ScimRepository* repository = nullptr, size_t members_per_step = 1000)
      : repository_(repository != nullptr ? repository : &memory_),
        service_(ScimServiceOptions{.max_results = 1000,
                                    .max_json_depth = 32,
                                    .new_id = [this] { return "id-" + std::to_string(++ids_); },
                                    .members_per_step = members_per_step}) {}

  // `target` as the HTTP layer sees it after the source's base, query included.
  Reply send(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& if_match = "") {
    ScimRequest request = make_scim_request(method, target, body, "https://kw.test/scim/v2/corp");
    request.if_match = if_match;
    Reply reply{service_.handle(request, *repository_, now), nullptr};
    // A PATCH left for later steps is carried on as the daemon does; the
    // answer is the last step's, the affected emails all of theirs.
    while (reply.response.status < 300 && reply.response.rest) {
      ++reply.steps;
      std::set<std::string> affected = std::move(reply.response.affected_emails);
      const bool deprovisioned = reply.response.deprovisioned;
      reply.response = service_.continue_patch(std::move(*reply.response.rest), *repository_, now);
      reply.response.affected_emails.merge(affected);
      reply.response.deprovisioned = reply.response.deprovisioned || deprovisioned;
    }
    if (!reply.response.body.empty()) {
      reply.body = nlohmann::json::parse(reply.response.body, nullptr, false);
      EXPECT_FALSE(reply.body.is_discarded()) << "not JSON: " << reply.response.body;
    }
    EXPECT_EQ(reply.response.content_type, "application/scim+json");
    return reply;
  }
  Reply send(const std::string& method, const std::string& target, const nlohmann::json& body) {
    return send(method, target, body.dump());
  }

  // POSTs a user and returns its id.
  std::string create_user(const std::string& user_name, const std::string& email = "",
                          bool active = true) {
    nlohmann::json body = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
                           {"userName", user_name},
                           {"active", active}};
    if (!email.empty()) body["emails"] = {{{"value", email}, {"type", "work"}, {"primary", true}}};
    Reply reply = send("POST", "/Users", body);
    EXPECT_EQ(reply.status(), 201) << reply.response.body;
    return reply.body.value("id", "");
  }

  // POSTs a group with `members` and returns its id.
  std::string create_group(const std::string& name, const std::vector<std::string>& members = {}) {
    nlohmann::json body = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
                           {"displayName", name},
                           {"members", nlohmann::json::array()}};
    for (const std::string& member : members) body["members"].push_back({{"value", member}});
    Reply reply = send("POST", "/Groups", body);
    EXPECT_EQ(reply.status(), 201) << reply.response.body;
    return reply.body.value("id", "");
  }

  MemoryScimRepository& memory() { return memory_; }
  const IdentityRecord& identity(const std::string& subject_id) {
    static const IdentityRecord kMissing;
    const auto& all = memory_.identities();
    const auto it = all.find(subject_id);
    EXPECT_NE(it, all.end()) << "no identity " << subject_id;
    return it == all.end() ? kMissing : it->second;
  }

  Timestamp now = at(1'700'000'000);

 private:
  MemoryScimRepository memory_;
  ScimRepository* repository_;
  int ids_ = 0;
  ScimService service_;
};

}  // namespace keywarden::scim_test
