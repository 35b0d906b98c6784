// SETs verified per second on one core (issue 9): verify_set() on tokens the
// npm `jose` package signed (connectors/ssf/testdata/set_fixtures.json), the
// whole check SPEC §8.1 asks for: allow-list, kid lookup, cjose signature
// verification and every claim. Each iteration verifies one token; a refusal
// aborts the run, so the figure is never that of a cheap early exit.
//
//     build/bench/ssf_verify_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <variant>

#include "connectors/ssf/set_verifier.h"

namespace keywarden {
namespace {

using nlohmann::json;

const json& fixtures() {
  static const json loaded = [] {
    std::ifstream in(std::string(SSF_TESTDATA_DIR) + "/set_fixtures.json");
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
  }();
  return loaded;
}

void verify_fixture(benchmark::State& state, const char* name) {
  const SigningKeys keys = SigningKeys::parse(fixtures().at("jwks").dump());
  const SetExpectations expect{fixtures().at("issuer").get<std::string>(), fixtures().at("audience").get<std::string>(),
                               Timestamp(Duration(fixtures().at("now").get<long long>()))};
  const std::string token = fixtures().at("tokens").at(name).get<std::string>();
  if (std::holds_alternative<SetRefusal>(verify_set(token, keys, expect))) {
    state.SkipWithError("the fixture is refused");
    return;
  }
  for (auto _ : state) {
    SetVerification result = verify_set(token, keys, expect);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifySetRs256(benchmark::State& state) { verify_fixture(state, "good_rs256"); }
void BM_VerifySetPs256(benchmark::State& state) { verify_fixture(state, "good_ps256"); }
void BM_VerifySetEs256(benchmark::State& state) { verify_fixture(state, "good_es256"); }

BENCHMARK(BM_VerifySetRs256);
BENCHMARK(BM_VerifySetPs256);
BENCHMARK(BM_VerifySetEs256);

}  // namespace
}  // namespace keywarden

BENCHMARK_MAIN();
