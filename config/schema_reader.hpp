// The generic half of the schema walk: typed reads of YAML nodes that report every problem with
// its position and key path instead of stopping at the first. Sections (schema_*.cpp) describe
// their keys as a table of Fields; adding a key or a section is adding a row.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/env_expand.hpp"
#include "config/key_path.hpp"
#include "config/problem.hpp"

namespace pgroute::config {

// One allowed spelling of an enumerated value.
template <class E>
struct Choice {
  std::string_view name;
  E value;
};

class SchemaReader {
 public:
  // One key of a mapping, in file order. path already includes the key.
  struct Entry {
    std::string key;
    YAML::Node key_node, value;
    KeyPath path;
  };
  // A known key of a fixed-shape mapping and what to do with its (non-null) value.
  struct Field {
    std::string_view key;
    std::function<void(const Entry&)> read;
    bool required = false;
  };

  SchemaReader(std::string source, EnvLookup env);

  const std::string& source() const { return source_; }
  // "FILE:LINE:COL: key.path": where a value is written, for what loading it finds wrong later (a TLS
  // file that does not load).
  std::string place(const Entry& e) const;

  // --- problems -------------------------------------------------------------------------------
  void report(const YAML::Mark& mark, const KeyPath& path, std::string_view message);
  void report_unplaced(const KeyPath& path, std::string_view message);
  // For checks that need the whole file (a reference to an alias defined further down): they run
  // in run_deferred(), after the walk, in the order they were added.
  void defer(std::function<void()> check) { deferred_.push_back(std::move(check)); }
  void run_deferred();
  bool has_problems() const { return !problems_.empty(); }
  // All problems in file order (stable for equal positions); those without a position last.
  std::vector<Problem> take_problems();

  // --- structure ------------------------------------------------------------------------------
  bool expect_map(const YAML::Node& node, const KeyPath& path);
  bool expect_sequence(const YAML::Node& node, const KeyPath& path);
  // Every key of a mapping in file order. Reports non-scalar keys and duplicate keys (at the
  // second occurrence, which is then skipped); the value may be null (see has_value).
  void for_each_entry(const YAML::Node& map, const KeyPath& path, const std::function<void(const Entry&)>& on_entry);
  // A mapping with a fixed set of keys: unknown keys are reported with a "did you mean", null
  // values as missing, absent required keys at the mapping.
  void read_fields(const YAML::Node& map, const KeyPath& path, std::span<const Field> fields);
  // Every item of a sequence with its index path ("users[2]").
  void for_each_item(const YAML::Node& seq, const KeyPath& path,
                     const std::function<void(const YAML::Node& item, const KeyPath& path)>& on_item);
  // false (and a "missing value" at the key) when the entry has no value: an empty value's own
  // mark points at the next token, so the key is the honest place to point at.
  bool has_value(const Entry& entry);

  // --- scalars: each reports its own problem and returns nullopt --------------------------------
  // A scalar with ${VAR} expanded.
  std::optional<std::string> text(const YAML::Node& node, const KeyPath& path);
  std::optional<std::string> non_empty_text(const YAML::Node& node, const KeyPath& path);
  std::optional<int64_t> integer(const YAML::Node& node, const KeyPath& path, int64_t min, int64_t max);
  std::optional<Duration> duration(const YAML::Node& node, const KeyPath& path, Duration min);
  std::optional<uint64_t> byte_size(const YAML::Node& node, const KeyPath& path, uint64_t min, uint64_t max);
  // true or false (YAML 1.2 core spelling; yes/no/on/off are refused as ambiguous).
  std::optional<bool> boolean(const YAML::Node& node, const KeyPath& path);
  template <class E, size_t N>
  std::optional<E> choice(const YAML::Node& node, const KeyPath& path, const std::array<Choice<E>, N>& choices) {
    std::array<std::string_view, N> names;
    for (size_t i = 0; i < N; ++i) names[i] = choices[i].name;
    auto index = choice_index(node, path, names);
    if (!index) return std::nullopt;
    return choices[*index].value;
  }

 private:
  std::optional<size_t> choice_index(const YAML::Node& node, const KeyPath& path,
                                     std::span<const std::string_view> names);

  std::string source_;
  EnvLookup env_;
  std::vector<Problem> problems_;
  std::vector<std::function<void()>> deferred_;
};

// Stores a successfully read value; leaves the default in place otherwise.
template <class T, class U>
void assign(T& target, const std::optional<U>& value) {
  if (value) target = static_cast<T>(*value);
}

// "3:9" for messages such as "duplicate key (first at 3:9)".
std::string position_of(const YAML::Mark& mark);

}  // namespace pgroute::config
