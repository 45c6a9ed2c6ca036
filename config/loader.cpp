#include "config/loader.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <yaml-cpp/yaml.h>

#include "config/schema.hpp"
#include "config/schema_reader.hpp"
#include "config/yaml_documents.hpp"
#include "config/yaml_size.hpp"

namespace pgroute::config {
namespace {

LoadResult failure(Problem problem) { return LoadResult{nullptr, {std::move(problem)}}; }

Problem too_large(const std::string& source) {
  return Problem{source, 0, 0,
                 "is larger than " + std::to_string(kMaxConfigFileBytes >> 20) + " MiB; refusing to read it"};
}

Problem problem_at(const std::string& source, const YAML::Mark& mark, std::string message) {
  if (mark.is_null()) return Problem{source, 0, 0, std::move(message)};
  return Problem{source, mark.line + 1, mark.column + 1, std::move(message)};
}

}  // namespace

uint64_t content_hash(std::string_view text) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64 bit: tells operators which file is live
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::optional<Problem> read_text_file(const std::string& path, std::string& text) {
  text.clear();
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Problem{path, 0, 0, std::string("cannot open: ") + std::strerror(errno)};
  char buffer[16384];
  size_t n = 0;
  // Stops one buffer past the limit: a huge (or endless, /dev/zero) file is not read into memory.
  while (text.size() <= kMaxConfigFileBytes && (n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
    text.append(buffer, n);
  int read_error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (read_error != 0) return Problem{path, 0, 0, std::string("cannot read: ") + std::strerror(read_error)};
  if (text.size() > kMaxConfigFileBytes) return too_large(path);
  return std::nullopt;
}

LoadResult load_text(std::string_view yaml, const std::string& source_name, const EnvLookup& env) {
  if (yaml.size() > kMaxConfigFileBytes) return failure(too_large(source_name));
  std::vector<YAML::Node> documents;
  try {
    documents = load_yaml_documents(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return failure(problem_at(source_name, e.mark, "invalid YAML: " + e.msg));
  }
  if (documents.size() > 1)
    return failure(problem_at(source_name, documents[1].Mark(),
                              "expected one YAML document, found " + std::to_string(documents.size())));
  if (!documents.empty())
    if (auto problem = check_expanded_size(documents[0], source_name)) return failure(std::move(*problem));

  SchemaReader reader(source_name, env);
  auto config = std::make_shared<Config>();
  config->source = source_name;
  config->content_hash = content_hash(yaml);
  try {
    read_config(reader, documents.empty() ? YAML::Node() : documents[0], *config);
  } catch (const YAML::Exception& e) {
    // The walk only uses non-throwing accessors; this is a safety net, not a code path.
    reader.report(e.mark, KeyPath(), "cannot read this value: " + e.msg);
  }
  if (reader.has_problems()) return LoadResult{nullptr, reader.take_problems()};
  return LoadResult{std::move(config), {}};
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::string text;
  if (auto problem = read_text_file(path, text)) return failure(std::move(*problem));
  return load_text(text, path, env);
}

}  // namespace pgroute::config
