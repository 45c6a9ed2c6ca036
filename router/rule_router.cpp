#include "router/rule_router.hpp"

#include <regex.h>

#include "router/table_pattern.hpp"

namespace pgroute::router {

// POSIX regex rather than std::regex: libstdc++'s std::regex recurses per character and can exhaust
// the stack on long SQL; glibc's matcher does not.
struct RuleRouter::CompiledRegex {
  regex_t compiled{};
  bool ok = false;  // regfree only what regcomp built
  ~CompiledRegex() {
    if (ok) regfree(&compiled);
  }
};

RuleRouter::RuleRouter(RuleRouterOptions options)
    : options_(std::move(options)), name_("rule(" + options_.alias + ")") {}

RuleRouter::~RuleRouter() = default;

std::unique_ptr<RuleRouter> RuleRouter::create(RuleRouterOptions options, std::string& error) {
  if (options.alias.empty()) {
    error = "rule router: alias is required";
    return nullptr;
  }
  std::unique_ptr<RuleRouter> router(new RuleRouter(std::move(options)));
  const std::string& pattern = router->options_.sql_regex;
  if (!pattern.empty()) {
    auto regex = std::make_unique<CompiledRegex>();
    int flags = REG_EXTENDED | REG_NOSUB | (router->options_.sql_regex_ignore_case ? REG_ICASE : 0);
    if (int rc = regcomp(&regex->compiled, pattern.c_str(), flags); rc != 0) {
      char message[256];
      regerror(rc, &regex->compiled, message, sizeof message);
      error = "rule router for " + router->options_.alias + ": bad sql regex \"" + pattern + "\": " + message;
      return nullptr;
    }
    regex->ok = true;
    router->regex_ = std::move(regex);
  }
  return router;
}

Opinion RuleRouter::decide(const RouteContext& ctx) const {
  std::string reason;
  auto glob = [&](const std::string& pattern, std::string_view value, const char* what) {
    if (pattern.empty()) return true;
    if (!glob_matches(pattern, value)) return false;
    reason +=
        std::string(reason.empty() ? "" : ", ") + what + " \"" + std::string(value) + "\" matches \"" + pattern + "\"";
    return true;
  };
  if (!glob(options_.user, ctx.user, "user") || !glob(options_.database, ctx.database, "database") ||
      !glob(options_.application_name, ctx.application_name, "application_name"))
    return kNoOpinion;
  if (regex_) {
    std::string sql(ctx.sql);
    if (regexec(&regex_->compiled, sql.c_str(), 0, nullptr, 0) != 0) return kNoOpinion;
    reason += std::string(reason.empty() ? "" : ", ") + "SQL matches /" + options_.sql_regex + "/";
  }
  if (options_.kind != RuleKind::Any)
    reason += std::string(reason.empty() ? "" : ", ") + (options_.kind == RuleKind::Read ? "a read" : "a write");
  if (reason.empty()) reason = "matches every statement";
  return RouteDecision{options_.alias, name_, reason, {}, true};
}

Opinion RuleRouter::db_for_read(const RouteContext& ctx) const {
  if (options_.kind == RuleKind::Write) return kNoOpinion;
  return decide(ctx);
}

Opinion RuleRouter::db_for_write(const RouteContext& ctx) const {
  if (options_.kind == RuleKind::Read) return kNoOpinion;
  return decide(ctx);
}

}  // namespace pgroute::router
