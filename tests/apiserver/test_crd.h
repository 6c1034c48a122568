#pragma once
// The SchemaMigration CRD as the in-process tests create it on the test API
// server: the names and the status subresource of crds/, any field accepted
// (the e2e tier applies crds/ itself). Header-only.
#include <nlohmann/json.hpp>

namespace schemaop::apiserver {

inline nlohmann::json SchemaMigrationTestCrd() {
  using Json = nlohmann::json;
  Json schema = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "schemamigrations.schemaop.dev"}}},
          {"spec",
           {{"group", "schemaop.dev"},
            {"scope", "Namespaced"},
            {"names",
             {{"plural", "schemamigrations"},
              {"singular", "schemamigration"},
              {"kind", "SchemaMigration"},
              {"listKind", "SchemaMigrationList"},
              {"shortNames", {"smig"}}}},
            {"versions", Json::array({{{"name", "v1alpha1"},
                                       {"served", true},
                                       {"storage", true},
                                       {"subresources", {{"status", Json::object()}}},
                                       {"schema", {{"openAPIV3Schema", schema}}}}})}}}};
}

}  // namespace schemaop::apiserver
