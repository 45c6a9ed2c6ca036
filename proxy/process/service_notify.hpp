// systemd Type=notify: tells the service manager when the proxy is ready, reloading and stopping.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
#pragma once
#include <string_view>

namespace pgroute::service {

void notify_ready(std::string_view status);
void notify_reloading();  // RELOADING=1 with MONOTONIC_USEC, as systemd 253+ expects
void notify_stopping();
void notify_status(std::string_view status);

}  // namespace pgroute::service
