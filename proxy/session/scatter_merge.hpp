// Merges the answers of several servers that ran the same read (a SELECT the shard router sends to
// every shard, `without_key: all`) into the one answer the client expects: the first shard's answers to
// the client's messages (ParseComplete, RowDescription, ...), every shard's rows in shard order (UNION ALL
// semantics), one CommandComplete counting them all. Pure: server frames in, client bytes out.
//
// A top-level ORDER BY / LIMIT is redone on the merged rows: every shard sorted and limited its own, the
// caller merges the sorted streams (row_order.hpp) and the limit cuts the total.
//
// After an error, from any shard, the client gets that ErrorResponse (its message prefixed with the
// alias) and no more rows, as PostgreSQL does when a query fails part-way; the other shards' answers are
// still read to their ReadyForQuery so their connections stay usable.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/session/response_queue.hpp"
#include "proxy/wire/frame.hpp"

namespace pgroute {

class ScatterMerge {
 public:
  explicit ScatterMerge(std::string& out) : out_(out) {}

  // Registers a shard (in the order the client sees their rows); returns its index. `expected` lists
  // what it was sent, in order (the last entry a Sync or the client's Query); `prepared` is its
  // connection's set, corrected when a Parse fails.
  size_t add_shard(std::string alias, ResponseQueue expected, ServerPreparedSet* prepared);

  // Rows beyond `limit` (the statement's LIMIT) are dropped: every shard applied it to its own rows.
  void set_limit(uint64_t limit) { limit_ = limit; }
  // Ordered merge: feed() hands DataRows back (Fed::row) instead of forwarding them; the caller passes
  // them to emit_row() in merged order.
  void hold_rows() { hold_rows_ = true; }

  enum class Fed { more, row, done, unexpected };
  // One server message of `shard`. done: its ReadyForQuery ended what it was sent. unexpected: nothing
  // was asked that this answers (the connection is not in a known state).
  Fed feed(size_t shard, const wire::Frame& f);
  // A DataRow (whole message) handed back by feed(): forwarded unless an error or the limit ended the rows.
  void emit_row(std::string_view data_row);
  bool wants_rows() const { return !failed_ && rows_ < limit_; }

  // The read cannot go on as asked (a shard's connection broke, the rows cannot be ordered): the client
  // learns it (once) as an ErrorResponse naming `shard`'s alias.
  void fail(size_t shard, std::string_view sqlstate, std::string_view why);

  // After the last shard: the merged CommandComplete (unless an error ended the read) and, when the
  // unit ended with the client's Sync or was a simple Query, ReadyForQuery.
  void finish(bool ready_for_query);

  bool failed() const { return failed_; }
  uint64_t rows() const { return rows_; }
  // The body of the result's RowDescription (the first shard's), "" until it arrived.
  const std::string& row_description() const { return row_description_; }
  // What the session-parameter query injected ahead of the read reported, if it failed (for the log).
  const std::string& injected_error() const { return injected_error_; }

 private:
  struct Shard {
    std::string alias;
    ResponseQueue expect;
    ServerPreparedSet* prepared = nullptr;
  };
  void emit_synthetic(size_t shard);
  void report_error(size_t shard, std::string_view body);

  std::string& out_;
  std::vector<Shard> shards_;
  bool failed_ = false;
  bool completed_ = false;  // a shard finished its rows with CommandComplete
  bool hold_rows_ = false;
  uint64_t rows_ = 0;
  uint64_t limit_ = UINT64_MAX;
  std::string verb_ = "SELECT";
  std::string row_description_;
  std::string injected_error_;
};

}  // namespace pgroute
