#include "config/schema_reader.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "config/suggest.hpp"
#include "config/units.hpp"

namespace pgroute::config {
namespace {

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// Byte counts in messages the way users write them: "1GB" rather than "1073741824".
std::string size_text(uint64_t bytes) {
  constexpr std::array<std::pair<uint64_t, std::string_view>, 3> kUnits = {
      {{1ull << 30, "GB"}, {1ull << 20, "MB"}, {1ull << 10, "kB"}}};
  for (const auto& [unit, suffix] : kUnits)
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + std::string(suffix);
  return std::to_string(bytes) + "B";
}

}  // namespace

std::string position_of(const YAML::Mark& mark) {
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

SchemaReader::SchemaReader(std::string source, EnvLookup env) : source_(std::move(source)), env_(std::move(env)) {}

void SchemaReader::report(const YAML::Mark& mark, const KeyPath& path, std::string_view message) {
  if (mark.is_null()) return report_unplaced(path, message);
  std::string text = path.is_root() ? std::string(message) : path.str() + ": " + std::string(message);
  problems_.push_back(Problem{source_, mark.line + 1, mark.column + 1, std::move(text)});
}

void SchemaReader::report_unplaced(const KeyPath& path, std::string_view message) {
  std::string text = path.is_root() ? std::string(message) : path.str() + ": " + std::string(message);
  problems_.push_back(Problem{source_, 0, 0, std::move(text)});
}

void SchemaReader::run_deferred() {
  // A check may defer another; index-based so that growth is safe.
  for (size_t i = 0; i < deferred_.size(); ++i) deferred_[i]();
  deferred_.clear();
}

std::vector<Problem> SchemaReader::take_problems() {
  auto order = [](const Problem& p) {
    return p.line == 0 ? std::pair{std::numeric_limits<int>::max(), 0} : std::pair{p.line, p.column};
  };
  std::stable_sort(problems_.begin(), problems_.end(),
                   [&](const Problem& a, const Problem& b) { return order(a) < order(b); });
  return std::move(problems_);
}

bool SchemaReader::expect_map(const YAML::Node& node, const KeyPath& path) {
  if (node.IsMap()) return true;
  report(node.Mark(), path, "expected a mapping, got " + std::string(kind_of(node)));
  return false;
}

bool SchemaReader::expect_sequence(const YAML::Node& node, const KeyPath& path) {
  if (node.IsSequence()) return true;
  report(node.Mark(), path, "expected a sequence, got " + std::string(kind_of(node)));
  return false;
}

void SchemaReader::for_each_entry(const YAML::Node& map, const KeyPath& path,
                                  const std::function<void(const Entry&)>& on_entry) {
  if (!expect_map(map, path)) return;
  // yaml-cpp keeps duplicate keys in iteration order but lookups see only the first, so the
  // first occurrence is the one that counts and the later ones are the mistakes.
  std::map<std::string, YAML::Mark> first_seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // By value: it-> yields a temporary pair, so a reference to its member would dangle.
    const YAML::Node key_node = it->first;
    if (!key_node.IsScalar()) {
      report(key_node.Mark(), path, "keys must be plain names, got " + std::string(kind_of(key_node)) + " as a key");
      continue;
    }
    const std::string& key = key_node.Scalar();
    auto [first, inserted] = first_seen.emplace(key, key_node.Mark());
    if (!inserted) {
      report(key_node.Mark(), path, "duplicate key " + quoted(key) + " (first at " + position_of(first->second) + ")");
      continue;
    }
    on_entry(Entry{key, key_node, it->second, path.key(key)});
  }
}

void SchemaReader::read_fields(const YAML::Node& map, const KeyPath& path, std::span<const Field> fields) {
  std::vector<std::string_view> names;
  for (const Field& field : fields) names.push_back(field.key);
  std::vector<bool> seen(fields.size(), false);
  for_each_entry(map, path, [&](const Entry& entry) {
    auto field = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == entry.key; });
    if (field == fields.end()) {
      std::string message = "unknown key " + quoted(entry.key);
      if (auto suggestion = closest_match(entry.key, names))
        message += " (did you mean " + quoted(*suggestion) + "?)";
      else
        message += " (known keys: " + joined(names) + ")";
      report(entry.key_node.Mark(), path, message);
      return;
    }
    seen[static_cast<size_t>(field - fields.begin())] = true;
    if (has_value(entry)) field->read(entry);
  });
  if (!map.IsMap()) return;
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].required && !seen[i]) report(map.Mark(), path, "missing required key " + quoted(fields[i].key));
}

void SchemaReader::for_each_item(const YAML::Node& seq, const KeyPath& path,
                                 const std::function<void(const YAML::Node& item, const KeyPath& path)>& on_item) {
  if (!expect_sequence(seq, path)) return;
  size_t index = 0;
  for (auto it = seq.begin(); it != seq.end(); ++it, ++index) on_item(*it, path.index(index));
}

bool SchemaReader::has_value(const Entry& entry) {
  if (!entry.value.IsNull()) return true;
  report(entry.key_node.Mark(), entry.path, "missing value");
  return false;
}

std::optional<std::string> SchemaReader::text(const YAML::Node& node, const KeyPath& path) {
  if (!node.IsScalar()) {
    report(node.Mark(), path,
           node.IsNull() ? std::string("missing value") : "expected a scalar value, got " + std::string(kind_of(node)));
    return std::nullopt;
  }
  Expansion expanded = expand_env(node.Scalar(), env_);
  if (!expanded.value) report(node.Mark(), path, expanded.error);
  return std::move(expanded.value);
}

std::optional<std::string> SchemaReader::non_empty_text(const YAML::Node& node, const KeyPath& path) {
  auto value = text(node, path);
  if (value && value->empty()) {
    report(node.Mark(), path, "must not be empty");
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> SchemaReader::integer(const YAML::Node& node, const KeyPath& path, int64_t min, int64_t max) {
  auto value_text = text(node, path);
  if (!value_text) return std::nullopt;
  auto value = parse_integer(*value_text);
  if (!value) {
    report(node.Mark(), path, "expected an integer, got " + quoted(*value_text));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    // Ranges that reach the int limit are "at least" rules: the upper bound is not worth quoting.
    std::string range;
    if (max < std::numeric_limits<int>::max())
      range = "must be between " + std::to_string(min) + " and " + std::to_string(max);
    else if (*value > max)
      range = "must be at most " + std::to_string(max);
    else if (min == 0)
      range = "must not be negative";
    else
      range = "must be at least " + std::to_string(min);
    report(node.Mark(), path, range + ", got " + std::to_string(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> SchemaReader::duration(const YAML::Node& node, const KeyPath& path, Duration min) {
  auto value_text = text(node, path);
  if (!value_text) return std::nullopt;
  auto value = parse_duration(*value_text);
  if (!value) {
    report(node.Mark(), path,
           "invalid duration " + quoted(*value_text) + " (use e.g. 500ms, 5s, 2m, 1h, or a whole number of seconds)");
    return std::nullopt;
  }
  if (*value < min) {
    report(node.Mark(), path,
           (min == Duration(1) ? std::string("must be greater than 0")
                               : "must be at least " + std::to_string(min.count()) + "ms") +
               ", got " + quoted(*value_text));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> SchemaReader::byte_size(const YAML::Node& node, const KeyPath& path, uint64_t min,
                                                uint64_t max) {
  auto value_text = text(node, path);
  if (!value_text) return std::nullopt;
  auto value = parse_byte_size(*value_text);
  if (!value) {
    report(node.Mark(), path,
           "invalid size " + quoted(*value_text) + " (use e.g. 512kB, 64MB, 1GB, 1GiB, or a number of bytes)");
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    report(node.Mark(), path,
           "must be between " + size_text(min) + " and " + size_text(max) + ", got " + quoted(*value_text));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> SchemaReader::boolean(const YAML::Node& node, const KeyPath& path) {
  static constexpr std::array<Choice<bool>, 2> kBooleans = {{{"true", true}, {"false", false}}};
  return choice(node, path, kBooleans);
}

std::optional<size_t> SchemaReader::choice_index(const YAML::Node& node, const KeyPath& path,
                                                 std::span<const std::string_view> names) {
  auto value = text(node, path);
  if (!value) return std::nullopt;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == *value) return i;
  report(node.Mark(), path, "unknown value " + quoted(*value) + " (allowed: " + joined(names) + ")");
  return std::nullopt;
}

std::string SchemaReader::place(const Entry& e) const {
  const YAML::Mark m = e.value.Mark();
  return source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + e.path.str();
}

}  // namespace pgroute::config
