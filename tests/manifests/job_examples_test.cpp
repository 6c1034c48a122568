// The Job executor's examples (manifests/examples/drawing/job-executor-*.yaml)
// read and validated as the controller reads a SchemaMigration:
// reconcile::SchemaMigrationFromJson, then core::ValidateSpec (the CRD's
// rules mirrored, CEL ones included), and each verb's command expanded for
// a target as the operator would. An example the controller would refuse
// fails here, naming the field.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/job_spec.h"
#include "core/schema_migration.h"
#include "reconcile/schema_migration_json.h"

namespace {

using nlohmann::json;

// YAML -> JSON with YAML 1.2 core scalars (what kubectl sends): a quoted
// scalar is a string; unquoted integers, true/false and null are typed.
json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) {
        out[item.first.as<std::string>()] = ToJson(item.second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) {
        out.push_back(ToJson(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") {
        return text;
      }
      if (std::regex_match(text, std::regex("-?[0-9]+"))) {
        return std::stoll(text);
      }
      if (text == "true" || text == "false") {
        return text == "true";
      }
      return text;
    }
    default:
      return nullptr;
  }
}

schemaop::core::SchemaMigration Load(const std::string& name) {
  const std::string path =
      std::string(SCHEMAOP_SOURCE_DIR) + "/manifests/examples/drawing/" + name;
  auto object = schemaop::reconcile::SchemaMigrationFromJson(ToJson(YAML::LoadFile(path)));
  EXPECT_TRUE(object.ok()) << name << ": " << object.status().ToString();
  return object.ok() ? *object : schemaop::core::SchemaMigration{};
}

void ExpectValid(const schemaop::core::SchemaMigration& object, const std::string& name) {
  for (const auto& error : schemaop::core::ValidateSpec(object.spec)) {
    ADD_FAILURE() << name << ": " << error.ToString();
  }
}

TEST(JobExamplesTest, AlembicExampleIsValid) {
  const auto object = Load("job-executor-alembic.yaml");
  ExpectValid(object, "job-executor-alembic.yaml");
  ASSERT_TRUE(object.spec.job.has_value());
  EXPECT_EQ(object.spec.job->preset, schemaop::core::kPresetAlembic);
}

TEST(JobExamplesTest, GolangMigrateExampleIsAValidGenericForm) {
  const auto object = Load("job-executor-golang-migrate.yaml");
  ExpectValid(object, "job-executor-golang-migrate.yaml");
  ASSERT_TRUE(object.spec.job.has_value());
  const auto& job = *object.spec.job;
  EXPECT_EQ(job.preset, schemaop::core::kPresetGeneric);
  for (const char* verb : {schemaop::core::kVerbUpgrade, schemaop::core::kVerbDowngrade}) {
    auto argv = schemaop::core::ExpandCommand(schemaop::core::CommandFor(job, verb),
                                              "20240101000000", object.spec.target_revision);
    ASSERT_TRUE(argv.ok()) << verb << ": " << argv.status().ToString();
    ASSERT_EQ(argv->size(), 4u) << verb;
    EXPECT_EQ((*argv)[0], "sh");
    EXPECT_EQ((*argv)[3], "20240301120000") << verb;
    // The URL is read from the environment inside the container, never
    // written into the Job's arguments.
    EXPECT_NE((*argv)[2].find("\"$" + job.url_env + "\""), std::string::npos) << (*argv)[2];
    EXPECT_EQ((*argv)[2].find("postgres"), std::string::npos) << (*argv)[2];
  }
}

}  // namespace
