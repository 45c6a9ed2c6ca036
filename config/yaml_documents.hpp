// YAML::LoadAll, made safe against a yaml-cpp 0.7 loop: at some characters between documents (a ','
// at the top level: ",", "- a\n,") its parser reports an empty document again and again without
// consuming anything, so LoadAll never returns and allocates until memory runs out (found by
// tests/fuzz/fuzz_config: `pgroute --check` died with std::bad_alloc, a reload took the proxy down).
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace pgroute::config {

// The documents of `text`, as YAML::LoadAll gives them. Throws YAML::ParserException where the parser
// would be stuck, like any other YAML error.
std::vector<YAML::Node> load_yaml_documents(const std::string& text);

}  // namespace pgroute::config
