// A result set of text columns: what every admin command answers with.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "proxy/admin/client_info.hpp"
#include "proxy/pool/runtime.hpp"

namespace pgroute::admin {

struct Table {
  std::vector<std::string_view> columns;
  std::vector<std::vector<std::string>> rows;
};

// RowDescription, DataRows and CommandComplete "SHOW <n>" style tag.
void put_table(std::string& out, const Table& table, std::string_view tag);

Table show_pools(Runtime& rt);
Table show_servers(Runtime& rt);
Table show_clients(const std::vector<ClientInfo>& clients);
Table show_backends(Runtime& rt, const config::Config& cfg);
Table show_routes(const config::Config& cfg);
// One row per replica of each replicas router with lag limits: what its lag checks say and why it is out.
Table show_replicas(Runtime& rt, const config::Config& cfg);
Table show_config(const Snapshot& snap);
Table show_stats(Runtime& rt);
Table show_statements();
// What the router chain would decide for `sql` sent by `user` outside a transaction; with `rt`, as
// health and lag checks stand now (replicas out of rotation are skipped, as for clients).
Table explain_route(const Snapshot& snap, std::string_view user, std::string_view sql, const Runtime* rt = nullptr);

}  // namespace pgroute::admin
