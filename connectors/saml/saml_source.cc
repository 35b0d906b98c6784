#include "connectors/saml/saml_source.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "connectors/blocking_work.h"
#include "connectors/saml/saml_query.h"
#include "connectors/saml/saml_response.h"

namespace keywarden {

namespace net = boost::asio;

namespace {

constexpr const char* kSoapAction = "http://www.oasis-open.org/committees/security";

std::string read_text_file(const std::string& path, const char* setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SamlConfigError(std::string(setting) + " " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw SamlConfigError(std::string(setting) + " " + path + ": cannot be read");
  return text.str();
}

// One read in progress, shared by its workers; it outlives the reading
// coroutine if that is torn down (shutdown) while queries are in flight.
struct SamlPoll {
  SamlPoll(net::any_io_executor executor, std::shared_ptr<const SamlSettings> settings_in)
      : settings(std::move(settings_in)), done(std::move(executor)) {}

  std::shared_ptr<const SamlSettings> settings;
  std::function<std::string()> next_query_id;
  Timestamp now{};
  std::vector<std::string> owners;
  std::vector<std::optional<SamlAnswer>> answers;  // by owner position
  size_t next = 0;
  size_t running = 0;
  std::optional<std::string> failure;  // the first failed answer
  net::steady_timer done;              // cancelled when the last worker ends
};

// Asks about owners one after another over one connection until none are
// left or an answer has failed.
net::awaitable<void> ask_owners(std::shared_ptr<SamlPoll> poll, std::shared_ptr<HttpClient> client) {
  const SamlSettings& settings = *poll->settings;
  while (!poll->failure && poll->next < poll->owners.size()) {
    const size_t index = poll->next++;
    const std::string email = poll->owners[index];
    const std::string about = "SAML AttributeQuery about " + email + " to " + settings.service.origin() +
                              settings.service.target + ": ";
    try {
      AttributeQueryRequest query;
      query.id = poll->next_query_id();
      query.issue_instant = poll->now;
      query.destination = settings.service.origin() + settings.service.target;
      query.sp_entity_id = settings.sp_entity_id;
      query.name_id = email;
      query.name_id_format = settings.name_id_format;
      query.groups_attribute = settings.groups_attribute;
      // Signing is RSA work: off the I/O thread, like verification.
      auto build = run_blocking([query, settings_ptr = poll->settings]() {
        return build_attribute_query(query, settings_ptr->signing_key ? &*settings_ptr->signing_key : nullptr);
      });
      HttpRequest request;
      request.method = "POST";
      request.target = settings.service.target;
      request.headers["Content-Type"] = "text/xml; charset=utf-8";
      request.headers["SOAPAction"] = kSoapAction;
      request.body = co_await std::move(build);
      auto exchange = client->send(std::move(request));
      HttpResponse response = co_await std::move(exchange);
      if (response.status != 200) {
        throw SourceReadError("HTTP " + std::to_string(response.status) + " " + printable_snippet(response.body));
      }
      SamlExpectation expected;
      expected.query_id = query.id;
      expected.name_id = email;
      expected.idp_entity_id = settings.metadata.entity_id;
      expected.sp_entity_id = settings.sp_entity_id;
      expected.groups_attribute = settings.groups_attribute;
      expected.trusted_keys = settings.metadata.signing_keys;
      expected.now = poll->now;
      // HttpClient verifies every HTTPS peer (TlsOptions::verify is never
      // turned off here), so an https answer came over verified TLS.
      expected.transport_authenticated = settings.service.tls();
      auto judge = run_blocking([body = std::move(response.body), expected = std::move(expected)]() {
        return judge_attribute_response(body, expected);
      });
      SamlAnswer answer = co_await std::move(judge);
      if (answer.verdict == SamlVerdict::failed) throw SourceReadError(answer.problem);
      poll->answers[index] = std::move(answer);
    } catch (const boost::system::system_error& e) {
      if (!poll->failure) poll->failure = about + "connection failed: " + e.code().message();
    } catch (const std::exception& e) {
      if (!poll->failure) poll->failure = about + e.what();
    }
  }
}

}  // namespace

const SourceType& saml_source_type() {
  static const SourceType type{
      {"saml",
       {{"idp_metadata_file", ValueKind::path, true, {}, {},
         "the IdP's SAML 2.0 metadata; its signing certificates are the only trusted keys"},
        {"attribute_service_url", ValueKind::url, false, {}, {},
         "the SOAP AttributeQuery endpoint (default: the metadata's SAML 2.0 SOAP AttributeService)"},
        {"sp_entity_id", ValueKind::text, true, {}, {}, "keywarden's entity ID: the queries' Issuer and the audience"},
        {"sp_cert_file", ValueKind::path, false, {}, {}, "PEM certificate for signing queries and TLS client auth"},
        {"sp_key_file", ValueKind::path, false, {}, {}, "PEM private key of sp_cert_file"},
        {"ca_file", ValueKind::path, false, {}, {}, "extra PEM CA bundle for the IdP's TLS certificate"},
        {"name_id_format", ValueKind::text, false, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", {},
         "the Format of the NameID (the owner's email) in each query"},
        {"groups_attribute", ValueKind::text, false, "SpectroTeam", {},
         "the attribute (Name or FriendlyName) whose values are the person's groups"},
        {"poll_interval", ValueKind::duration, false, "15m", {}, "how often each key owner is asked about"}},
       {{"sp_cert_file", "sp_key_file"}},
       "a SAML 2.0 attribute authority, asked about each key owner with AttributeQuery over SOAP"},
      {},
      {},
      [](const SourceConfig& config, net::any_io_executor executor) -> std::unique_ptr<Source> {
        return std::make_unique<SamlSource>(config, std::move(executor));
      },
  };
  return type;
}

SamlSettings load_saml_settings(const SourceConfig& raw_config) {
  const SourceConfig config = with_defaults(raw_config, saml_source_type().schema);
  SamlSettings settings;
  const std::string metadata_file = config.get("idp_metadata_file");
  if (metadata_file.empty()) throw SamlConfigError("idp_metadata_file is not set");
  try {
    settings.metadata = read_idp_metadata(metadata_file);
  } catch (const SamlMetadataError& e) {
    throw SamlConfigError(e.what());
  }
  std::string service = config.get("attribute_service_url");
  if (service.empty()) {
    if (!settings.metadata.attribute_service_url) {
      throw SamlConfigError("attribute_service_url is not set and the IdP metadata lists no SAML 2.0 SOAP "
                            "AttributeService");
    }
    service = *settings.metadata.attribute_service_url;
  }
  const auto url = parse_url(service);
  if (!url) throw SamlConfigError("attribute service URL " + service + " is not an http(s) URL");
  settings.service = *url;
  settings.sp_entity_id = config.get("sp_entity_id");
  if (settings.sp_entity_id.empty()) throw SamlConfigError("sp_entity_id is not set");
  settings.name_id_format = config.get("name_id_format");
  settings.groups_attribute = config.get("groups_attribute");

  const std::string cert_file = config.get("sp_cert_file");
  const std::string key_file = config.get("sp_key_file");
  if (cert_file.empty() != key_file.empty()) throw SamlConfigError("sp_cert_file and sp_key_file go together");
  if (!key_file.empty()) {
    const std::string certificate = read_text_file(cert_file, "sp_cert_file");
    const std::string key = read_text_file(key_file, "sp_key_file");
    try {
      settings.signing_key = load_signing_key(key, certificate, "sp_key_file " + key_file);
    } catch (const XmlKeyError& e) {
      throw SamlConfigError(e.what());
    }
    settings.tls.client_certificate_file = cert_file;
    settings.tls.client_key_file = key_file;
  }
  settings.tls.ca_file = config.get("ca_file");
  settings.tls.verify = true;
  return settings;
}

std::vector<std::string> check_saml_source_config(const SourceConfig& config) {
  try {
    (void)load_saml_settings(config);
    return {};
  } catch (const SamlConfigError& e) {
    return {"source \"" + config.name + "\": " + e.what()};
  }
}

std::vector<std::string> parse_answered_cursor(const std::string& text) {
  std::vector<std::string> out;
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return out;
  for (const auto& item : parsed)
    if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

SamlSource::SamlSource(SourceConfig config, net::any_io_executor executor, SamlSourceOptions options)
    : Source(with_defaults(std::move(config), saml_source_type().schema)),
      executor_(std::move(executor)),
      options_(std::move(options)) {
  if (!options_.next_query_id) options_.next_query_id = new_query_id;
  if (options_.max_in_flight == 0) options_.max_in_flight = 1;
  try {
    (void)load_saml_settings(this->config());
  } catch (const SamlConfigError& e) {
    throw std::invalid_argument("source \"" + name() + "\": " + e.what());
  }
}

net::awaitable<FullRead> SamlSource::read_all(const ReadContext& context) {
  const Timestamp now = context.now;
  const Duration interval = poll_interval().value_or(Duration{900});
  auto load = run_blocking([config = config()]() {
    try {
      return std::make_shared<const SamlSettings>(load_saml_settings(config));
    } catch (const SamlConfigError& e) {
      throw SourceReadError("source \"" + config.name + "\": " + e.what());
    }
  });
  std::shared_ptr<const SamlSettings> settings = co_await std::move(load);

  std::set<std::string> owners;
  for (const auto& email : context.owner_emails) {
    std::string normalized = normalize_email(email);
    if (!normalized.empty()) owners.insert(std::move(normalized));
  }
  auto poll = std::make_shared<SamlPoll>(executor_, settings);
  poll->next_query_id = options_.next_query_id;
  poll->now = now;
  for (const std::string& email : owners) {
    const auto kept = kept_.find(email);
    const bool fresh = kept != kept_.end() && kept->second.at <= now && now - kept->second.at < interval;
    if (!fresh) poll->owners.push_back(email);
  }
  poll->answers.resize(poll->owners.size());

  const size_t workers = std::min(options_.max_in_flight, poll->owners.size());
  std::vector<std::shared_ptr<HttpClient>> clients;
  try {
    for (size_t i = 0; i < workers; ++i) {
      clients.push_back(std::make_shared<HttpClient>(executor_, settings->service, settings->tls, options_.timeout,
                                                     kMaxSamlResponseBytes));
    }
  } catch (const std::exception& e) {
    throw SourceReadError("source \"" + name() + "\": TLS setup for " + settings->service.origin() +
                          " failed: " + e.what());
  }
  if (workers > 0) {
    poll->done.expires_at(std::chrono::steady_clock::time_point::max());
    poll->running = workers;
    for (auto& client : clients) {
      net::co_spawn(executor_, ask_owners(poll, client), [poll](std::exception_ptr) {
        if (--poll->running == 0) poll->done.cancel();
      });
    }
    boost::system::error_code ignored;
    auto wait = poll->done.async_wait(net::redirect_error(net::use_awaitable, ignored));
    co_await std::move(wait);
  }
  if (poll->failure) throw SourceReadError(*poll->failure);
  for (size_t i = 0; i < poll->owners.size(); ++i) {
    if (!poll->answers[i]) throw SourceReadError("SAML AttributeQuery about " + poll->owners[i] + ": no answer");
  }
  for (size_t i = 0; i < poll->owners.size(); ++i) kept_[poll->owners[i]] = KeptAnswer{*poll->answers[i], now};
  // Owners gone from Palette need no answer kept.
  for (auto it = kept_.begin(); it != kept_.end();) it = owners.count(it->first) ? std::next(it) : kept_.erase(it);

  std::set<std::string> answered;
  if (const auto stored = context.state.find("answered"); stored != context.state.end()) {
    for (auto& email : parse_answered_cursor(stored->second)) answered.insert(std::move(email));
  }
  FullRead read;
  for (const std::string& email : owners) {
    const SamlAnswer& answer = kept_.at(email).answer;
    Identity identity;
    identity.subject_id = email;
    identity.user_name = email;
    identity.email = email;
    if (answer.verdict == SamlVerdict::active) {
      identity.status = IdentityStatus::active;
      identity.groups = answer.groups;
      answered.insert(email);
    } else if (answered.count(email) != 0) {
      identity.status = IdentityStatus::deleted;
      identity.status_detail = "SAML status UnknownPrincipal";
    } else {
      continue;  // never known here: this source says nothing about them
    }
    read.identities.push_back(std::move(identity));
  }
  read.cursors["answered"] = nlohmann::json(answered).dump();
  co_return read;
}

}  // namespace keywarden
