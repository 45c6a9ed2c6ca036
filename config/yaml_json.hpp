// A YAML subtree as JSON text, for plugin options: plugins get one string in a format every
// language can parse, not a yaml-cpp node.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

namespace pgroute::config {

// Mappings -> objects (keys as strings), sequences -> arrays, null -> null. A plain (unquoted)
// scalar that is an integer, true/false or null/~ keeps that type; every other scalar is a string.
// Compact: no whitespace between tokens.
std::string yaml_to_json(const YAML::Node& node);

}  // namespace pgroute::config
