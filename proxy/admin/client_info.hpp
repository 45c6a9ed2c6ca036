// One client as SHOW CLIENTS lists it; read on the session's own worker thread.
#pragma once
#include <cstdint>
#include <string>

namespace pgroute::admin {

struct ClientInfo {
  uint64_t id = 0;
  int worker = 0;
  std::string user, database, alias, application_name, address;
  std::string state;  // the session's state (session_state_name), or "admin" for an admin console
  std::string tls;    // "TLSv1.3 TLS_AES_256_GCM_SHA384"; "" for a plaintext connection
};

}  // namespace pgroute::admin
