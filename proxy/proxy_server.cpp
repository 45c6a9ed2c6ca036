#include "proxy/proxy_server.hpp"

#include <boost/asio/signal_set.hpp>
#include <thread>

#include "config/loader.hpp"
#include "proxy/client_session.hpp"
#include "proxy/log.hpp"

namespace pgroute {
namespace {
constexpr auto kShutdownTimeout = std::chrono::seconds(30);
}

ProxyServer::ProxyServer(std::string config_path, std::shared_ptr<const config::Config> cfg,
                         std::shared_ptr<const router::RouterChain> chain)
    : config_path_(std::move(config_path)) {
  int threads = cfg->threads > 0 ? cfg->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  rt_ = std::make_unique<Runtime>(threads);
  size_t cache = static_cast<size_t>(std::max(1, cfg->routing_cache_size));
  rt_->install(std::move(cfg), std::move(chain));
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(i, cache));
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
      PGR_LOG(warn) << "accept failed: " << ec.message();
      // Out of descriptors and the like: back off instead of spinning.
      asio::steady_timer t(w.ctx, std::chrono::milliseconds(100));
      co_await t.async_wait(use_nothrow);
      continue;
    }
    boost::system::error_code ignore;
    sock.set_option(tcp::no_delay(true), ignore);
    auto session = std::make_shared<ClientSession>(*rt_, w, std::move(sock));
    asio::co_spawn(w.ctx, session->run(), asio::detached);
  }
}

void ProxyServer::reload() {
  auto result = config::load_file(config_path_);
  if (!result.problems.empty()) {
    for (auto& p : result.problems) PGR_LOG(error) << "reload rejected: " << p.to_string();
    PGR_LOG(error) << "reload rejected: keeping the previous configuration";
    return;
  }
  const auto& old_listen = rt_->snapshot()->config->listen;
  if (result.config->listen.host != old_listen.host || result.config->listen.port != old_listen.port)
    PGR_LOG(warn) << "reload: listen address changes need a restart; keeping " << old_listen.host << ":"
                  << old_listen.port;
  std::string chain_error;
  auto chain = chain_for(*result.config, chain_error);
  if (!chain_error.empty()) {
    PGR_LOG(error) << "reload rejected: " << chain_error;
    PGR_LOG(error) << "reload rejected: keeping the previous configuration";
    return;
  }
  rt_->install(result.config, std::move(chain));
  PGR_LOG(info) << "reload: configuration " << config_path_ << " applied (generation " << rt_->generation() << ")";
}

void ProxyServer::begin_shutdown() {
  if (stopping_.exchange(true)) return;
  PGR_LOG(info) << "shutting down: no new clients; waiting for " << rt_->clients.load() << " client(s) to finish";
  rt_->shutting_down = true;
  rt_->stop_maintenance();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    asio::post(w.ctx, [&w, acc = acceptors_[i].get()] {
      boost::system::error_code ec;
      acc->close(ec);
      for (auto& [id, weak] : std::unordered_map(w.sessions))
        if (auto s = weak.lock()) s->request_shutdown();
    });
  }
}

awaitable<void> ProxyServer::signal_loop() {
  asio::signal_set signals(control_, SIGINT, SIGTERM, SIGHUP);
  for (;;) {
    auto [ec, sig] = co_await signals.async_wait(use_nothrow);
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
  std::string error;
  if (!listen(error)) {
    PGR_LOG(error) << error;
    return 1;
  }
  const auto& cfg = *rt_->snapshot()->config;
  for (size_t i = 0; i < workers_.size(); ++i)
    asio::co_spawn(workers_[i]->ctx, accept_loop(*workers_[i], *acceptors_[i]), asio::detached);
  asio::co_spawn(control_, signal_loop(), asio::detached);
  std::vector<asio::io_context*> contexts;
  for (auto& w : workers_) contexts.push_back(&w->ctx);
  rt_->attach_workers(std::move(contexts));  // pool maintenance starts once the workers run
  for (auto& w : workers_) {
    w->thread = std::thread([&w] {
      auto guard = asio::make_work_guard(w->ctx);
      w->ctx.run();
    });
  }
  PGR_LOG(info) << "pgroute listening on " << cfg.listen.host << ":" << cfg.listen.port << " with "
                << workers_.size() << " worker thread(s), " << cfg.backends.size() << " backend alias(es), pool mode "
                << (cfg.pool.mode == config::PoolMode::Session ? "session" : "transaction");
  control_.run();
  for (auto& w : workers_) w->thread.join();
  rt_->close_all_pools(CloseReason::shutdown);
  PGR_LOG(info) << "pgroute stopped";
  return 0;
}

}  // namespace pgroute
