#pragma once
// A router implemented by a shared library with the C ABI of plugin_api.h, loaded with dlopen.
// Decisions are table-level (the chain still checks that the statement's tables live together);
// the plugin does not place tables itself, but its allow_relation is consulted for every pair.

#include <memory>
#include <string>
#include <vector>

#include "router/plugin_api.h"
#include "router/router.hpp"

namespace pgroute::router {

class PluginRouter final : public Router {
 public:
  // Loads path, checks its ABI version, and calls init(options_json). An alias the plugin answers
  // with must be one of known_aliases (when non-empty). On failure: nullptr, and error names the path
  // and the reason (dlerror(), a missing symbol, a version, or the plugin's own init message).
  static std::unique_ptr<PluginRouter> load(const std::string& path, const std::string& options_json,
                                            std::vector<std::string> known_aliases, std::string& error);
  ~PluginRouter() override;
  PluginRouter(const PluginRouter&) = delete;
  PluginRouter& operator=(const PluginRouter&) = delete;

  std::string_view name() const override { return name_; }
  Opinion db_for_read(const RouteContext& ctx) const override;
  Opinion db_for_write(const RouteContext& ctx) const override;
  std::optional<bool> allow_relation(const TableRef& a, std::string_view alias_a, const TableRef& b,
                                     std::string_view alias_b) const override;

 private:
  using Callback = pgroute_verdict (*)(void*, const pgroute_statement*, pgroute_answer*);
  PluginRouter() = default;
  Opinion ask(Callback callback, const RouteContext& ctx) const;
  RouteError failure(std::string message) const;

  void* handle_ = nullptr;
  const pgroute_router_v1* api_ = nullptr;
  void* state_ = nullptr;
  std::string name_, path_;
  std::vector<std::string> known_aliases_;
};

}  // namespace pgroute::router
