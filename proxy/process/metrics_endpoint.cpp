#include "proxy/process/metrics_endpoint.hpp"

#include <prometheus/exposer.h>

#include <string>
#include <vector>

#include "proxy/process/proxy_collector.hpp"

namespace pgroute::metrics {

std::unique_ptr<Endpoint> Endpoint::start(Runtime& rt, const config::Metrics& where, std::string& error) {
  bool v6 = where.host.find(':') != std::string::npos;
  std::string address = (v6 ? "[" + where.host + "]" : where.host) + ":" + std::to_string(where.port);
  std::unique_ptr<Endpoint> ep(new Endpoint());
  // CivetWeb gives each connection a thread until its request is read: a connection that sends nothing
  // holds one for request_timeout_ms (30 s by default), and two such connections starved the two
  // threads this used to have. Enough threads, a short request timeout (a scraper sends its request
  // as soon as it is connected) and no keep-alive bound how long idle or slow connections delay a
  // scrape: 300 idle ones cost it about 300 / kThreads x kRequestTimeout. The queues are large enough
  // that a burst of connections is queued rather than its SYNs dropped (which costs seconds of retries).
  constexpr int kThreads = 32;
  constexpr int kRequestTimeoutMs = 200;
  constexpr int kQueue = 1024;
  const std::vector<std::string> options = {
      "listening_ports",    address,
      "num_threads",        std::to_string(kThreads),
      "request_timeout_ms", std::to_string(kRequestTimeoutMs),
      "enable_keep_alive",  "no",
      "connection_queue",   std::to_string(kQueue),
      "listen_backlog",     std::to_string(kQueue),
  };
  try {
    ep->exposer_ = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception& e) {
    error = "cannot serve metrics on " + address + ": " + e.what();
    return nullptr;
  }
  ep->collector_ = std::make_shared<ProxyCollector>(rt);
  ep->exposer_->RegisterCollectable(ep->collector_);
  auto ports = ep->exposer_->GetListeningPorts();
  ep->port_ = ports.empty() ? where.port : ports.front();
  return ep;
}

Endpoint::~Endpoint() = default;

}  // namespace pgroute::metrics
