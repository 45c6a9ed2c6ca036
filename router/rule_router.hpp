#pragma once
// Sends statements matching session and statement conditions to one alias, e.g.
// `match: {application_name: "report*", kind: read}, alias: analytics`. Every condition given must hold.
// The decision is statement-level: where the tables live does not matter.

#include <memory>
#include <string>

#include "router/router.hpp"

namespace pgroute::router {

enum class RuleKind { Any, Read, Write };

struct RuleRouterOptions {
  std::string user;               // glob; empty = any
  std::string database;           // glob; empty = any
  std::string application_name;   // glob; empty = any
  RuleKind kind = RuleKind::Any;  // Read: only db_for_read answers; Write: only db_for_write
  std::string sql_regex;          // POSIX extended regex searched in the SQL text; empty = any
  bool sql_regex_ignore_case = true;
  std::string alias;
};

class RuleRouter final : public Router {
 public:
  // Fails (nullptr + error) on an empty alias or a regex that does not compile.
  static std::unique_ptr<RuleRouter> create(RuleRouterOptions options, std::string& error);
  ~RuleRouter() override;

  std::string_view name() const override { return name_; }
  Opinion db_for_read(const RouteContext& ctx) const override;
  Opinion db_for_write(const RouteContext& ctx) const override;

 private:
  struct CompiledRegex;
  explicit RuleRouter(RuleRouterOptions options);
  Opinion decide(const RouteContext& ctx) const;

  RuleRouterOptions options_;
  std::string name_;
  std::unique_ptr<CompiledRegex> regex_;
};

}  // namespace pgroute::router
