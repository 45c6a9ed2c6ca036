#include "proxy/pool/replica_monitor.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>

#include <libpq-fe.h>

#include "proxy/base/log.hpp"

namespace pgroute {
namespace {

using Clock = std::chrono::steady_clock;
using Seen = router::ReplicaState::Seen;
constexpr auto relaxed = std::memory_order_relaxed;

// One query for primaries and standbys alike: pg_current_wal_insert_lsn() fails during recovery, and a
// server's role can change under us (a promoted standby). A primary's insert position, not its write
// position: a commit made with synchronous_commit = off is before it (causal reads: strict relies on that). The delay is computed on the server, against its clock.
constexpr const char* kCheckQuery =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END, "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())";

// A check (connect included) not answered by then fails: the server is "not answering". At least a
// second, so a busy but healthy server is not dropped for one slow round trip.
std::chrono::milliseconds check_timeout(std::chrono::milliseconds interval) {
  return std::max(interval, std::chrono::milliseconds(1000));
}

// Primary LSN samples kept per server, for the replay delay (see lag_seconds); at 250 ms, a minute.
constexpr size_t kHistory = 240;

}  // namespace

router::ReplicaState ServerLag::load() const {
  router::ReplicaState s;
  s.seen = static_cast<Seen>(seen.load(relaxed));
  s.lag_known = lag_known.load(relaxed);
  s.lag_seconds = lag_seconds.load(relaxed);
  s.lag_bytes = lag_bytes.load(relaxed);
  s.replay_lsn = lsn.load(relaxed);
  return s;
}

struct ReplicaMonitor::Target {
  enum class Phase { Idle, Connecting, Querying };

  Plan plan;
  PGconn* conn = nullptr;
  Phase phase = Phase::Idle;
  short events = 0;  // what poll() waits for while a check runs
  Clock::time_point next_due{}, deadline{}, sent_at{};
  bool answering = true;                  // for logging changes only
  bool recorded = false;                  // the running check's row has been recorded
  uint64_t number = 0;                    // the running check's (ServerLag::started)
  std::deque<router::LsnSample> history;  // this server's own LSNs while it is a primary, oldest first

  ~Target() { close(); }
  void close() {
    if (conn) PQfinish(conn);
    conn = nullptr;
    phase = Phase::Idle;
  }
};

ReplicaMonitor::ReplicaMonitor() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ReplicaMonitor::~ReplicaMonitor() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ReplicaMonitor::follow(const config::Config& cfg) {
  std::vector<Plan> plan;
  auto add = [&](const std::string& alias, const std::string& primary, std::chrono::milliseconds interval) {
    for (Plan& p : plan)
      if (p.alias == alias) {  // on several routers: the shortest interval, the first router's primary
        p.interval = std::min(p.interval, interval);
        if (p.primary.empty()) p.primary = primary;
        return;
      }
    const config::Backend* b = cfg.backend(alias);
    if (b == nullptr || b->user.empty()) return;  // the loader refuses lag limits without a login
    Plan p;
    p.alias = alias;
    p.primary = primary;
    p.interval = interval;
    p.keys = {"host", "port", "user", "password", "dbname", "sslmode", "application_name"};
    p.values = {b->host,
                std::to_string(b->port),
                b->user,
                b->password,
                b->login_dbname(b->user),
                std::string(config::ssl_mode_name(b->sslmode)),
                "pgroute lag check"};
    // The URL's TLS files, as the pools use them (libpq reads "system" as pgroute does).
    for (const auto& [key, file] : {std::pair<const char*, const std::string*>{"sslrootcert", &b->sslrootcert},
                                    {"sslcert", &b->sslcert},
                                    {"sslkey", &b->sslkey}})
      if (!file->empty()) {
        p.keys.push_back(key);
        p.values.push_back(*file);
      }
    for (const std::string& v : p.values) p.conninfo_key += v + '\0';
    plan.push_back(std::move(p));
  };
  for (const auto& spec : cfg.routers) {
    const auto* r = std::get_if<config::ReplicasRouterSpec>(&spec.settings);
    if (r == nullptr || !r->monitored()) continue;
    add(r->primary, "", r->lag_check_interval);
    for (const auto& replica : r->replicas) add(replica.alias, r->primary, r->lag_check_interval);
  }

  std::lock_guard lock(mu_);
  // What was seen of a server stays while its address and login do.
  auto lags = std::make_shared<LagMap>();
  for (Plan& p : plan) {
    for (const Plan& old : plan_)
      if (old.alias == p.alias && old.conninfo_key == p.conninfo_key) p.lag = old.lag;
    if (!p.lag) p.lag = std::make_shared<ServerLag>();
    (*lags)[p.alias] = p.lag;
  }
  plan_ = std::move(plan);
  plan_changed_ = true;
  lags_.store(std::move(lags));
  wake();
}

void ReplicaMonitor::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void ReplicaMonitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake();
  }
  if (thread_.joinable()) thread_.join();
}

void ReplicaMonitor::wake() {
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

router::ReplicaState ReplicaMonitor::state(std::string_view alias) const {
  auto lags = lags_.load();
  auto it = lags->find(alias);
  return it != lags->end() ? it->second->load() : router::ReplicaState{};
}

uint64_t ReplicaMonitor::request_check(std::string_view alias) {
  auto lags = lags_.load();
  auto it = lags->find(alias);
  if (it == lags->end()) return 0;
  ServerLag& lag = *it->second;
  const uint64_t ticket = lag.started.load(std::memory_order_acquire) + 1;  // any check that starts from now
  if (!lag.wanted.exchange(true)) wake();
  return ticket;
}

bool ReplicaMonitor::check_answered(std::string_view alias, uint64_t ticket) const {
  auto lags = lags_.load();
  auto it = lags->find(alias);
  return it != lags->end() && it->second->answered.load(std::memory_order_acquire) >= ticket;
}

uint64_t ReplicaMonitor::checks_started(std::string_view alias) const {
  auto lags = lags_.load();
  auto it = lags->find(alias);
  return it != lags->end() ? it->second->started.load(relaxed) : 0;
}

uint64_t ReplicaMonitor::replay_lsn(std::string_view alias) const {
  auto lags = lags_.load();
  auto it = lags->find(alias);
  return it != lags->end() ? it->second->lsn.load(relaxed) : 0;
}

std::vector<ReplicaRow> ReplicaMonitor::rows(const config::Config& cfg) const {
  std::vector<ReplicaRow> out;
  for (const auto& spec : cfg.routers) {
    const auto* r = std::get_if<config::ReplicasRouterSpec>(&spec.settings);
    if (r == nullptr || !r->monitored()) continue;
    const router::LagLimits limits{r->max_lag, r->max_lag_bytes};
    for (const auto& replica : r->replicas) {
      ReplicaRow row{replica.alias, r->primary, state(replica.alias), {}, {}};
      row.out = router::out_of_rotation(row.state, limits);
      row.why = router::describe(row.out, row.state, limits);
      out.push_back(std::move(row));
    }
  }
  return out;
}

void ReplicaMonitor::run() {
  std::vector<std::unique_ptr<Target>> targets;
  auto find = [&](std::string_view alias) -> Target* {
    for (auto& t : targets)
      if (t->plan.alias == alias) return t.get();
    return nullptr;
  };

  auto fail = [&](Target& t, std::string_view why) {
    if (t.answering)
      PGR_LOG(warn) << "lag check of alias \"" << t.plan.alias << "\" failed: " << why
                    << " (out of rotation while it does not answer)";
    t.answering = false;
    t.close();
    t.plan.lag->seen.store(static_cast<uint8_t>(Seen::NotAnswering), relaxed);
    t.plan.lag->failures.fetch_add(1, relaxed);
  };

  auto send_check = [&](Target& t) {
    if (!PQsendQuery(t.conn, kCheckQuery)) return fail(t, PQerrorMessage(t.conn));
    t.sent_at = Clock::now();
    t.recorded = false;
    t.phase = Target::Phase::Querying;
    int flushed = PQflush(t.conn);
    if (flushed < 0) return fail(t, PQerrorMessage(t.conn));
    t.events = static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0));
  };

  auto start_check = [&](Target& t, Clock::time_point now) {
    t.plan.lag->wanted.store(false);  // this check serves whoever asked until now
    t.number = t.plan.lag->started.fetch_add(1, std::memory_order_acq_rel) + 1;
    t.next_due = now + t.plan.interval;
    t.deadline = now + check_timeout(t.plan.interval);
    if (t.conn && PQstatus(t.conn) == CONNECTION_OK) return send_check(t);
    t.close();
    std::vector<const char*> keys, values;
    for (size_t i = 0; i < t.plan.keys.size(); ++i) {
      keys.push_back(t.plan.keys[i].c_str());
      values.push_back(t.plan.values[i].c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    t.conn = PQconnectStartParams(keys.data(), values.data(), 0);
    if (t.conn == nullptr) return fail(t, "out of memory");
    if (PQstatus(t.conn) == CONNECTION_BAD) return fail(t, PQerrorMessage(t.conn));
    t.phase = Target::Phase::Connecting;
    t.events = POLLOUT;  // libpq: after PQconnectStart, wait until writable, then PQconnectPoll
  };

  auto record = [&](Target& t, PGresult* res) {
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 3)
      return fail(t, PQresultErrorMessage(res));
    const bool in_recovery = std::string_view(PQgetvalue(res, 0, 0)) == "t";
    auto lsn = router::parse_lsn(PQgetvalue(res, 0, 1));
    if (lsn && !in_recovery) lsn = router::wal_end_of_insert(*lsn);  // comparable with replay positions
    std::optional<double> since_commit;
    if (!PQgetisnull(res, 0, 2)) since_commit = std::strtod(PQgetvalue(res, 0, 2), nullptr);
    if (!t.answering) PGR_LOG(info) << "lag check of alias \"" << t.plan.alias << "\" answers again";
    t.answering = true;
    ServerLag& lag = *t.plan.lag;
    lag.checks.fetch_add(1, relaxed);
    if (lsn) lag.lsn.store(*lsn, relaxed);
    if (lsn) lag.answered.store(t.number, std::memory_order_release);  // after the LSN: readers see it
    if (!in_recovery && lsn) {
      t.history.push_back({*lsn, t.sent_at});
      if (t.history.size() > kHistory) t.history.pop_front();
    }
    if (t.plan.primary.empty()) {  // a primary: its LSN is what counts
      lag.seen.store(static_cast<uint8_t>(in_recovery ? Seen::InRecovery : Seen::NotInRecovery), relaxed);
      return;
    }
    if (in_recovery) {
      const Target* primary = find(t.plan.primary);
      auto delay =
          primary && lsn ? router::replay_delay(*lsn, primary->history, since_commit, Clock::now()) : std::nullopt;
      if (delay) {
        const uint64_t head = primary->history.back().lsn;
        lag.lag_seconds.store(*delay, relaxed);
        lag.lag_bytes.store(head > *lsn ? head - *lsn : 0, relaxed);
      }
      lag.lag_known.store(delay.has_value(), relaxed);
    }
    lag.seen.store(static_cast<uint8_t>(in_recovery ? Seen::InRecovery : Seen::NotInRecovery), relaxed);
  };

  // Connecting or querying: one step on readiness.
  auto advance = [&](Target& t) {
    if (t.phase == Target::Phase::Connecting) {
      switch (PQconnectPoll(t.conn)) {
        case PGRES_POLLING_READING: t.events = POLLIN; return;
        case PGRES_POLLING_WRITING: t.events = POLLOUT; return;
        case PGRES_POLLING_OK:
          if (PQsetnonblocking(t.conn, 1) != 0) return fail(t, PQerrorMessage(t.conn));
          return send_check(t);
        default: return fail(t, PQerrorMessage(t.conn));
      }
    }
    if (t.events & POLLOUT) {
      int flushed = PQflush(t.conn);
      if (flushed < 0) return fail(t, PQerrorMessage(t.conn));
      t.events = static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0));
    }
    if (!PQconsumeInput(t.conn)) return fail(t, PQerrorMessage(t.conn));
    // PQgetResult blocks while libpq is busy: only called when it is not. The row is recorded as soon as
    // it is there; the check ends with the null result after ReadyForQuery, which may come in a later read.
    while (t.conn && !PQisBusy(t.conn)) {
      PGresult* res = PQgetResult(t.conn);
      if (res == nullptr) {
        if (!t.recorded) return fail(t, "no result");
        t.phase = Target::Phase::Idle;
        return;
      }
      if (!t.recorded) {
        t.recorded = true;
        record(t, res);  // may fail the check, closing the connection
      }
      PQclear(res);
    }
  };

  std::vector<pollfd> fds;
  std::vector<Target*> polled;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      if (plan_changed_) {
        plan_changed_ = false;
        std::vector<std::unique_ptr<Target>> next;
        for (const Plan& p : plan_) {
          auto kept = std::find_if(targets.begin(), targets.end(), [&](const auto& t) {
            return t && t->plan.alias == p.alias && t->plan.conninfo_key == p.conninfo_key;
          });
          std::unique_ptr<Target> t = kept != targets.end() ? std::move(*kept) : std::make_unique<Target>();
          t->plan = p;
          next.push_back(std::move(t));
        }
        targets = std::move(next);  // servers no longer checked close here
      }
    }

    const auto now = Clock::now();
    auto wake_at = now + std::chrono::seconds(1);
    for (auto& t : targets) {
      if (t->phase == Target::Phase::Idle && (now >= t->next_due || t->plan.lag->wanted.load())) start_check(*t, now);
      if (t->phase != Target::Phase::Idle && now >= t->deadline) fail(*t, "no answer within the check timeout");
      wake_at = std::min(wake_at, t->phase == Target::Phase::Idle ? t->next_due : t->deadline);
    }

    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    polled.assign(1, nullptr);
    for (auto& t : targets)
      if (t->phase != Target::Phase::Idle) {
        fds.push_back(pollfd{PQsocket(t->conn), t->events, 0});
        polled.push_back(t.get());
      }
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(wake_at - Clock::now(), Clock::duration(0)));
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (n <= 0) continue;
    if (fds[0].revents) {
      uint64_t drained;
      (void)!::read(wake_fd_, &drained, sizeof drained);
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents) advance(*polled[i]);
  }
  targets.clear();
}

}  // namespace pgroute
