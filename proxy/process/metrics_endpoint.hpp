// The Prometheus HTTP endpoint (/metrics). It runs on prometheus-cpp's own threads, so it keeps answering
// while the workers drain after SIGTERM; it stops when the ProxyServer is destroyed.
#pragma once
#include <memory>
#include <string>

#include "config/config.hpp"
#include "proxy/pool/runtime.hpp"

namespace prometheus {
class Exposer;
}

namespace pgroute::metrics {

class ProxyCollector;

class Endpoint {
 public:
  // nullptr with `error` when the address cannot be bound.
  static std::unique_ptr<Endpoint> start(Runtime& rt, const config::Metrics& where, std::string& error);
  ~Endpoint();
  int port() const { return port_; }

 private:
  Endpoint() = default;
  std::shared_ptr<ProxyCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace pgroute::metrics
