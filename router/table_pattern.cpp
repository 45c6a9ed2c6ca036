#include "router/table_pattern.hpp"

#include <fnmatch.h>

namespace pgroute::router {

bool glob_matches(std::string_view pattern, std::string_view text) {
    return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

TablePattern::TablePattern(std::string pattern) : text_(std::move(pattern)) {
    auto dot = text_.find('.');
    if (dot == std::string::npos) {
        name_glob_ = text_;
    } else {
        schema_glob_ = text_.substr(0, dot);
        name_glob_ = text_.substr(dot + 1);
    }
}

bool TablePattern::matches(std::string_view schema, std::string_view name) const {
    if (!glob_matches(name_glob_, name)) return false;
    return schema_glob_.empty() || schema.empty() || glob_matches(schema_glob_, schema);
}

}  // namespace pgroute::router
