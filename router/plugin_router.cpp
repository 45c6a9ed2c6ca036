#include "router/plugin_router.hpp"

#include <dlfcn.h>

#include <algorithm>

namespace pgroute::router {
namespace {

// The C view of one statement, rebuilt per call in buffers reused by the thread: after the first few
// calls, asking a plugin allocates nothing.
struct Scratch {
  std::string sql, user, database, application_name, alias_a, alias_b;
  std::vector<pgroute_table> tables;
  std::vector<pgroute_key_value> keys;
  std::vector<std::string> bound;  // NUL-terminated copies of Bind values

  void assign(std::string& target, std::string_view source) { target.assign(source.data(), source.size()); }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

pgroute_table c_table(const TableRef& t) { return {t.schema.c_str(), t.name.c_str(), t.written ? 1 : 0}; }

// Fills s.keys from the analysis and the Bind values.
void fill_keys(Scratch& s, const RouteContext& ctx) {
  const Analysis& a = *ctx.analysis;
  size_t count = 0;
  for (const auto& row : a.key_rows) count += row.size();
  s.keys.clear();
  if (s.bound.size() < count) s.bound.resize(count);
  int row_index = 0;
  size_t i = 0;
  for (const auto& row : a.key_rows) {
    for (const auto& kv : row) {
      if (kv.position > 0) continue;  // INSERT without a column list: the ABI names columns only
      pgroute_key_value out{row_index,
                            kv.schema.c_str(),
                            kv.table.c_str(),
                            kv.column.c_str(),
                            kv.param > 0 ? kv.param : 0,
                            PGROUTE_VALUE_UNKNOWN,
                            nullptr,
                            0};
      if (kv.literal) {
        out.kind = PGROUTE_VALUE_LITERAL;
        out.value = kv.literal->c_str();
        out.value_len = kv.literal->size();
      } else if (kv.is_null()) {
        out.kind = PGROUTE_VALUE_NULL;
      } else if (kv.param > 0) {
        BoundParam p = bound_param(ctx, kv.param);
        if (p.state == BoundParam::State::Null) {
          out.kind = PGROUTE_VALUE_NULL;
        } else if (p.state != BoundParam::State::Unbound) {
          std::string& copy = s.bound[i];
          s.assign(copy, p.bytes);
          out.kind = p.state == BoundParam::State::Text ? PGROUTE_VALUE_PARAM_TEXT : PGROUTE_VALUE_PARAM_BINARY;
          out.value = copy.c_str();
          out.value_len = copy.size();
        }
      }
      s.keys.push_back(out);
      ++i;
    }
    ++row_index;
  }
}

bool valid_sqlstate(const char* code) {
  if (code == nullptr) return false;
  size_t n = 0;
  for (; code[n] != '\0'; ++n)
    if (n >= 5 || !((code[n] >= '0' && code[n] <= '9') || (code[n] >= 'A' && code[n] <= 'Z'))) return false;
  return n == 5;
}

std::string text_or_empty(const char* text) { return text ? std::string(text) : std::string(); }

}  // namespace

std::unique_ptr<PluginRouter> PluginRouter::load(const std::string& path, const std::string& options_json,
                                                 std::vector<std::string> known_aliases, std::string& error) {
  const std::string who = "plugin \"" + path + "\": ";
  std::unique_ptr<PluginRouter> router(new PluginRouter());
  router->path_ = path;
  router->known_aliases_ = std::move(known_aliases);
  // RTLD_LOCAL: two plugins may define the same helper names without clashing.
  router->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!router->handle_) {
    const char* why = dlerror();
    error = who + "cannot load: " + (why ? why : "unknown dlopen error");
    return nullptr;
  }
  dlerror();
  void* symbol = dlsym(router->handle_, PGROUTE_ROUTER_ENTRY_SYMBOL);
  if (!symbol) {
    const char* why = dlerror();
    error = who + "no " PGROUTE_ROUTER_ENTRY_SYMBOL "() (" + (why ? why : "symbol not found") +
            "); is it a pgroute router plugin?";
    return nullptr;
  }
  auto entry = reinterpret_cast<pgroute_router_entry_fn>(symbol);
  const pgroute_router_v1* api = entry();
  if (!api) {
    error = who + PGROUTE_ROUTER_ENTRY_SYMBOL "() returned NULL";
    return nullptr;
  }
  if (api->abi_version != PGROUTE_ROUTER_ABI_VERSION) {
    error = who + "ABI version " + std::to_string(api->abi_version) + ", but this pgroute supports version " +
            std::to_string(PGROUTE_ROUTER_ABI_VERSION);
    return nullptr;
  }
  if (!api->init || !api->db_for_read || !api->db_for_write) {
    error = who + "the descriptor lacks init, db_for_read or db_for_write";
    return nullptr;
  }
  router->name_ = "plugin(" + (api->name && *api->name ? std::string(api->name) : path) + ")";
  char message[512] = {};
  void* state = api->init(options_json.c_str(), message, sizeof message);
  if (!state) {
    message[sizeof message - 1] = '\0';
    error = who + "init failed: " + (message[0] ? message : "no reason given");
    return nullptr;
  }
  router->api_ = api;
  router->state_ = state;
  return router;
}

PluginRouter::~PluginRouter() {
  if (api_ && state_ && api_->destroy) api_->destroy(state_);
  if (handle_) dlclose(handle_);
}

RouteError PluginRouter::failure(std::string message) const {
  return RouteError{"XX000", "pgroute: " + name_ + ": " + std::move(message),
                    "Fix the plugin or remove it from routers:.", name_};
}

Opinion PluginRouter::ask(Callback callback, const RouteContext& ctx) const {
  Scratch& s = scratch();
  const Analysis& a = *ctx.analysis;
  s.assign(s.sql, ctx.sql);
  s.assign(s.user, ctx.user);
  s.assign(s.database, ctx.database);
  s.assign(s.application_name, ctx.application_name);
  s.tables.clear();
  for (const auto& t : a.tables) s.tables.push_back(c_table(t));
  fill_keys(s, ctx);
  const std::string_view kind = kind_name(a.kind);  // literals: NUL-terminated
  pgroute_statement statement{s.sql.c_str(),
                              s.sql.size(),
                              kind.data(),
                              a.command.c_str(),
                              s.tables.data(),
                              s.tables.size(),
                              s.keys.data(),
                              s.keys.size(),
                              s.user.c_str(),
                              s.database.c_str(),
                              s.application_name.c_str(),
                              ctx.in_transaction ? 1 : 0};
  pgroute_answer answer{};
  pgroute_verdict verdict = callback(state_, &statement, &answer);
  switch (verdict) {
    case PGROUTE_NO_OPINION: return kNoOpinion;
    case PGROUTE_ROUTE: {
      if (!answer.alias || !*answer.alias) return failure("answered ROUTE without an alias");
      std::string alias(answer.alias);
      if (!known_aliases_.empty() &&
          std::find(known_aliases_.begin(), known_aliases_.end(), alias) == known_aliases_.end())
        return failure("routed to unknown alias \"" + alias + "\"");
      std::string reason = answer.reason && *answer.reason ? answer.reason : "the plugin chose it";
      return RouteDecision{std::move(alias), name_, std::move(reason), {}, false};
    }
    case PGROUTE_REFUSE:
      return RouteError{
          valid_sqlstate(answer.sqlstate) ? answer.sqlstate : "42501",
          "pgroute: " + name_ + ": " + (answer.message && *answer.message ? answer.message : "statement refused"),
          text_or_empty(answer.hint), name_};
  }
  return failure("returned unknown verdict " + std::to_string(static_cast<int>(verdict)));
}

Opinion PluginRouter::db_for_read(const RouteContext& ctx) const { return ask(api_->db_for_read, ctx); }

Opinion PluginRouter::db_for_write(const RouteContext& ctx) const { return ask(api_->db_for_write, ctx); }

std::optional<bool> PluginRouter::allow_relation(const TableRef& a, std::string_view alias_a, const TableRef& b,
                                                 std::string_view alias_b) const {
  if (!api_->allow_relation) return std::nullopt;
  Scratch& s = scratch();
  s.assign(s.alias_a, alias_a);
  s.assign(s.alias_b, alias_b);
  pgroute_table ta = c_table(a), tb = c_table(b);
  int answer = api_->allow_relation(state_, &ta, s.alias_a.c_str(), &tb, s.alias_b.c_str());
  if (answer < 0) return std::nullopt;
  return answer != 0;
}

}  // namespace pgroute::router
