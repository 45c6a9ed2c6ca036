#include "proxy/session/client_identity.hpp"

#include <atomic>

namespace pgroute {

std::unique_ptr<ClientIdentity> ClientIdentity::with_param(std::string_view name, std::string_view value) const {
  for (const auto& [n, v] : params)
    if (n == name && v == value) return nullptr;
  auto changed = std::make_unique<ClientIdentity>(*this);
  for (auto& [n, v] : changed->params)
    if (n == name) {
      v.assign(value);
      return changed;
    }
  changed->params.emplace_back(name, value);
  return changed;
}

std::unique_ptr<ClientIdentity> ClientIdentity::without_param(std::string_view name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].first == name) {
      auto changed = std::make_unique<ClientIdentity>(*this);
      changed->params.erase(changed->params.begin() + static_cast<std::ptrdiff_t>(i));
      return changed;
    }
  return nullptr;
}

std::unique_ptr<ClientIdentity> ClientIdentity::with_param_reset(std::string_view name) const {
  for (const auto& [n, v] : startup_params)
    if (n == name) return with_param(name, v);
  return without_param(name);
}

std::unique_ptr<ClientIdentity> ClientIdentity::with_all_reset() const {
  if (params == startup_params) return nullptr;
  auto changed = std::make_unique<ClientIdentity>(*this);
  changed->params = startup_params;
  return changed;
}

const std::shared_ptr<const ClientIdentity>& ClientIdentity::unknown() {
  static const auto none = std::make_shared<const ClientIdentity>();
  return none;
}

std::shared_ptr<const ClientIdentity> ClientIdentities::intern(ClientIdentity identity) {
  identity.params.shrink_to_fit();  // grown one by one at login
  // A serial per identity made (one found equal below is not kept, its serial never used).
  static std::atomic<uint64_t> last_serial{0};
  identity.serial = last_serial.fetch_add(1, std::memory_order_relaxed) + 1;
  return kept_.find_or_keep(std::make_shared<const ClientIdentity>(std::move(identity)),
                            [](const ClientIdentity& a, const ClientIdentity& b) { return a.same_as(b); });
}

}  // namespace pgroute
