// Who a client is, as its startup packet and login said: user, database, the alias that database
// names, application_name, and the session parameters it asked for (startup packet, options -c, and
// its own later SETs of parameters the server reports). Every server connection that serves the
// client is brought to those parameters.
//
// Clients of one application log in alike, so sessions share one immutable copy (interned per worker)
// and make their own only when one of their parameters changes: an idle client costs a pointer here.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/session/recently_offered.hpp"

namespace pgroute {

struct ClientIdentity {
  std::string user, database, alias, application_name;
  std::vector<std::pair<std::string, std::string>> params;
  // Those of `params` the startup packet asked for: what RESET and RESET ALL go back to.
  std::vector<std::pair<std::string, std::string>> startup_params;
  // Unique to this interned identity for the life of the process (0: not interned): what a server
  // connection remembers as the identity whose parameters it has (AppliedParameters).
  uint64_t serial = 0;

  bool same_as(const ClientIdentity& o) const {
    return user == o.user && database == o.database && alias == o.alias && application_name == o.application_name &&
           params == o.params && startup_params == o.startup_params;
  }
  // Null when `name` already has `value`; else a copy with it set (added when it was not there).
  std::unique_ptr<ClientIdentity> with_param(std::string_view name, std::string_view value) const;
  // Null when `name` is not among the parameters; else a copy without it.
  std::unique_ptr<ClientIdentity> without_param(std::string_view name) const;
  // RESET name: back to the startup packet's value, or to none. Null when that changes nothing.
  std::unique_ptr<ClientIdentity> with_param_reset(std::string_view name) const;
  // RESET ALL, DISCARD ALL: the startup packet's parameters only. Null when that changes nothing.
  std::unique_ptr<ClientIdentity> with_all_reset() const;
  // The one every session holds before its startup packet is read.
  static const std::shared_ptr<const ClientIdentity>& unknown();
};

// A worker's identities open for sharing: the few most recently offered (recently_offered.hpp).
class ClientIdentities {
 public:
  // An equal identity a session of this worker holds, else `identity`, offered for sharing.
  std::shared_ptr<const ClientIdentity> intern(ClientIdentity identity);

 private:
  RecentlyOffered<const ClientIdentity> kept_;
};

}  // namespace pgroute
