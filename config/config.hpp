// The configuration snapshot: what pgroute.yaml says, validated and immutable once loaded.
// Produced by load_file()/load_text() (loader.hpp); shared as std::shared_ptr<const Config>.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/backend_url.hpp"
#include "config/password.hpp"
#include "config/router_spec.hpp"

namespace pgroute::config {

using Duration = std::chrono::milliseconds;

enum class PoolMode { Session, Transaction };

struct Listen {
  std::string host = "127.0.0.1";
  uint16_t port = 6432;
};

// How pooled server connections are kept, aged and checked. Set globally under `pool:` and
// overridable per backend with the same key names. nullopt = "off".
struct Lifecycle {
  int min_size = 0;                                          // kept open (and logged in) while the alias is up
  std::optional<Duration> max_lifetime = Duration(3600000);  // ±10% jitter per connection
  std::optional<Duration> idle_timeout = Duration(600000);
  std::optional<Duration> check_after = Duration(5000);     // idle longer → round trip before use; 0 = always
  std::optional<Duration> recycle_margin = Duration(2000);  // close this long before the server's own timeout
  Duration health_check_interval{5000};
  Duration connect_retry_initial{250}, connect_retry_max{10000};  // back-off bounds after a failed connect
};

// One PostgreSQL server the proxy can route to, named by its alias (Django DATABASES style).
struct Backend {
  std::string alias, url;  // url as written (after ${} expansion)
  std::string host;        // IPv6 without brackets
  uint16_t port = 5432;
  std::string user, password, dbname;  // user empty → client's user; dbname empty → server user
  SslMode sslmode = SslMode::disable;
  // TLS files from the URL, relative ones resolved against the configuration file's directory;
  // sslrootcert "system": OpenSSL's default CA store.
  std::string sslrootcert, sslcert, sslkey;
  std::string url_at;             // "FILE:LINE:COL: backends.ALIAS.url", for what loading its files finds
  int pool_size = 0;              // 0 → pool.size
  bool password_in_file = false;  // the url's password is written out, not ${ENV}
  Lifecycle lifecycle;            // pool.lifecycle with this backend's own keys applied (loader)

  // url with the password replaced by "***": the only form of the url fit for logs and messages.
  std::string masked_url() const;
  // The role used on the server for a client logged in as client_user (empty user → the client's).
  std::string login_user(std::string_view client_user) const;
  // The server database for that client (empty dbname → the login user's name, like libpq).
  std::string login_dbname(std::string_view client_user) const;
};

enum class AuthMethod { Trust, Cleartext, Md5, ScramSha256, Cert };  // Cert: a TLS client certificate (tls.ca)

struct User {
  std::string name, password;  // password: plaintext, SCRAM verifier or md5 hash
  AuthMethod auth = AuthMethod::ScramSha256;
  bool password_in_file = false;  // a plaintext password written out, not ${ENV}
  PasswordKind password_kind() const { return classify_password(password); }
};

struct Pool {
  PoolMode mode = PoolMode::Transaction;
  int size = 20;
  Duration queue_timeout{5000}, connect_timeout{5000};
  std::string reset_query = "DISCARD ALL";
  int max_prepared_statements = 1000;
  Lifecycle lifecycle;  // defaults for every backend
};

// `metrics: {listen: "127.0.0.1:9930"}`: the Prometheus endpoint; absent = no endpoint.
struct Metrics {
  std::string host = "127.0.0.1";  // IPv6 without brackets
  uint16_t port = 9930;
};

// `tls:`: TLS between clients and pgroute. Absent: an SSLRequest is answered 'N'.
struct Tls {
  enum class Mode { disable, allow, require };  // require: a plaintext startup is refused (28000)
  enum class Version { tls1_2, tls1_3 };
  std::string cert, key;  // PEM files: the certificate chain and its private key
  std::string ca;         // PEM file: CAs whose client certificates are accepted ("" = none asked for)
  Mode mode = Mode::allow;
  Version min_version = Version::tls1_2;
  std::string ciphers;  // OpenSSL cipher list for TLS 1.2 ("" = OpenSSL's default)
  // Where each file is named, "FILE:LINE:COL: tls.cert": what loading it finds wrong is reported there.
  std::string cert_at, key_at, ca_at, ciphers_at;
};

// `admin: {users: [ops]}`: who may use the admin console (virtual database "pgroute").
struct Admin {
  std::vector<std::string> users;  // each a name from `users`
};

// `reload: {watch: true}`: whether a change of the file itself triggers a reload (SIGHUP always does).
struct Reload {
  bool watch = true;
};

struct Config {
  std::string source;         // file path (for messages)
  uint64_t content_hash = 0;  // FNV-1a of the file text as loaded (metrics, SHOW CONFIG)
  Listen listen;
  int threads = 0;                     // 0 = half the CPU cores, at least one
  int max_client_connections = 10000;  // logged-in clients
  // Connections that have not logged in yet are counted apart, so stalled ones cannot take the slots
  // of clients; 0 = automatic: startup_limit().
  int max_startup_connections = 0;
  // Of max_client_connections, kept for admin users (`admin.users`) so one can always log in.
  int reserved_admin_connections = 3;
  Duration authentication_timeout{60000};  // from accept to a completed login
  uint32_t max_message_size = 64u << 20;
  std::string default_alias = "default";
  std::vector<Backend> backends;                 // file order
  bool databases_listed = false;                 // `databases:` present in the file
  std::map<std::string, std::string> databases;  // client database name → alias
  std::vector<User> users;
  Pool pool;
  std::vector<RouterSpec> routers;  // `routers:` in order; empty = everything to default_alias
  int routing_cache_size = 10000;   // statement analyses cached per worker thread
  std::optional<Metrics> metrics;
  std::optional<Tls> tls;
  Admin admin;
  Reload reload;

  bool is_admin(std::string_view user) const;
  const Backend* backend(std::string_view alias) const;  // nullptr if unknown
  const User* user(std::string_view name) const;         // nullptr if unknown
  // Client database name → alias: with `databases:` listed, the name must be listed there or be an
  // alias itself; without it, everything goes to default_alias. nullopt = unknown database.
  std::optional<std::string> alias_for_database(std::string_view database) const;
  int pool_size_for(const Backend& b) const { return b.pool_size > 0 ? b.pool_size : pool.size; }
  // max_startup_connections, or when automatic max(64, max_client_connections / 4).
  int startup_limit() const;
  // Slots of max_client_connections only admin users may take: none without admin users.
  int admin_reserve() const;
};

// Spelling used in the file, for messages and the admin console.
std::string_view to_string(PoolMode mode);
std::string_view to_string(AuthMethod method);

}  // namespace pgroute::config
