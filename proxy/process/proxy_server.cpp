#include "proxy/process/proxy_server.hpp"

#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <thread>

#include "config/loader.hpp"
#include "config/secret_exposure.hpp"
#include "proxy/base/log.hpp"
#include "proxy/metrics/query_stats.hpp"
#include "proxy/process/config_watcher.hpp"
#include "proxy/process/service_notify.hpp"
#include "proxy/session/client_session.hpp"

namespace pgroute {
namespace {
constexpr auto kShutdownTimeout = std::chrono::seconds(30);
constexpr auto kParkSweepPeriod = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
}  // namespace

ProxyServer::ProxyServer(std::string config_path, std::shared_ptr<const config::Config> cfg,
                         std::shared_ptr<const router::RouterChain> chain, std::shared_ptr<const TlsContext> tls,
                         BackendTlsContexts backend_tls)
    : config_path_(std::move(config_path)) {
  // Automatic: half the cores. A pooler shares its machine with the kernel's network work for its own
  // sockets and, often, with PostgreSQL or the application; on 2 shared cores one worker used 20-25%
  // less CPU per transaction than two at 64 and 256 clients (tools/bench, commit message).
  int threads =
      cfg->threads > 0 ? cfg->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
  rt_ = std::make_unique<Runtime>(threads);
  size_t cache = static_cast<size_t>(std::max(1, cfg->routing_cache_size));
  rt_->install(std::move(cfg), std::move(chain), std::move(tls), std::move(backend_tls));
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(*rt_, i, cache));
}

ProxyServer::~ProxyServer() = default;

bool ProxyServer::listen(std::string& error) {
  const auto& cfg = *rt_->snapshot()->config;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(cfg.listen.host, ec);
  if (ec) {
    error = "listen.host \"" + cfg.listen.host + "\" is not an IP address";
    return false;
  }
  tcp::endpoint ep(address, cfg.listen.port);
  for (auto& w : workers_) {
    auto acc = std::make_unique<tcp::acceptor>(w->ctx);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      // Each worker accepts on its own socket; the kernel spreads connections across them.
      int one = 1;
      if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = boost::system::error_code(errno, boost::system::system_category());
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen on " + cfg.listen.host + ":" + std::to_string(cfg.listen.port) + ": " + ec.message();
      return false;
    }
    acceptors_.push_back(std::move(acc));
  }
  return true;
}

awaitable<void> ProxyServer::accept_loop(Worker& w, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(w.ctx, use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      // Out of descriptors and the like: back off instead of spinning, and say so once a second at
      // most (every worker's acceptor fails alike). The connection waits in the backlog meanwhile.
      const int64_t now =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count();
      int64_t last = last_accept_warning_ms_.load(std::memory_order_relaxed);
      const int failures = accept_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (now - last >= 1000 && last_accept_warning_ms_.compare_exchange_strong(last, now)) {
        accept_failures_.fetch_sub(failures, std::memory_order_relaxed);
        PGR_LOG(warn) << "accept failed: " << ec.message() << " (" << failures
                      << " failure(s) since the last message); retrying every " << kAcceptRetryDelay.count() << "ms";
      }
      asio::steady_timer t(w.ctx, kAcceptRetryDelay);
      co_await t.async_wait(use_nothrow);
      continue;
    }
    boost::system::error_code ignore;
    sock.set_option(tcp::no_delay(true), ignore);
    auto session = std::make_shared<ClientSession>(w, std::move(sock));
    asio::co_spawn(w.ctx, session->run(), asio::detached);
  }
}

// A client that waits in a read after its transaction holds that read's coroutine frames and buffer;
// parking it frees them. Not done at the end of every transaction (cancelling a read costs more than
// a transaction's other work): only for clients still idle a sweep period later.
awaitable<void> ProxyServer::park_sweep(Worker& w) {
  asio::steady_timer t(w.ctx);
  while (!stopping_) {
    t.expires_after(kParkSweepPeriod);
    co_await t.async_wait(use_nothrow);
    ++w.park_tick;
    w.sessions.for_each([&](ClientSession& s) { s.park_if_idle(w.park_tick); });
  }
}

std::string ProxyServer::reload() {
  service::notify_reloading();
  return apply(config::load_file(config_path_));
}

std::string ProxyServer::apply(const config::LoadResult& result) {
  if (!result.problems.empty()) {
    std::vector<std::string> problems;
    for (auto& p : result.problems) problems.push_back(p.to_string());
    return reject_reload(problems);
  }
  const auto& old_metrics = rt_->snapshot()->config->metrics;
  const auto& new_metrics = result.config->metrics;
  if (old_metrics.has_value() != new_metrics.has_value() ||
      (old_metrics && (old_metrics->host != new_metrics->host || old_metrics->port != new_metrics->port)))
    PGR_LOG(warn) << "reload: metrics.listen changes need a restart; keeping the current endpoint";
  const auto& old_listen = rt_->snapshot()->config->listen;
  if (result.config->listen.host != old_listen.host || result.config->listen.port != old_listen.port)
    PGR_LOG(warn) << "reload: listen address changes need a restart; keeping " << old_listen.host << ":"
                  << old_listen.port;
  std::string chain_error;
  auto chain = chain_for(*result.config, chain_error);
  if (!chain_error.empty()) return reject_reload({chain_error});
  std::string tls_error;
  auto tls = tls_for(*result.config, tls_error);
  if (!tls_error.empty()) return reject_reload({tls_error});
  // Backends' TLS files are loaded again on every reload: new server connections use what is there now.
  auto backend_tls = backend_tls_for(*result.config, tls_error);
  if (!tls_error.empty()) return reject_reload({tls_error});
  if (auto warning = config::secret_exposure_warning(*result.config)) PGR_LOG(warn) << "reload: " << *warning;
  rt_->install(result.config, std::move(chain), std::move(tls), std::move(backend_tls));
  sync_watching();
  sync_tls_watching();
  PGR_LOG(info) << "reload: configuration " << config_path_ << " applied (generation " << rt_->generation() << ")";
  rt_->reloads_ok.fetch_add(1);
  service::notify_ready("configuration generation " + std::to_string(rt_->generation()));
  return {};
}

// The configuration in force stays: each reason is logged, the failure counted, systemd told.
std::string ProxyServer::reject_reload(const std::vector<std::string>& reasons) {
  std::string joined;
  for (const auto& reason : reasons) {
    PGR_LOG(error) << "reload rejected: " << reason;
    joined += (joined.empty() ? "" : "\n") + reason;
  }
  PGR_LOG(error) << "reload rejected: keeping the previous configuration";
  rt_->reloads_failed.fetch_add(1);
  service::notify_ready("reload rejected; previous configuration kept");
  return joined;
}

void ProxyServer::begin_shutdown() {
  if (stopping_.exchange(true)) return;
  PGR_LOG(info) << "shutting down: no new clients; waiting for " << rt_->clients.load() << " client(s) to finish";
  service::notify_stopping();
  rt_->shutting_down = true;
  rt_->stop_maintenance();
  asio::post(control_, [this] {
    if (watcher_) watcher_->stop();  // its pending read would keep control_.run() from returning
    for (auto& w : tls_watchers_) w->stop();
  });
  rt_->pauses.resume_all();  // paused transactions must be able to finish or fail
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    asio::post(w.ctx, [&w, acc = acceptors_[i].get()] {
      boost::system::error_code ec;
      acc->close(ec);
      for (auto& s : w.sessions.held()) s->request_shutdown();
    });
  }
}

void ProxyServer::sync_watching() {
  const bool wanted = rt_->snapshot()->config->reload.watch;
  if (!wanted) {
    if (!watcher_) return;
    watcher_->stop();
    retired_watchers_.push_back(std::move(watcher_));
    PGR_LOG(info) << "reload: no longer watching " << config_path_ << " (reload.watch is off); SIGHUP still reloads";
    return;
  }
  if (watcher_ || stopping_) return;
  watcher_ = std::make_unique<ConfigWatcher>(control_, config_path_, [this] { reload_if_changed(); });
  std::string error;
  if (!watcher_->start(error)) {  // nothing of it runs: it can go at once
    PGR_LOG(warn) << "reload: cannot watch " << config_path_ << " (" << error << "); SIGHUP still reloads";
    watcher_.reset();
    return;
  }
  PGR_LOG(info) << "reload: watching " << watcher_->path() << " for changes";
  if (!error.empty()) PGR_LOG(warn) << "reload: " << error << " (changes made there are not noticed)";
}

void ProxyServer::sync_tls_watching() {
  const auto snap = rt_->snapshot();
  std::vector<std::string> files;
  if (snap->config->reload.watch && snap->tls && snap->config->tls)
    for (const std::string* f : {&snap->config->tls->cert, &snap->config->tls->key, &snap->config->tls->ca})
      if (!f->empty()) files.push_back(*f);
  if (files == tls_watched_files_ || stopping_) return;
  tls_watched_files_ = files;
  for (auto& w : tls_watchers_) {
    w->stop();
    retired_watchers_.push_back(std::move(w));
  }
  tls_watchers_.clear();
  for (const std::string& file : files) {
    auto w = std::make_unique<ConfigWatcher>(control_, file, [this] { reload_tls_files(); });
    std::string error;
    if (!w->start(error)) {
      PGR_LOG(warn) << "reload: cannot watch " << file << " (" << error << "); SIGHUP still reloads it";
      continue;
    }
    tls_watchers_.push_back(std::move(w));
  }
}

void ProxyServer::reload_tls_files() {
  if (stopping_) return;
  const auto snap = rt_->snapshot();
  if (!snap->config->tls) return;
  std::string error;
  auto tls = tls_for(*snap->config, error);
  if (!tls) {
    PGR_LOG(error) << "reload: " << error << "; keeping the certificate in force";
    rt_->reloads_failed.fetch_add(1);
    return;
  }
  rt_->install(snap->config, snap->chain, std::move(tls), snap->backend_tls);
  PGR_LOG(info) << "reload: TLS files of " << config_path_ << " loaded again (generation " << rt_->generation()
                << "); new connections use them";
  rt_->reloads_ok.fetch_add(1);
}

void ProxyServer::reload_if_changed() {
  if (stopping_) return;
  const auto live = rt_->snapshot()->config;
  if (!live->reload.watch) return;  // turned off: only SIGHUP and the admin RELOAD reload
  std::string text;
  if (auto problem = config::read_text_file(config_path_, text)) {
    std::error_code ec;
    if (!std::filesystem::exists(config_path_, ec)) {
      // Deleted, or between the steps of a replacement: the new file's arrival is another event.
      PGR_LOG(warn) << "reload: " << config_path_ << " is gone; keeping the current configuration";
      return;
    }
    PGR_LOG(info) << "reload: " << config_path_ << " changed";
    service::notify_reloading();
    apply(config::LoadResult{nullptr, {std::move(*problem)}});
    return;
  }
  if (config::content_hash(text) == live->content_hash) {
    PGR_LOG(info) << "reload: " << config_path_ << " was saved, but its content is the one in force; nothing to do";
    return;
  }
  PGR_LOG(info) << "reload: " << config_path_ << " changed";
  service::notify_reloading();
  apply(config::load_text(text, config_path_));
}

awaitable<void> ProxyServer::signal_loop() {
  for (;;) {
    auto [ec, sig] = co_await signals_->async_wait(use_nothrow);
    if (ec) co_return;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    begin_shutdown();
    // Wait for clients to leave, then stop the workers.
    auto deadline = std::chrono::steady_clock::now() + kShutdownTimeout;
    asio::steady_timer t(control_);
    while (rt_->clients.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(use_nothrow);
    }
    if (rt_->clients.load() > 0) PGR_LOG(warn) << "shutdown timeout: closing " << rt_->clients.load() << " client(s)";
    for (auto& w : workers_) w->ctx.stop();
    co_return;
  }
}

int ProxyServer::run() {
  // Handlers are installed first, before the port opens: a SIGHUP as soon as clients can connect (a
  // deploy reloading right after the start) must be a reload, not the default action (terminate).
  // Signals that arrive before control_ runs wait in the set.
  signals_ = std::make_unique<asio::signal_set>(control_, SIGINT, SIGTERM, SIGHUP);
  std::string error;
  // Metrics first: CivetWeb answers 404 until /metrics is registered, and whoever sees the proxy port
  // accept (a deploy's readiness check, a test) may scrape at once.
  const auto& cfg = *rt_->snapshot()->config;
  if (cfg.metrics) {
    metrics_ = metrics::Endpoint::start(*rt_, *cfg.metrics, error);
    if (!metrics_) {
      PGR_LOG(error) << error;
      return 1;
    }
    PGR_LOG(info) << "metrics on http://" << cfg.metrics->host << ":" << metrics_->port() << "/metrics";
  }
  if (!listen(error)) {
    PGR_LOG(error) << error;
    return 1;
  }
  admin_control_.reset(new admin::Control{control_, [this] { return reload(); }, {}});
  for (auto& w : workers_) {
    admin_control_->workers.push_back(w.get());
    w->control = admin_control_.get();
  }
  for (size_t i = 0; i < workers_.size(); ++i)
    asio::co_spawn(workers_[i]->ctx, accept_loop(*workers_[i], *acceptors_[i]), asio::detached);
  for (auto& w : workers_) asio::co_spawn(w->ctx, park_sweep(*w), asio::detached);
  asio::co_spawn(control_, signal_loop(), asio::detached);
  sync_watching();
  sync_tls_watching();
  std::vector<asio::io_context*> contexts;
  for (auto& w : workers_) contexts.push_back(&w->ctx);
  rt_->attach_workers(std::move(contexts));  // pool maintenance starts once the workers run
  for (auto& w : workers_) {
    w->thread = std::thread([&w] {
      metrics::bind_worker_thread(w->index);
      auto guard = asio::make_work_guard(w->ctx);
      w->ctx.run();
    });
  }
  PGR_LOG(info) << "pgroute listening on " << cfg.listen.host << ":" << cfg.listen.port << " with " << workers_.size()
                << " worker thread(s) on epoll, " << cfg.backends.size() << " backend alias(es), pool mode "
                << (cfg.pool.mode == config::PoolMode::Session ? "session" : "transaction");
  service::notify_ready("listening on " + cfg.listen.host + ":" + std::to_string(cfg.listen.port));
  control_.run();
  for (auto& w : workers_) w->thread.join();
  rt_->close_all_pools(CloseReason::shutdown);
  PGR_LOG(info) << "pgroute stopped";
  return 0;
}

}  // namespace pgroute
