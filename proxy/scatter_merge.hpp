// Merges the answers of several servers that ran the same read (a SELECT the shard router sends to
// every shard, `without_key: all`) into the one answer the client expects: the first shard's answers to
// the client's messages (ParseComplete, RowDescription, ...), every shard's rows in shard order (UNION ALL
// semantics), one CommandComplete counting them all. Pure: server frames in, client bytes out.
//
// After an error, from any shard, the client gets that ErrorResponse (its message prefixed with the
// alias) and no more rows, as PostgreSQL does when a query fails part-way; the other shards' answers are
// still read to their ReadyForQuery so their connections stay usable.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/response_queue.hpp"
#include "proxy/server_prepared_set.hpp"
#include "proxy/wire/frame.hpp"

namespace pgroute {

class ScatterMerge {
 public:
  explicit ScatterMerge(std::string& out) : out_(out) {}

  // The next shard's answers follow: `expected` lists what it was sent, in order (the last entry a Sync or
  // the client's Query); `prepared` is its connection's set, corrected when a Parse fails.
  void begin_shard(std::string alias, ResponseQueue expected, ServerPreparedSet* prepared);

  enum class Fed { more, done, unexpected };
  // One server message of the current shard. done: its ReadyForQuery ended what it was sent.
  // unexpected: nothing was asked that this answers (the connection is not in a known state).
  Fed feed(const wire::Frame& f);

  // The current shard's connection broke or misbehaved: the client learns it (once), naming the alias.
  void lost(std::string_view why);

  // After the last shard: the merged CommandComplete (unless an error ended the read) and, when the
  // unit ended with the client's Sync or was a simple Query, ReadyForQuery.
  void finish(bool ready_for_query);

  bool failed() const { return failed_; }
  uint64_t rows() const { return rows_; }
  // What the session-parameter query injected ahead of the read reported, if it failed (for the log).
  const std::string& injected_error() const { return injected_error_; }

 private:
  void emit_synthetic();
  void report_error(std::string_view body);
  bool first_shard() const { return shards_ == 1; }

  std::string& out_;
  std::string alias_;
  ResponseQueue expect_;
  ServerPreparedSet* prepared_ = nullptr;
  size_t shards_ = 0;
  bool failed_ = false;
  bool completed_ = false;  // a shard finished its rows with CommandComplete
  uint64_t rows_ = 0;
  std::string verb_ = "SELECT";
  std::string injected_error_;
};

}  // namespace pgroute
