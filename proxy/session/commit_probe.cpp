// causal_reads: tables. A transaction that wrote on a primary with causal floors gets, right behind the
// message that may commit it, `SELECT pg_current_wal_insert_lsn()` on the same server connection (its answer is
// not shown to the client). When that answer comes with the session idle, the transaction has committed
// at or before that position, and every table it wrote gets it as its floor: reads of those tables, from
// any client, then go only to replicas that have replayed it.
#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "router/replica_rotation.hpp"

namespace pgroute {

namespace be = wire::backend;
namespace tx = wire::tx_status;

namespace {
// The insert position, not pg_current_wal_lsn() (the write position): with synchronous_commit = off the
// commit record may not be written out yet, and the write position can still be before it.
// How long a strict read waits for the primary's position before it takes the primary itself.
constexpr std::chrono::seconds kSampleTimeout{1};

constexpr std::string_view kCommitProbe = "SELECT pg_catalog.pg_current_wal_insert_lsn()";

bool ends_transaction(const router::Analysis& a) {
  if (a.kind == router::StatementKind::TransactionEnd) return true;
  for (router::StatementKind k : a.statement_kinds)
    if (k == router::StatementKind::TransactionEnd) return true;
  return false;
}

bool add_unique(std::vector<std::string>& keys, std::string_view key) {
  for (const std::string& k : keys)
    if (k == key) return false;
  keys.emplace_back(key);
  return true;
}
}  // namespace

void ClientSession::note_causal_write(const router::Analysis& a, const std::string& alias) {
  auto it = snap_->causal_floors.find(alias);
  if (it == snap_->causal_floors.end()) return;
  if (!causal_) causal_ = std::make_unique<CausalWrites>();
  causal_->floors = it->second;
  bool named = false;
  for (const router::TableRef& t : a.tables)
    if (t.written) named = true, add_unique(causal_->tables, router::CausalFloors::key(t));
  // A write whose tables the analysis cannot name (DO, CALL, a function): every read waits for it.
  if (!named) add_unique(causal_->tables, router::CausalFloors::kAnyTable);
  // The server takes nothing but COPY data after a COPY FROM STDIN: the probe waits for its CopyDone.
  if (a.command == "COPY") causal_->copy_from = true;
  if (client_tx_status() == tx::kIdle) causal_->may_commit = true;  // autocommit: this statement commits
}

// Called for every statement routed (Query, Bind) while this client has writes to probe.
void ClientSession::note_causal_unit(const router::Analysis& a) {
  if (!causal_ || causal_->tables.empty()) return;
  if (a.kind == router::StatementKind::TransactionEnd && (a.command == "ROLLBACK" || a.command == "ABORT")) {
    causal_->tables.clear();  // nothing was committed
    return;
  }
  if (ends_transaction(a) || client_tx_status() == tx::kIdle) causal_->may_commit = true;
}

void ClientSession::send_commit_probe_if_due() {
  if (causal_->copy_from) return;  // after the COPY's data (note_copy_done), may_commit kept
  const bool due = std::exchange(causal_->may_commit, false);  // judged anew for each unit
  if (!due || causal_->tables.empty()) return;
  wire::put_query(u().server_out, kCommitProbe);
  push({.kind = Expect::InjectedQuery, .lsn_probe = true});
  causal_->probing.push_back(std::move(causal_->tables));
  causal_->tables.clear();
}

void ClientSession::note_copy_done() {
  if (!causal_ || !causal_->copy_from) return;
  causal_->copy_from = false;
  // A COPY sent as a simple Query ends with this message; in the extended protocol the client's Sync follows.
  if (!u().replies.expect.empty() && u().replies.expect.front().kind == Expect::Query) send_commit_probe_if_due();
}

bool ClientSession::wait_for_replay(const router::RouteDecision& d) {
  const auto now = std::chrono::steady_clock::now();
  if (d.needs_primary_sample && sample_primary(d.alias, now)) return true;
  WaitData& w = wait_data();
  const bool waiting = w.replay_wait_since.has_value();
  const auto waited = waiting ? now - w.replay_wait_since.value() : std::chrono::steady_clock::duration::zero();
  if (d.causal_fallback && d.replay_wait.count() > 0 && (!waiting || waited < d.replay_wait)) {
    if (!waiting) {
      w.replay_wait_since = now;
      w.waited_floors = d.causal;
    }
    return true;
  }
  // The route stands: count where the read went, once (an attach wait has it routed again). A read that
  // waited may find its floor gone (every replica replayed it): it is still one that waited.
  router::CausalFloors* floors = d.causal ? d.causal : w.waited_floors;
  if (floors == nullptr || std::exchange(w.causal_counted, true)) return false;
  if (waiting) rt().causal_wait_time.observe(waited);
  auto& counter = d.causal_fallback ? floors->reads_primary : waiting ? floors->reads_waited : floors->reads_replica;
  counter.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// causal_reads: strict: asks the lag checks for a check of the primary that starts after now (reads waiting
// together share one), and waits for its answer: its position is the read's floor. True while waiting.
// A primary that does not answer within a check timeout leaves the read on the primary.
bool ClientSession::sample_primary(const std::string& primary, std::chrono::steady_clock::time_point now) {
  WaitData& w = wait_data();
  if (!w.sample_since) w.sample_since = now;
  if (w.sample_ticket == 0) {
    w.sample_ticket = rt().replicas.request_check(primary);
    return w.sample_ticket != 0;
  }
  if (rt().replicas.check_answered(primary, w.sample_ticket)) {
    w.causal_sample = rt().replicas.primary_lsn(primary);
    w.sample_fresh = true;
    return true;  // routed again at once with the sample
  }
  return now - *w.sample_since < kSampleTimeout;
}

// The lag checks refresh what routers know of replay every lag_check_interval, and answer a strict read's
// sample in a primary round trip: looking again every millisecond costs a route of one read.
awaitable<void> ClientSession::replay_pause() {
  if (wait_data_ && std::exchange(wait_data_->sample_fresh, false)) co_return;
  asio::steady_timer timer(worker_.ctx, std::chrono::milliseconds(1));
  co_await timer.async_wait(use_nothrow);
}

bool ClientSession::commit_probe_queued_next() const {
  return !causal_->probing.empty() && !u().replies.expect.empty() && u().replies.expect.front().lsn_probe;
}

void ClientSession::on_commit_probe_reply(const wire::Frame& f) {
  if (!causal_ || causal_->probing.empty()) return;
  if (f.type == be::kDataRow) {
    std::vector<std::optional<std::string_view>> columns;
    if (wire::parse_data_row(f.body, columns) && !columns.empty() && columns[0]) {
      // As a replay position can reach it (the floor a replica must have replayed): replica_rotation.hpp.
      causal_->probed_lsn = router::parse_lsn(*columns[0]);
      if (causal_->probed_lsn) causal_->probed_lsn = router::wal_end_of_insert(*causal_->probed_lsn);
    }
    return;
  }
  if (f.type != be::kReadyForQuery) return;  // RowDescription, CommandComplete, an error (no position)
  char status = tx::kIdle;
  wire::parse_ready_for_query(f.body, status);
  std::vector<std::string> tables = std::move(causal_->probing.front());
  causal_->probing.pop_front();
  const std::optional<uint64_t> lsn = std::exchange(causal_->probed_lsn, std::nullopt);
  if (status == tx::kIdle && lsn) {
    causal_->floors->raise(tables, *lsn);
    causal_->floors->probes.fetch_add(1, std::memory_order_relaxed);
  } else {
    // Still in the transaction (the unit did not commit) or no answer: its tables wait for the real commit.
    for (std::string& t : tables) add_unique(causal_->tables, t);
  }
  // The floor stands: the client may have the commit's ReadyForQuery.
  u().out.buffer().append(causal_->held_ready);
  causal_->held_ready.clear();
}

}  // namespace pgroute
