#include "router/shard_router.hpp"

#include <algorithm>

#include "router/shard_hash.hpp"

namespace pgroute::router {
namespace {

void add_unique(std::vector<std::string>& items, const std::string& item) {
  if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
}

std::vector<std::string> sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

}  // namespace

ShardRouter::ShardRouter(ShardRouterOptions options)
    : options_(std::move(options)), name_("shard(" + options_.table + ")"), table_(options_.table) {
  for (const auto& pattern : options_.colocated) colocated_.emplace_back(pattern);
}

std::unique_ptr<ShardRouter> ShardRouter::create(ShardRouterOptions options, std::string& error) {
  const std::string who = "shard router for \"" + options.table + "\": ";
  auto fail = [&](std::string message) -> std::unique_ptr<ShardRouter> {
    error = std::move(message);
    return nullptr;
  };
  if (options.table.empty()) return fail("shard router: table is required");
  if (options.key.empty()) return fail(who + "key is required");
  std::unique_ptr<ShardRouter> router(new ShardRouter(std::move(options)));
  const ShardRouterOptions& o = router->options_;
  auto parse = [&](const std::string& text, std::optional<KeyDatum>& out) {
    out = parse_key_text(o.key_type, text);
    if (!out) error = who + "\"" + text + "\" is not a valid " + std::string(key_type_name(o.key_type));
    return out.has_value();
  };
  switch (o.method) {
    case ShardMethod::Hash:
      if (o.shards.empty()) return fail(who + "hash sharding needs at least one shard");
      break;
    case ShardMethod::Range: {
      if (o.ranges.empty()) return fail(who + "range sharding needs at least one range");
      for (const auto& r : o.ranges) {
        Range range{std::nullopt, std::nullopt, r.alias};
        if (r.from && !parse(*r.from, range.from)) return nullptr;
        if (r.to && !parse(*r.to, range.to)) return nullptr;
        if (range.from && range.to && compare_keys(*range.from, *range.to) >= 0)
          return fail(who + "range for " + r.alias + " is empty (from must be below to)");
        router->ranges_.push_back(std::move(range));
      }
      auto& ranges = router->ranges_;
      std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
        if (!a.from || !b.from) return !a.from && b.from;  // unbounded-below first
        return compare_keys(*a.from, *b.from) < 0;
      });
      for (size_t i = 1; i < ranges.size(); ++i) {
        const Range& prev = ranges[i - 1];
        const Range& next = ranges[i];
        if (!prev.to || !next.from || compare_keys(*prev.to, *next.from) > 0)
          return fail(who + "ranges for " + prev.alias + " and " + next.alias + " overlap");
      }
      break;
    }
    case ShardMethod::List:
      if (o.lists.empty()) return fail(who + "list sharding needs at least one list");
      for (const auto& list : o.lists) {
        for (const auto& text : list.values) {
          std::optional<KeyDatum> value;
          if (!parse(text, value)) return nullptr;
          for (const auto& seen : router->list_values_)
            if (compare_keys(seen.value, *value) == 0)
              return fail(who + "value \"" + text + "\" is listed for both " + seen.alias + " and " + list.alias);
          router->list_values_.push_back({std::move(*value), list.alias});
        }
      }
      break;
  }
  router->aliases_ = router->all_aliases();
  return router;
}

std::vector<std::string> ShardRouter::all_aliases() const {
  std::vector<std::string> out;
  if (options_.method == ShardMethod::Hash)
    for (const auto& s : options_.shards) add_unique(out, s);
  for (const auto& r : ranges_) add_unique(out, r.alias);
  for (const auto& l : list_values_) add_unique(out, l.alias);
  if (options_.fallback_alias) add_unique(out, *options_.fallback_alias);
  return out;
}

RouteError ShardRouter::error(std::string sqlstate, std::string message, std::string hint) const {
  return {std::move(sqlstate), "pgroute: shard router for \"" + options_.table + "\": " + message, std::move(hint),
          name_};
}

bool ShardRouter::is_my_column(const KeyValue& kv) const {
  return kv.column == options_.key && (kv.table.empty() || table_.matches(kv.schema, kv.table));
}

const KeyValue* ShardRouter::key_in_row(const KeyRow& row, const RouteContext& ctx,
                                        std::optional<KeyPosition>& position) const {
  for (const auto& kv : row) {
    if (kv.position == 0) {
      if (is_my_column(kv)) return &kv;
      continue;
    }
    if (!table_.matches(kv.schema, kv.table)) continue;
    if (!position) {
      position =
          ctx.column_order ? ctx.column_order->key_position(options_.table, options_.key, aliases_) : KeyPosition{};
    }
    if (position->state != KeyPosition::State::Known) return nullptr;
    if (kv.position == position->position) return &kv;
  }
  return nullptr;
}

ShardRouter::Placement ShardRouter::position_problem(const KeyPosition& position) const {
  if (position.state == KeyPosition::State::Failed)
    return {Placement::Kind::Failed,
            {},
            {},
            error(position.sqlstate, position.message,
                  "Name the columns: INSERT INTO " + options_.table + " (" + options_.key + ", ...) VALUES (...).")};
  return {Placement::Kind::Failed,
          {},
          {},
          error("0A000",
                "INSERT without a column list: where " + options_.key + " stands in " + options_.table +
                    " is not known here",
                "Name the columns: INSERT INTO " + options_.table + " (" + options_.key + ", ...) VALUES (...).")};
}

ShardRouter::Placement ShardRouter::place_value(const KeyDatum* value, std::string_view shown) const {
  using Kind = Placement::Kind;
  const std::string what = options_.key + " = " + std::string(shown);
  auto single = [&](const std::string& alias, const std::string& how) {
    return Placement{Kind::Single, {alias}, what + ": " + how + " -> " + alias, {}};
  };
  if (options_.method == ShardMethod::Hash) {
    uint64_t hash = value ? partition_hash(*value) : kNullKeyPartitionHash;
    int modulus = static_cast<int>(options_.shards.size());
    int remainder = hash_remainder(hash, modulus);
    return single(options_.shards[static_cast<size_t>(remainder)],
                  "hash remainder " + std::to_string(remainder) + " of " + std::to_string(modulus));
  }
  if (value) {
    // Only the configured method's table is filled: ranges_ for Range, list_values_ for List.
    for (const auto& r : ranges_)
      if ((!r.from || compare_keys(*value, *r.from) >= 0) && (!r.to || compare_keys(*value, *r.to) < 0))
        return single(r.alias, "in range");
    for (const auto& l : list_values_)
      if (compare_keys(*value, l.value) == 0) return single(l.alias, "listed");
  }
  if (options_.fallback_alias) return single(*options_.fallback_alias, "no bound holds it, fallback");
  if (!value)
    return {
        Kind::Failed, {}, {}, error("22004", "shard key " + options_.key + " is NULL", "Give the row a shard key.")};
  return {Kind::Failed,
          {},
          {},
          error("23514", "no shard holds " + what, "Add a range or list entry for this value, or a fallback alias.")};
}

ShardRouter::Placement ShardRouter::place_text(std::string_view text, std::string_view source) const {
  std::string from;
  if (!source.empty()) from.append(" (from ").append(source).append(")");
  auto value = parse_key_text(options_.key_type, text);
  if (!value) {
    std::string message;
    message.append("\"").append(text).append("\"").append(from).append(" is not a valid ");
    message.append(key_type_name(options_.key_type)).append(" for shard key ").append(options_.key);
    return {Placement::Kind::Failed, {}, {}, error("22P02", std::move(message), "")};
  }
  Placement p = place_value(&*value, key_to_string(*value));
  p.reason += from;
  return p;
}

ShardRouter::Placement ShardRouter::place(const RouteContext& ctx) const {
  using Kind = Placement::Kind;
  const Analysis& a = *ctx.analysis;
  if (std::none_of(a.tables.begin(), a.tables.end(), [&](const TableRef& t) { return table_.matches(t); })) return {};
  Placement result{Kind::Single, {}, {}, {}};
  std::string missing = a.key_rows.empty() ? "no shard key " + options_.key + " in the statement" : "";
  std::optional<KeyPosition> position;  // INSERT without a column list: asked once, at its first value
  for (const auto& row : a.key_rows) {
    const KeyValue* kv = key_in_row(row, ctx, position);
    if (position && position->state != KeyPosition::State::Known) return position_problem(*position);
    if (!kv) {
      missing = "no shard key " + options_.key + " in the statement";
      break;
    }
    Placement p;
    if (kv->is_null()) {
      p = place_value(nullptr, "NULL");
    } else if (kv->literal) {
      p = place_text(*kv->literal, "");
    } else {
      BoundParam param = bound_param(ctx, kv->param);
      const std::string shown = std::string("$").append(std::to_string(kv->param));
      if (param.state == BoundParam::State::Unbound) {
        missing = "shard key " + options_.key + " is " + shown + ", which has no bound value";
        break;
      }
      if (param.state == BoundParam::State::Null) {
        p = place_value(nullptr, "NULL");
      } else if (param.state == BoundParam::State::Text) {
        p = place_text(param.bytes, shown);
      } else if (auto value = parse_key_binary(options_.key_type, param.bytes)) {
        p = place_value(&*value, key_to_string(*value));
      } else {
        return {
            Kind::Failed,
            {},
            {},
            error("22P02",
                  "binary value of " + shown + " is not a valid " + std::string(key_type_name(options_.key_type)), "")};
      }
    }
    if (p.kind == Kind::Failed) return p;
    if (result.aliases.empty()) result.reason = p.reason;
    add_unique(result.aliases, p.aliases.front());
  }
  if (missing.empty()) {
    if (result.aliases.size() > 1) {
      result.kind = Kind::Spread;
      result.reason = options_.key + " values span shards " + join(result.aliases);
    }
    return result;
  }
  if (a.hint_shard_key) return place_text(*a.hint_shard_key, "pgroute hint");
  if (ctx.session_shard_key) return place_text(*ctx.session_shard_key, "SET pgroute.shard_key");
  return {Kind::Missing, {}, missing, {}};
}

std::optional<std::string> ShardRouter::check_update_keeps_shard(const RouteContext& ctx,
                                                                 const std::string& alias) const {
  for (const auto& kv : ctx.analysis->updated_columns) {
    if (!is_my_column(kv)) continue;
    std::optional<std::string> target;
    if (kv.param == -1) {
      target.reset();
    } else if (kv.literal || kv.is_null()) {
      Placement p = kv.literal ? place_text(*kv.literal, "") : place_value(nullptr, "NULL");
      if (p.kind == Placement::Kind::Single) target = p.aliases.front();
    } else {
      BoundParam param = bound_param(ctx, kv.param);
      if (param.state == BoundParam::State::Text) {
        Placement p = place_text(param.bytes, "");
        if (p.kind == Placement::Kind::Single) target = p.aliases.front();
      } else if (param.state == BoundParam::State::Binary) {
        if (auto value = parse_key_binary(options_.key_type, param.bytes)) {
          Placement p = place_value(&*value, "");
          if (p.kind == Placement::Kind::Single) target = p.aliases.front();
        }
      }
    }
    if (target != alias) {
      const std::string what = ctx.analysis->command == "INSERT" ? "INSERT ... ON CONFLICT DO UPDATE" : "UPDATE";
      return what + " assigns shard key " + options_.key + ", which could move rows off " + alias;
    }
  }
  return std::nullopt;
}

std::string ShardRouter::describe_shard(const RouteContext& ctx, const std::vector<std::string>& candidates) const {
  for (const std::string& alias : candidates)
    if (alias == ctx.describe_on) return alias;
  return candidates.front();
}

Opinion ShardRouter::decide(const RouteContext& ctx, bool write) const {
  using Kind = Placement::Kind;
  Placement p = place(ctx);
  const std::string& command = ctx.analysis->command;
  switch (p.kind) {
    case Kind::NotMine: return kNoOpinion;
    case Kind::Failed: return p.error;
    case Kind::Single:
      if (write && !ctx.describe_only)
        if (auto problem = check_update_keeps_shard(ctx, p.aliases.front()))
          return error("0A000", *problem, "Move the row with DELETE and INSERT instead.");
      return RouteDecision{p.aliases.front(), name_, p.reason, {}, false};
    case Kind::Spread:
      if (ctx.describe_only)
        return RouteDecision{describe_shard(ctx, p.aliases), name_, p.reason + ": describing on one", {}, false};
      if (write && command == "INSERT")
        return error("0A000", "multi-row INSERT spans shards " + join(p.aliases) + " (by " + options_.key + ")",
                     "Send one INSERT per shard, grouping the rows by shard.");
      if (write)
        return error("0A000", command + " touches several shards (" + join(p.aliases) + ") by " + options_.key,
                     "Write to one shard per statement.");
      if (options_.without_key == WithoutKey::All) return RouteDecision{"", name_, p.reason, p.aliases, false};
      return error("0A000", command + " spans shards " + join(p.aliases) + " (by " + options_.key + ")",
                   "Narrow it to one shard, or set without_key: all to allow reads across shards.");
    case Kind::Missing:
      if (ctx.describe_only)  // every shard holds the table alike
        return RouteDecision{
            describe_shard(ctx, all_aliases()), name_, p.reason + ": describing on one shard", {}, false};
      if (!write && options_.without_key == WithoutKey::All)
        return RouteDecision{"", name_, p.reason + ": reading every shard", all_aliases(), false};
      return error("0A000", p.reason + " (shards: " + join(all_aliases()) + ")",
                   "Add \"" + options_.key +
                       " = <value>\" to the statement, a /* pgroute: shard_key=<value> */ "
                       "comment, or SET pgroute.shard_key = <value>.");
  }
  return kNoOpinion;
}

std::optional<TablePlacement> ShardRouter::place_table(const TableRef& table, const RouteContext& ctx) const {
  if (!table_.matches(table)) return std::nullopt;
  Placement p = place(ctx);
  if (p.kind == Placement::Kind::Single || p.kind == Placement::Kind::Spread) return TablePlacement{sorted(p.aliases)};
  return TablePlacement{sorted(all_aliases())};
}

std::optional<bool> ShardRouter::allow_relation(const TableRef& a, std::string_view, const TableRef& b,
                                                std::string_view) const {
  auto colocated = [&](const TableRef& t) {
    return std::any_of(colocated_.begin(), colocated_.end(), [&](const TablePattern& p) { return p.matches(t); });
  };
  if ((table_.matches(a) && colocated(b)) || (table_.matches(b) && colocated(a))) return true;
  return std::nullopt;
}

std::optional<std::string> ShardRouter::alias_for_key(std::string_view text_value) const {
  Placement p = place_text(text_value, "");
  if (p.kind != Placement::Kind::Single) return std::nullopt;
  return p.aliases.front();
}

}  // namespace pgroute::router
