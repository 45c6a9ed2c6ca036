// What the admin console may ask of the running server, beyond the shared Runtime. It names the workers
// (SHOW CLIENTS visits each), so it sits with the sessions, above proxy/admin/'s parser and tables.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "proxy/io/asio.hpp"

namespace pgroute {
struct Worker;
}

namespace pgroute::admin {

inline constexpr std::string_view kDatabase = "pgroute";  // the virtual database of the admin console

struct Control {
  asio::io_context& ctx;                // the control thread: signals and reloads run there
  std::function<std::string()> reload;  // call on ctx; "" = applied, else why it was rejected
  std::vector<Worker*> workers;         // SHOW CLIENTS visits each on its own thread
};

}  // namespace pgroute::admin
