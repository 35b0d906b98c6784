// The fixtures under testdata/ (written by testdata/make_fixtures.py with
// the xmlsec1 command line), for the SAML unit tests.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace keywarden::saml_test {

inline std::string testdata(const std::string& name) {
  const std::string path = std::string(SAML_TESTDATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string response_fixture(const std::string& name) { return testdata("responses/" + name); }

}  // namespace keywarden::saml_test
