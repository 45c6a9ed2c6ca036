#include "router/router.hpp"

namespace pgroute::router {

BoundParam bound_param(const RouteContext& ctx, int n) {
  if (n < 1 || static_cast<size_t>(n) > ctx.params.size()) return {};
  const auto& value = ctx.params[static_cast<size_t>(n) - 1];
  if (!value) return {BoundParam::State::Null, {}};
  int16_t format = 0;
  if (ctx.param_formats.size() == 1)
    format = ctx.param_formats[0];
  else if (static_cast<size_t>(n) <= ctx.param_formats.size())
    format = ctx.param_formats[static_cast<size_t>(n) - 1];
  return {format == 1 ? BoundParam::State::Binary : BoundParam::State::Text, *value};
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string display_name(const TableRef& table) {
  return table.schema.empty() ? table.name : table.schema + "." + table.name;
}

}  // namespace pgroute::router
