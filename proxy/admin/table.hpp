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
Table show_config(const Snapshot& snap);
Table show_stats(Runtime& rt);
Table show_statements();
// What the router chain would decide for `sql` sent by `user` outside a transaction.
Table explain_route(const Snapshot& snap, std::string_view user, std::string_view sql);

}  // namespace pgroute::admin
