#include "router/statement.hpp"

namespace pgroute::router {

int kind_strength(StatementKind kind) {
  switch (kind) {
    case StatementKind::Empty: return 0;
    case StatementKind::TransactionBegin: return 1;
    case StatementKind::TransactionEnd: return 2;
    case StatementKind::Savepoint: return 3;
    case StatementKind::Show: return 4;
    case StatementKind::Set: return 5;
    case StatementKind::Read: return 6;
    case StatementKind::Utility: return 7;
    case StatementKind::Write: return 8;
    case StatementKind::Ddl: return 9;
    case StatementKind::Unparsed: return 10;
  }
  return 10;
}

std::string_view kind_name(StatementKind kind) {
  switch (kind) {
    case StatementKind::Read: return "read";
    case StatementKind::Write: return "write";
    case StatementKind::Ddl: return "ddl";
    case StatementKind::TransactionBegin: return "transaction_begin";
    case StatementKind::TransactionEnd: return "transaction_end";
    case StatementKind::Savepoint: return "savepoint";
    case StatementKind::Set: return "set";
    case StatementKind::Show: return "show";
    case StatementKind::Utility: return "utility";
    case StatementKind::Empty: return "empty";
    case StatementKind::Unparsed: return "unparsed";
  }
  return "unknown";
}

bool is_write_kind(StatementKind kind) {
  return kind == StatementKind::Write || kind == StatementKind::Ddl || kind == StatementKind::Utility ||
         kind == StatementKind::Unparsed;
}

}  // namespace pgroute::router
