// A tiny HTTP/1.0 GET over loopback for the metrics tests (no curl dependency, bounded by a timeout).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pgroute::it {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// nullopt if nothing answers on 127.0.0.1:port within `timeout` or the answer is not HTTP.
std::optional<HttpResponse> http_get(int port, const std::string& path,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The value of the first sample line of `metrics` (Prometheus text format) whose name and labels
// are exactly `series` (e.g. `pgroute_clients{state="idle"}`); nullopt if absent.
std::optional<double> sample_value(const std::string& metrics, const std::string& series);

}  // namespace pgroute::it
