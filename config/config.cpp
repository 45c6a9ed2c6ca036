#include "config/config.hpp"

#include <algorithm>

#include "config/backend_url.hpp"

namespace pgroute::config {

std::string Backend::masked_url() const { return mask_url_password(url); }

std::string Backend::login_user(std::string_view client_user) const {
  return user.empty() ? std::string(client_user) : user;
}

std::string Backend::login_dbname(std::string_view client_user) const {
  return dbname.empty() ? login_user(client_user) : dbname;
}

const Backend* Config::backend(std::string_view alias) const {
  for (const Backend& b : backends)
    if (b.alias == alias) return &b;
  return nullptr;
}

const User* Config::user(std::string_view name) const {
  for (const User& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

bool Config::is_admin(std::string_view name) const {
  for (const std::string& u : admin.users)
    if (u == name) return true;
  return false;
}

int Config::startup_limit() const {
  return max_startup_connections > 0 ? max_startup_connections : std::max(64, max_client_connections / 4);
}

int Config::admin_reserve() const {
  // The default may not fit a small limit: at least one slot stays for everyone else.
  return admin.users.empty() ? 0 : std::min(reserved_admin_connections, max_client_connections - 1);
}

std::optional<std::string> Config::alias_for_database(std::string_view database) const {
  if (!databases_listed) return default_alias;
  if (auto it = databases.find(std::string(database)); it != databases.end()) return it->second;
  if (backend(database) != nullptr) return std::string(database);
  return std::nullopt;
}

std::string_view to_string(PoolMode mode) {
  switch (mode) {
    case PoolMode::Session: return "session";
    case PoolMode::Transaction: return "transaction";
  }
  return "?";
}

std::string_view to_string(AuthMethod method) {
  switch (method) {
    case AuthMethod::Trust: return "trust";
    case AuthMethod::Cleartext: return "cleartext";
    case AuthMethod::Md5: return "md5";
    case AuthMethod::ScramSha256: return "scram-sha-256";
    case AuthMethod::Cert: return "cert";
  }
  return "?";
}

}  // namespace pgroute::config
