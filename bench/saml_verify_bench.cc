// SAML answers judged per second on one core (issue 10): the whole of
// judge_attribute_response (strict parse, ID registration, RSA-SHA256
// signature check with the metadata's key, every SAML check) over a real
// answer, as the saml source runs it once per key owner per poll.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "connectors/saml/saml_metadata.h"
#include "connectors/saml/saml_response.h"

namespace keywarden::bench {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(SAML_TESTDATA_DIR) + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing " + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

SamlExpectation expectation(const SamlIdpMetadata& metadata) {
  SamlExpectation e;
  e.query_id = "_q-7f3a";
  e.name_id = "alice@example.com";
  e.idp_entity_id = metadata.entity_id;
  e.sp_entity_id = "https://keywarden.example.com/saml";
  e.groups_attribute = "SpectroTeam";
  e.trusted_keys = metadata.signing_keys;
  e.now = *parse_rfc3339("2026-11-30T10:00:30Z");
  return e;
}

// `fixture` is judged again and again; the run fails unless it is accepted.
void judge(benchmark::State& state, const char* fixture) {
  const SamlIdpMetadata metadata = parse_idp_metadata(read_testdata("idp-metadata.xml"));
  const std::string answer = read_testdata(std::string("responses/") + fixture);
  const SamlExpectation expected = expectation(metadata);
  for (auto _ : state) {
    SamlAnswer judged = judge_attribute_response(answer, expected);
    if (judged.verdict != SamlVerdict::active) {
      state.SkipWithError(("refused: " + judged.problem).c_str());
      break;
    }
    benchmark::DoNotOptimize(judged);
  }
  state.counters["answers_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate);
  state.counters["bytes"] = static_cast<double>(answer.size());
}

// The usual shape: the Assertion signed (RSA-SHA256, exclusive c14n). The
// metadata holds two signing keys; this one verifies with the first.
void BM_JudgeSignedAssertion(benchmark::State& state) { judge(state, "good_assertion_signed.xml"); }
BENCHMARK(BM_JudgeSignedAssertion)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

// Signed with the metadata's second key: the first is tried and fails first.
void BM_JudgeSignedByRolloverKey(benchmark::State& state) { judge(state, "good_rollover_key.xml"); }
BENCHMARK(BM_JudgeSignedByRolloverKey)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

}  // namespace
}  // namespace keywarden::bench

BENCHMARK_MAIN();
