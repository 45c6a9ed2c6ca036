// Loading pgroute.yaml into an immutable Config snapshot. Every problem in the file is reported in
// one pass (file order), each as "file:line:col: path: message". A failed load returns no config;
// keeping the previous snapshot on a failed reload is the caller's decision.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/env_expand.hpp"
#include "config/problem.hpp"

namespace pgroute::config {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null iff problems is non-empty
  std::vector<Problem> problems;
};

// FNV-1a (64 bit) of the file text: Config::content_hash, and how the file watcher tells a real change.
uint64_t content_hash(std::string_view text);
// The whole file into text; an unreadable file is one problem without a position.
std::optional<Problem> read_text_file(const std::string& path, std::string& text);

// An unreadable file is one problem without a position.
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env);
// source_name is what problems and Config::source call the text (usually its path).
LoadResult load_text(std::string_view yaml, const std::string& source_name, const EnvLookup& env = process_env);

}  // namespace pgroute::config
