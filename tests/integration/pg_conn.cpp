#include "pg_conn.hpp"

#include <algorithm>
#include <regex>

#include <poll.h>

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v != nullptr ? v : "";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// With PQERRORS_VERBOSE a failed connection reads
// `... failed: FATAL:  28P01: password authentication failed for user "x"`.
PgError connection_error(PGconn* conn) {
  const std::string text = trimmed(PQerrorMessage(conn));
  static const std::regex verbose(R"((FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): ([^\n]*))");
  std::smatch m;
  if (std::regex_search(text, m, verbose)) return PgError(m[2], m[1], m[3]);
  return PgError("", "", text);
}

// Blocks until `fd` is ready for `events` or the deadline passes (then throws). With `slice`, returns
// after at most that long even if nothing happened on the socket.
void wait_fd(int fd, short events, Clock::time_point deadline, std::string_view what,
             std::chrono::milliseconds slice = std::chrono::milliseconds::max()) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) throw PgError("", "", "client-side timeout waiting for " + std::string(what));
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min(left, slice).count()));
    if (n > 0 || (n == 0 && slice < left)) return;
    if (n < 0 && errno != EINTR) throw PgError("", "", "poll failed");
  }
}

// On a TLS connection OpenSSL may hold decrypted bytes libpq has not taken yet (a record read only in
// part) while the socket has nothing more to read: waiting on the socket alone could wait forever, so
// such waits wake up every few milliseconds to let PQconsumeInput take them.
std::chrono::milliseconds read_slice(PGconn* conn) {
  return PQsslInUse(conn) == 1 ? 10ms : std::chrono::milliseconds::max();
}

void ignore_notice(void*, const char*) {}

std::vector<const char*> param_pointers(const std::vector<Value>& params) {
  std::vector<const char*> p;
  for (const auto& v : params) p.push_back(v ? v->c_str() : nullptr);
  return p;
}

}  // namespace

PgError::PgError(std::string state, std::string sev, std::string msg)
    : std::runtime_error(state.empty() ? msg : (sev + " " + state + ": " + msg)),
      sqlstate(std::move(state)),
      severity(std::move(sev)),
      message(std::move(msg)) {}

ConnParams tcp_params(int port, const std::string& user, const std::optional<std::string>& password,
                      const std::string& dbname, const ConnParams& extra) {
  ConnParams p{{"host", "127.0.0.1"}, {"port", std::to_string(port)}, {"user", user}, {"dbname", dbname}};
  if (password) p.emplace_back("password", *password);
  p.insert(p.end(), extra.begin(), extra.end());
  return p;
}

const std::string& Rows::at(std::size_t row, std::size_t col) const {
  const Value& v = rows.at(row).at(col);
  if (!v) throw std::runtime_error("field is NULL");
  return *v;
}

void throw_if_error(const PGresult* result, PGconn* conn) {
  if (result == nullptr) throw connection_error(conn);
  switch (PQresultStatus(result)) {
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE: {
      std::string primary = field(result, PG_DIAG_MESSAGE_PRIMARY);
      if (primary.empty()) primary = trimmed(PQresultErrorMessage(result));
      throw PgError(field(result, PG_DIAG_SQLSTATE), field(result, PG_DIAG_SEVERITY_NONLOCALIZED), primary);
    }
    default: return;
  }
}

Rows rows_of(const PGresult* result) {
  Rows rows;
  rows.command = PQcmdStatus(const_cast<PGresult*>(result));
  const int ncols = PQnfields(result);
  for (int c = 0; c < ncols; ++c) rows.columns.emplace_back(PQfname(result, c));
  for (int r = 0; r < PQntuples(result); ++r) {
    Row row;
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(result, r, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(result, r, c), static_cast<std::size_t>(PQgetlength(result, r, c))));
    }
    rows.rows.push_back(std::move(row));
  }
  return rows;
}

Conn::Conn(const ConnParams& params, std::chrono::milliseconds connect_timeout) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keys.data(), values.data(), 0);
  if (conn_ == nullptr) throw PgError("", "", "PQconnectStartParams: out of memory");
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  // Verbose only while connecting: it is how a startup FATAL's SQLSTATE reaches us.
  PQsetErrorVerbosity(conn_, PQERRORS_VERBOSE);
  const auto deadline = Clock::now() + connect_timeout;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  try {
    for (;;) {
      if (PQstatus(conn_) == CONNECTION_BAD || state == PGRES_POLLING_FAILED) throw connection_error(conn_);
      if (state == PGRES_POLLING_OK) break;
      wait_fd(PQsocket(conn_), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline,
              "the connection to be established");
      state = PQconnectPoll(conn_);
    }
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
  PQsetErrorVerbosity(conn_, PQERRORS_DEFAULT);
}

std::string Conn::ssl_attribute(const char* name) const {
  const char* v = PQsslAttribute(conn_, name);
  return v != nullptr ? v : "";
}

Conn::~Conn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Conn::Conn(Conn&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)), query_timeout_(other.query_timeout_) {}

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    query_timeout_ = other.query_timeout_;
  }
  return *this;
}

void Conn::wait_input() {
  wait_fd(PQsocket(conn_), POLLIN, Clock::now() + query_timeout_, "the server's answer", read_slice(conn_));
  PQconsumeInput(conn_);  // a failure shows up in the next PQgetResult
}

ResultPtr Conn::next_result() {
  const auto deadline = Clock::now() + query_timeout_;
  while (PQisBusy(conn_)) {
    if (PQsocket(conn_) < 0) break;  // connection gone: PQgetResult reports it
    wait_fd(PQsocket(conn_), POLLIN, deadline, "the server's answer", read_slice(conn_));
    if (!PQconsumeInput(conn_)) break;
  }
  return ResultPtr(PQgetResult(conn_));
}

std::vector<Rows> Conn::collect(std::string_view what) {
  std::vector<Rows> all;
  std::optional<PgError> first_error;
  for (;;) {
    ResultPtr r = next_result();
    if (!r) break;
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
      throw PgError("", "", std::string(what) + ": COPY needs the raw libpq API");
    try {
      throw_if_error(r.get(), conn_);
      all.push_back(rows_of(r.get()));
    } catch (const PgError& e) {
      if (!first_error) first_error = e;
    }
    if (PQstatus(conn_) == CONNECTION_BAD) break;
  }
  if (first_error) throw *first_error;
  if (PQstatus(conn_) == CONNECTION_BAD) throw connection_error(conn_);
  return all;
}

std::vector<Rows> Conn::exec_batch(std::string_view sql) {
  const std::string text(sql);
  if (!PQsendQuery(conn_, text.c_str())) throw connection_error(conn_);
  return collect(sql);
}

Rows Conn::exec(std::string_view sql) {
  auto all = exec_batch(sql);
  if (all.empty()) throw PgError("", "", "no result for: " + std::string(sql));
  return std::move(all.back());
}

std::string Conn::scalar(std::string_view sql) {
  Rows rows = exec(sql);
  if (rows.rows.empty() || rows.columns.empty()) throw PgError("", "", "no value returned by: " + std::string(sql));
  return rows.at(0, 0);
}

Rows Conn::exec_params(std::string_view sql, const std::vector<Value>& params) {
  const std::string text(sql);
  auto values = param_pointers(params);
  if (!PQsendQueryParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                         0))
    throw connection_error(conn_);
  auto all = collect(sql);
  if (all.empty()) throw PgError("", "", "no result for: " + text);
  return std::move(all.back());
}

void Conn::prepare(const std::string& name, std::string_view sql, int param_count) {
  const std::string text(sql);
  if (!PQsendPrepare(conn_, name.c_str(), text.c_str(), param_count, nullptr)) throw connection_error(conn_);
  collect(sql);
}

Rows Conn::exec_prepared(const std::string& name, const std::vector<Value>& params) {
  auto values = param_pointers(params);
  if (!PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0))
    throw connection_error(conn_);
  auto all = collect(name);
  if (all.empty()) throw PgError("", "", "no result for prepared statement " + name);
  return std::move(all.back());
}

}  // namespace pgroute::it
