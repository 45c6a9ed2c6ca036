#pragma once
// Decides the kind and command tag of one parsed statement, and picks up the statement-level facts the
// session cares about (transaction boundaries, READ ONLY, SET pgroute.shard_key).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pg_query/pg_query.pb-c.h>

#include "router/relation_collector.hpp"
#include "router/statement.hpp"

namespace pgroute::router {

struct Classification {
  StatementKind kind = StatementKind::Ddl;
  std::string command;  // "SELECT", "INSERT", "BEGIN", "CREATE TABLE", ...
  bool begins_transaction = false;
  bool ends_transaction = false;
  bool read_only = false;
  std::optional<std::string> set_shard_key;
  bool shard_key_local = false;  // SET LOCAL
  bool resets_shard_key = false;
  std::optional<SessionSetting> session_setting;  // Analysis::session_setting of this statement
  std::vector<std::string> result_clauses;        // Analysis::result_clauses of this statement
  std::shared_ptr<const ResultOrder> result_order;
};

// The name of the configuration parameter SET/RESET use for the session's shard key.
inline constexpr const char* kShardKeySetting = "pgroute.shard_key";

Classification classify_statement(const PgQuery__Node* statement, const StatementFacts& facts);

}  // namespace pgroute::router
