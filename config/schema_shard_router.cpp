// routers[i] with type: shard — one table split over aliases by a key column (hash, range or list).
// Key values written in the file (range bounds, list values) are checked against key_type here, so
// that a typo is reported at its position; ordering checks (overlaps) happen when the router is built.
#include <cctype>

#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

constexpr std::array<Choice<ShardKeyType>, 9> kKeyTypes = {{{"int2", ShardKeyType::Int2},
                                                            {"smallint", ShardKeyType::Int2},
                                                            {"int4", ShardKeyType::Int4},
                                                            {"int", ShardKeyType::Int4},
                                                            {"integer", ShardKeyType::Int4},
                                                            {"int8", ShardKeyType::Int8},
                                                            {"bigint", ShardKeyType::Int8},
                                                            {"text", ShardKeyType::Text},
                                                            {"uuid", ShardKeyType::Uuid}}};

constexpr std::array<Choice<ShardMethod>, 3> kMethods = {
    {{"hash", ShardMethod::Hash}, {"range", ShardMethod::Range}, {"list", ShardMethod::List}}};

constexpr std::array<Choice<WithoutKey>, 2> kWithoutKey = {{{"error", WithoutKey::Error}, {"all", WithoutKey::All}}};

// A key value written in the file, checked once key_type is known.
struct WrittenValue {
  std::string text;
  YAML::Mark mark;
  KeyPath path;
};

// Where each method-specific key was written, to point at the one that does not fit the method.
struct Seen {
  YAML::Mark shards = YAML::Mark::null_mark(), ranges = YAML::Mark::null_mark(), lists = YAML::Mark::null_mark(),
             fallback = YAML::Mark::null_mark();
  bool key_type_read = false;
};

bool is_uuid_text(std::string_view text) {
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') text = text.substr(1, text.size() - 2);
  int digits = 0;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0)
      ++digits;
    else if (c != '-')
      return false;
  }
  return digits == 32 && text.front() != '-' && text.back() != '-';
}

// Empty when text is a valid value of type, else why not.
std::string value_problem(ShardKeyType type, const std::string& text) {
  auto integer_in = [&](int64_t min, int64_t max) -> std::string {
    auto value = parse_integer(text);
    if (!value) return "\"" + text + "\" is not a valid " + std::string(to_string(type)) + " shard key";
    if (*value < min || *value > max) return std::string(to_string(type)) + " shard key " + text + " is out of range";
    return {};
  };
  switch (type) {
    case ShardKeyType::Int2: return integer_in(INT16_MIN, INT16_MAX);
    case ShardKeyType::Int4: return integer_in(INT32_MIN, INT32_MAX);
    case ShardKeyType::Int8: return integer_in(INT64_MIN, INT64_MAX);
    case ShardKeyType::Text: return {};
    case ShardKeyType::Uuid:
      return is_uuid_text(text) ? std::string() : "\"" + text + "\" is not a valid uuid shard key";
  }
  return {};
}

void read_ranges(SchemaReader& r, const Entry& e, const Config& config, ShardRouterSpec& spec,
                 std::vector<WrittenValue>& values) {
  if (e.value.IsSequence() && e.value.size() == 0) {
    r.report(e.value.Mark(), e.path, "at least one range is required");
    return;
  }
  r.for_each_item(e.value, e.path, [&](const YAML::Node& node, const KeyPath& path) {
    ShardRangeSpec range;
    bool from_given = false;
    auto bound = [&](const Entry& b, std::optional<std::string>& out) {
      if (auto text = r.non_empty_text(b.value, b.path)) {
        values.push_back({*text, b.value.Mark(), b.path});
        out = std::move(*text);
      }
    };
    const Field fields[] = {
        {"from", [&](const Entry& b) { from_given = true, bound(b, range.from); }},
        {"to", [&](const Entry& b) { bound(b, range.to); }},
        {"alias",
         [&](const Entry& a) {
           if (auto alias = r.non_empty_text(a.value, a.path)) {
             range.alias = *alias;
             require_alias(r, config, *alias, a.value.Mark(), a.path);
           }
         },
         true},
    };
    r.read_fields(node, path, fields);
    if (!node.IsMap()) return;
    // Ranges listed in ascending order only need their upper bounds.
    if (!from_given && !spec.ranges.empty()) range.from = spec.ranges.back().to;
    spec.ranges.push_back(std::move(range));
  });
}

void read_lists(SchemaReader& r, const Entry& e, const Config& config, ShardRouterSpec& spec,
                std::vector<WrittenValue>& values) {
  if (e.value.IsMap() && e.value.size() == 0) {
    r.report(e.value.Mark(), e.path, "at least one list is required");
    return;
  }
  r.for_each_entry(e.value, e.path, [&](const Entry& list) {
    require_alias(r, config, list.key, list.key_node.Mark(), list.path);
    if (!r.has_value(list)) return;
    ShardListSpec spec_list{list.key, {}};
    // "shard_1: 3" is a list of one.
    auto add = [&](const YAML::Node& node, const KeyPath& path) {
      if (auto text = r.non_empty_text(node, path)) {
        values.push_back({*text, node.Mark(), path});
        spec_list.values.push_back(std::move(*text));
      }
    };
    if (list.value.IsScalar())
      add(list.value, list.path);
    else
      r.for_each_item(list.value, list.path, add);
    spec.lists.push_back(std::move(spec_list));
  });
}

void read_alias_list(SchemaReader& r, const Entry& e, const Config& config, std::vector<std::string>& out) {
  if (e.value.IsSequence() && e.value.size() == 0) {
    r.report(e.value.Mark(), e.path, "at least one shard is required");
    return;
  }
  r.for_each_item(e.value, e.path, [&](const YAML::Node& node, const KeyPath& path) {
    if (auto alias = r.non_empty_text(node, path)) {
      out.push_back(*alias);
      require_alias(r, config, *alias, node.Mark(), path);
    }
  });
}

void read_patterns(SchemaReader& r, const Entry& e, std::vector<std::string>& out) {
  if (e.value.IsScalar()) {  // "colocated: countries" is a list of one
    if (auto pattern = r.non_empty_text(e.value, e.path)) out.push_back(*pattern);
    return;
  }
  r.for_each_item(e.value, e.path, [&](const YAML::Node& node, const KeyPath& path) {
    if (auto pattern = r.non_empty_text(node, path)) out.push_back(*pattern);
  });
}

// The keys a method needs and the ones it does not use.
void check_method_keys(SchemaReader& r, const YAML::Node& item, const KeyPath& path, const ShardRouterSpec& spec,
                       const Seen& seen) {
  const std::string method(to_string(spec.method));
  auto require = [&](const YAML::Mark& mark, std::string_view key) {
    if (mark.is_null()) r.report(item.Mark(), path, "method " + method + " needs \"" + std::string(key) + "\"");
  };
  auto refuse = [&](const YAML::Mark& mark, std::string_view key, std::string_view for_methods) {
    if (!mark.is_null())
      r.report(mark, path.key(key), "only used by method " + std::string(for_methods) + ", not " + method);
  };
  switch (spec.method) {
    case ShardMethod::Hash:
      require(seen.shards, "shards");
      refuse(seen.ranges, "ranges", "range");
      refuse(seen.lists, "lists", "list");
      refuse(seen.fallback, "fallback", "range or list");
      break;
    case ShardMethod::Range:
      require(seen.ranges, "ranges");
      refuse(seen.shards, "shards", "hash");
      refuse(seen.lists, "lists", "list");
      break;
    case ShardMethod::List:
      require(seen.lists, "lists");
      refuse(seen.shards, "shards", "hash");
      refuse(seen.ranges, "ranges", "range");
      break;
  }
}

}  // namespace

void read_shard_router(SchemaReader& r, const YAML::Node& item, const KeyPath& path, const Config& config,
                       ShardRouterSpec& spec) {
  Seen seen;
  std::vector<WrittenValue> values;
  const Field fields[] = {
      {"type", [](const Entry&) {}},
      {"table", [&](const Entry& e) { assign(spec.table, r.non_empty_text(e.value, e.path)); }, true},
      {"key", [&](const Entry& e) { assign(spec.key, r.non_empty_text(e.value, e.path)); }, true},
      {"key_type",
       [&](const Entry& e) {
         auto type = r.choice(e.value, e.path, kKeyTypes);
         seen.key_type_read = type.has_value();
         assign(spec.key_type, type);
       },
       true},
      {"method", [&](const Entry& e) { assign(spec.method, r.choice(e.value, e.path, kMethods)); }},
      {"shards",
       [&](const Entry& e) {
         seen.shards = e.key_node.Mark();
         read_alias_list(r, e, config, spec.shards);
       }},
      {"ranges",
       [&](const Entry& e) {
         seen.ranges = e.key_node.Mark();
         read_ranges(r, e, config, spec, values);
       }},
      {"lists",
       [&](const Entry& e) {
         seen.lists = e.key_node.Mark();
         read_lists(r, e, config, spec, values);
       }},
      {"fallback",
       [&](const Entry& e) {
         seen.fallback = e.key_node.Mark();
         if (auto alias = r.non_empty_text(e.value, e.path)) {
           spec.fallback = *alias;
           require_alias(r, config, *alias, e.value.Mark(), e.path);
         }
       }},
      {"without_key", [&](const Entry& e) { assign(spec.without_key, r.choice(e.value, e.path, kWithoutKey)); }},
      {"colocated", [&](const Entry& e) { read_patterns(r, e, spec.colocated); }},
  };
  r.read_fields(item, path, fields);
  check_method_keys(r, item, path, spec, seen);
  if (!seen.key_type_read) return;  // values cannot be judged without their type
  for (const WrittenValue& v : values)
    if (std::string problem = value_problem(spec.key_type, v.text); !problem.empty()) r.report(v.mark, v.path, problem);
}

}  // namespace pgroute::config
