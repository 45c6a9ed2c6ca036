#include "proxy/pool/runtime.hpp"

#include "proxy/auth/md5.hpp"
#include "proxy/auth/random.hpp"
#include "proxy/base/log.hpp"
#include "router/chain_builder.hpp"

namespace pgroute {

std::shared_ptr<const router::RouterChain> chain_for(const config::Config& cfg, std::string& error) {
  error.clear();
  if (cfg.routers.empty()) return nullptr;
  return router::build_router_chain(cfg, error);
}

std::shared_ptr<const Snapshot> make_snapshot(std::shared_ptr<const config::Config> cfg, uint64_t generation,
                                              std::shared_ptr<const router::RouterChain> chain,
                                              const Snapshot* previous, std::shared_ptr<const TlsContext> tls,
                                              BackendTlsContexts backend_tls) {
  auto snap = std::make_shared<Snapshot>();
  snap->chain = std::move(chain);
  snap->tls = std::move(tls);
  snap->backend_tls = std::move(backend_tls);
  for (const auto& u : cfg->users) {
    if (u.auth != config::AuthMethod::ScramSha256 && u.auth != config::AuthMethod::Cleartext) continue;
    if (auth::is_scram_verifier(u.password)) {
      if (auto s = auth::parse_scram_verifier(u.password)) snap->scram.emplace(u.name, *s);
    } else if (u.auth == config::AuthMethod::ScramSha256 && !auth::is_md5_hash(u.password)) {
      // Plaintext password: derive a verifier once so logins cost one HMAC, not 4096. A reload keeps
      // it while the password stays: reloading many users costs no PBKDF2, and the salt stays put.
      if (previous) {
        const config::User* old = previous->config->user(u.name);
        auto it = previous->scram.find(u.name);
        if (old && old->password == u.password && it != previous->scram.end()) {
          snap->scram.emplace(u.name, it->second);
          continue;
        }
      }
      snap->scram.emplace(u.name, auth::make_scram_secret(u.password));
    }
  }
  for (const auto& spec : cfg->routers) {
    const auto* r = std::get_if<config::ReplicasRouterSpec>(&spec.settings);
    if (r == nullptr || r->causal_reads == config::ReplicasRouterSpec::CausalReads::off) continue;
    std::shared_ptr<router::CausalFloors> floors;
    if (previous)
      if (auto it = previous->causal_floors.find(r->primary); it != previous->causal_floors.end()) floors = it->second;
    snap->causal_floors.emplace(r->primary, floors ? floors : std::make_shared<router::CausalFloors>());
  }
  if (!snap->causal_floors.empty())
    snap->causal_lookup = [floors = &snap->causal_floors](std::string_view primary) -> router::CausalFloors* {
      auto it = floors->find(primary);
      return it == floors->end() ? nullptr : it->second.get();
    };
  snap->config = std::move(cfg);
  snap->generation = generation;
  return snap;
}

namespace {
PoolSettings settings_for(const Snapshot& snap, const config::Backend& b) {
  const config::Config& cfg = *snap.config;
  PoolSettings s;
  s.max_size = cfg.pool_size_for(b);
  s.queue_timeout = cfg.pool.queue_timeout;
  s.connect_timeout = cfg.pool.connect_timeout;
  s.max_message = cfg.max_message_size;
  s.life = b.lifecycle;
  if (auto it = snap.backend_tls.find(b.alias); it != snap.backend_tls.end()) s.tls = it->second;
  return s;
}
// Settings are not part of the key: a reload that only changes them keeps the pool and its connections.
std::string pool_key(const ServerEndpoint& ep) {
  std::string k;
  for (const std::string* part : {&ep.alias, &ep.host, &ep.user, &ep.password, &ep.dbname}) {
    k += *part;
    k.push_back('\0');
  }
  // TLS settings too: a connection made in plaintext (or with other files) must not serve a new sslmode.
  return k + std::to_string(ep.port) + '\0' + ep.tls_settings;
}
ServerEndpoint endpoint_for(const config::Backend& b, const std::string& user, const std::string& password) {
  ServerEndpoint ep;
  ep.alias = b.alias;
  ep.host = b.host;
  ep.port = b.port;
  ep.user = user;
  ep.password = password;
  ep.dbname = b.dbname.empty() ? user : b.dbname;
  ep.sslmode = b.sslmode;
  ep.tls_settings =
      std::string(config::ssl_mode_name(b.sslmode)) + '\0' + b.sslrootcert + '\0' + b.sslcert + '\0' + b.sslkey;
  return ep;
}
}  // namespace

namespace {
std::string random_key() {
  std::string key(32, '\0');
  auth::random_bytes(key.data(), key.size());
  return key;
}
}  // namespace

Runtime::Runtime(int workers) : mock_scram_key(random_key()), workers_(workers) {}

void Runtime::install(std::shared_ptr<const config::Config> cfg, std::shared_ptr<const router::RouterChain> chain,
                      std::shared_ptr<const TlsContext> tls, BackendTlsContexts backend_tls) {
  uint64_t gen = generation_.load() + 1;
  auto snap = make_snapshot(cfg, gen, std::move(chain), snapshot_.load().get(), std::move(tls), std::move(backend_tls));
  // Health flags outlive reloads for aliases that stay, so a router keeps its view.
  auto old_health = health_.load();
  auto health = std::make_shared<HealthMap>();
  for (const auto& b : cfg->backends) {
    auto it = old_health->find(b.alias);
    (*health)[b.alias] = it != old_health->end() ? it->second : std::make_shared<AliasHealth>();
  }
  health_.store(std::move(health));
  replicas.follow(*cfg);

  std::vector<std::shared_ptr<ServerPool>> retired;
  {
    std::lock_guard lock(pools_mu_);
    for (auto it = pools_.begin(); it != pools_.end();) {
      const ServerEndpoint& ep = it->second->endpoint();
      const config::Backend* b = cfg->backend(ep.alias);
      bool keep = false;
      if (b && b->user.empty()) {
        // Clients log in as themselves: the user must still exist with the password the pool uses.
        const config::User* u = cfg->user(ep.user);
        keep = u && u->password == ep.password && pool_key(endpoint_for(*b, ep.user, ep.password)) == it->first;
      } else if (b) {
        keep = pool_key(endpoint_for(*b, b->user, b->password)) == it->first;  // still the URL's login
      }
      if (keep) {
        it->second->apply(settings_for(*snap, *b));
        ++it;
      } else {
        retired.push_back(it->second);
        it = pools_.erase(it);
      }
    }
    if (!contexts_.empty())
      for (const auto& b : cfg->backends)
        if (!b.user.empty()) pool_for_locked(*snap, b, b.user, b.password);
  }
  for (auto& p : retired) {
    PGR_LOG(info) << "reload: draining pool for " << p->endpoint().describe() << " as " << p->endpoint().user
                  << " (backend address or login changed, or alias removed)";
    p->retire();
  }
  snapshot_.store(std::move(snap));
  generation_.store(gen, std::memory_order_release);
}

void Runtime::attach_workers(std::vector<asio::io_context*> contexts) {
  auto snap = snapshot();
  std::lock_guard lock(pools_mu_);
  contexts_ = std::move(contexts);
  for (auto& [key, pool] : pools_) {
    size_t i = next_context_++ % contexts_.size();
    pool->start_maintenance(*contexts_[i], static_cast<int>(i));
  }
  for (const auto& b : snap->config->backends)
    if (!b.user.empty()) pool_for_locked(*snap, b, b.user, b.password);
  replicas.start();
}

std::shared_ptr<AliasHealth> Runtime::health_of(std::string_view alias) const {
  auto map = health_.load();
  auto it = map->find(alias);
  return it != map->end() ? it->second : std::make_shared<AliasHealth>();
}

bool Runtime::alias_healthy(std::string_view alias) const {
  auto map = health_.load();
  auto it = map->find(alias);
  return it != map->end() && it->second->healthy.load(std::memory_order_relaxed);
}

void Runtime::stop_maintenance() {
  for (auto& p : pools()) p->stop_maintenance();
  replicas.stop();
}

std::shared_ptr<ServerPool> Runtime::pool_for(const Snapshot& snap, const config::Backend& backend,
                                              const std::string& user, const std::string& password) {
  std::lock_guard lock(pools_mu_);
  return pool_for_locked(snap, backend, user, password);
}

std::shared_ptr<ServerPool> Runtime::pool_for_locked(const Snapshot& snap, const config::Backend& backend,
                                                     const std::string& user, const std::string& password) {
  ServerEndpoint ep = endpoint_for(backend, user, password);
  auto& pool = pools_[pool_key(ep)];
  if (!pool) {
    pool = std::make_shared<ServerPool>(std::make_shared<const ServerEndpoint>(ep), settings_for(snap, backend),
                                        workers_, health_of(backend.alias));
    pool->set_pause_gate(pauses.gate(ep.alias));
    if (!contexts_.empty()) {
      size_t i = next_context_++ % contexts_.size();
      pool->start_maintenance(*contexts_[i], static_cast<int>(i));
    }
  }
  return pool;
}

std::vector<std::shared_ptr<ServerPool>> Runtime::pools() const {
  std::lock_guard lock(pools_mu_);
  std::vector<std::shared_ptr<ServerPool>> out;
  for (auto& [k, p] : pools_) out.push_back(p);
  return out;
}

void Runtime::close_all_pools(CloseReason why) {
  for (auto& p : pools()) p->close_idle(why);
}

}  // namespace pgroute
