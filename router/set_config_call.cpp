#include "router/set_config_call.hpp"

#include <algorithm>

namespace pgroute::router {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::optional<bool> constant_bool(const PgQuery__Node* n) {
  if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST || !n->a_const ||
      n->a_const->val_case != PG_QUERY__A__CONST__VAL_BOOLVAL || !n->a_const->boolval)
    return std::nullopt;
  return n->a_const->boolval->boolval != 0;
}

}  // namespace

std::optional<SetConfigCall> read_set_config(const PgQuery__FuncCall* f) {
  if (!f || f->n_funcname == 0 || f->n_args < 1) return std::nullopt;
  const PgQuery__Node* fn = f->funcname[f->n_funcname - 1];
  if (!fn || fn->node_case != PG_QUERY__NODE__NODE_STRING || !fn->string || !fn->string->sval ||
      std::string_view(fn->string->sval) != "set_config")
    return std::nullopt;
  SetConfigCall call;
  const PgQuery__Node* name = f->args[0];
  if (name && name->node_case == PG_QUERY__NODE__NODE_A_CONST && name->a_const &&
      name->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL && name->a_const->sval && name->a_const->sval->sval) {
    call.name = name->a_const->sval->sval;
    for (char& c : *call.name) c = lower(c);
  }
  if (auto local = constant_bool(f->n_args >= 3 ? f->args[2] : nullptr)) {
    call.local_true = *local;
    call.local_false = !*local;
  }
  return call;
}

bool is_role_setting(std::string_view name) {
  auto equals = [&](std::string_view want) {
    return name.size() == want.size() &&
           std::equal(name.begin(), name.end(), want.begin(), [](char a, char b) { return lower(a) == b; });
  };
  return equals("role") || equals("session_authorization");
}

}  // namespace pgroute::router
