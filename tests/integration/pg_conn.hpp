// A libpq connection for tests: RAII, every wait bounded by a timeout (a broken proxy must fail
// a test, not hang the suite), errors thrown as PgError carrying the server's SQLSTATE.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace pgroute::it {

using namespace std::chrono_literals;

// An error from the server (sqlstate set) or from the client side (sqlstate empty: connection
// refused or lost, timeout, ...). Connection failures carry the SQLSTATE of the server's FATAL
// too (the connection is made with PQERRORS_VERBOSE, which puts it into the message).
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, std::string severity, std::string message);
  std::string sqlstate;
  std::string severity;  // ERROR, FATAL, ... ("" for client-side errors)
  std::string message;   // the primary message
};

// libpq keyword/value pairs (no conninfo string quoting to get wrong).
using ConnParams = std::vector<std::pair<std::string, std::string>>;

// host=127.0.0.1 port=... user=... dbname=... [password=...], then `extra`.
ConnParams tcp_params(int port, const std::string& user, const std::optional<std::string>& password,
                      const std::string& dbname, const ConnParams& extra = {});

using Value = std::optional<std::string>;  // NULL is nullopt
using Row = std::vector<Value>;

struct Rows {
  std::string command;  // command tag, e.g. "SELECT 1"
  std::vector<std::string> columns;
  std::vector<Row> rows;

  std::size_t size() const { return rows.size(); }
  // The text of a field; throws if it is NULL or out of range.
  const std::string& at(std::size_t row, std::size_t col) const;
};

struct PGresultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, PGresultDeleter>;

// Throws PgError for a PGRES_FATAL_ERROR / PGRES_NONFATAL_ERROR / PGRES_BAD_RESPONSE result.
void throw_if_error(const PGresult* result, PGconn* conn);
Rows rows_of(const PGresult* result);

class Conn {
 public:
  explicit Conn(const ConnParams& params, std::chrono::milliseconds connect_timeout = 10s);
  ~Conn();
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Simple Query protocol. `exec` returns the last statement's rows; `exec_batch` all of them.
  // On an error the remaining results are drained (the connection stays usable) and the
  // first error is thrown.
  Rows exec(std::string_view sql);
  std::vector<Rows> exec_batch(std::string_view sql);
  // First field of the first row.
  std::string scalar(std::string_view sql);

  // Extended Query protocol, text parameters.
  Rows exec_params(std::string_view sql, const std::vector<Value>& params);
  void prepare(const std::string& name, std::string_view sql, int param_count);
  Rows exec_prepared(const std::string& name, const std::vector<Value>& params);

  // After sending something by hand with PQsend*/pipeline calls on raw(): the next result,
  // waiting at most the query timeout; nullptr ends one command's results.
  ResultPtr next_result();
  // Waits (bounded) until input is available on the socket and consumes it.
  void wait_input();

  void set_query_timeout(std::chrono::milliseconds t) { query_timeout_ = t; }
  std::chrono::milliseconds query_timeout() const { return query_timeout_; }
  PGTransactionStatusType transaction_status() const { return PQtransactionStatus(conn_); }
  PGconn* raw() const { return conn_; }
  // libpq's view of the connection's encryption: PQsslInUse, and PQsslAttribute ("protocol",
  // "cipher", ...; "" when not TLS).
  bool ssl_in_use() const { return PQsslInUse(conn_) == 1; }
  std::string ssl_attribute(const char* name) const;

 private:
  std::vector<Rows> collect(std::string_view what);
  PGconn* conn_ = nullptr;
  std::chrono::milliseconds query_timeout_ = 30s;
};

// Runs `fn`, which must throw PgError; returns the error. Throws std::logic_error (failing the
// test with a clear message) if `fn` succeeds.
template <class F>
PgError expect_pg_error(F&& fn) {
  try {
    fn();
  } catch (const PgError& e) {
    return e;
  }
  throw std::logic_error("expected a PgError, but the operation succeeded");
}

}  // namespace pgroute::it
