#include "proxy/metrics/endpoint.hpp"

#include <prometheus/exposer.h>

#include "proxy/metrics/proxy_collector.hpp"

namespace pgroute::metrics {

std::unique_ptr<Endpoint> Endpoint::start(Runtime& rt, const config::Metrics& where, std::string& error) {
  bool v6 = where.host.find(':') != std::string::npos;
  std::string address = (v6 ? "[" + where.host + "]" : where.host) + ":" + std::to_string(where.port);
  std::unique_ptr<Endpoint> ep(new Endpoint());
  try {
    // Two HTTP threads: one scraper at a time is the norm; the second keeps a slow client from blocking it.
    ep->exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
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
