#include "connectors/source_registry.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <set>
#include <string>

namespace keywarden {
namespace {

TEST(SourceRegistry, EveryTypeIsRegisteredOnceWithAValidName) {
  std::set<std::string> names;
  for (const SourceType* t : source_types()) {
    const std::string name(t->schema.type);
    EXPECT_TRUE(names.insert(name).second) << name << " registered twice";
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"), std::string::npos) << name;
    EXPECT_NE(t->make, nullptr) << name;
    EXPECT_EQ(find_source_type(name), t);
  }
  EXPECT_EQ(source_schemas().size(), source_types().size());
}

TEST(SourceRegistry, PushRoutesDoNotOverlap) {
  // A request path must lead to one type: no prefix may start another.
  for (const SourceType* a : source_types()) {
    for (const SourceType* b : source_types()) {
      if (a == b || a->push_prefix.empty() || b->push_prefix.empty()) continue;
      EXPECT_FALSE(b->push_prefix.starts_with(a->push_prefix)) << a->push_prefix << " shadows " << b->push_prefix;
    }
    if (!a->push_prefix.empty()) {
      EXPECT_TRUE(a->push_prefix.starts_with("/") && a->push_prefix.ends_with("/")) << a->push_prefix;
    }
  }
}

TEST(SourceRegistry, EveryKeyHasADocLineAndDefaultsFitTheirKind) {
  for (const SourceType* t : source_types()) {
    for (const SourceKey& key : t->schema.keys) {
      EXPECT_FALSE(key.doc.empty()) << t->schema.type << "." << key.name;
      EXPECT_FALSE(key.required && !key.fallback.empty())
          << t->schema.type << "." << key.name << ": a required key has no default";
      if (key.kind == ValueKind::secret) EXPECT_TRUE(key.fallback.empty()) << "secrets have no default";
    }
  }
}

TEST(SourceRegistry, UnknownTypeIsRefused) {
  boost::asio::io_context io;
  SourceConfig config;
  config.name = "x";
  config.type = "carrier-pigeon";
  EXPECT_EQ(find_source_type("carrier-pigeon"), nullptr);
  EXPECT_THROW(make_source(config, io.get_executor()), std::invalid_argument);
}

TEST(SourceRegistry, MakeBuildsTheRegisteredType) {
  boost::asio::io_context io;
  SourceConfig config;
  config.name = "hr";
  config.type = "file";
  config.settings["path"] = "/nonexistent/identities.json";
  auto source = make_source(config, io.get_executor());
  ASSERT_TRUE(source);
  EXPECT_EQ(source->name(), "hr");
  EXPECT_TRUE(source->polls());
}

}  // namespace
}  // namespace keywarden
