// users: who may connect to the proxy, and whether their password form fits their auth method.
#include <algorithm>
#include <cctype>
#include <map>

#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

constexpr std::array<Choice<AuthMethod>, 5> kAuthMethods = {{{"scram-sha-256", AuthMethod::ScramSha256},
                                                             {"md5", AuthMethod::Md5},
                                                             {"cleartext", AuthMethod::Cleartext},
                                                             {"trust", AuthMethod::Trust},
                                                             {"cert", AuthMethod::Cert}}};

// Methods that take no password from the client.
bool passwordless(AuthMethod auth) { return auth == AuthMethod::Trust || auth == AuthMethod::Cert; }

// What was read for one user beyond the User itself: enough to judge the password afterwards.
struct UserEntry {
  User user;
  bool password_given = false, password_read = false, auth_read = true;
  YAML::Mark password_mark;
  KeyPath password_path;
};

// Messages here describe the password, never quote it.
void check_password(SchemaReader& r, const YAML::Node& item, const KeyPath& path, UserEntry& u) {
  AuthMethod auth = u.user.auth;
  if (!u.password_given) {
    // "password:" with no value was already reported as a missing value, and with an invalid
    // auth: there is no telling whether a password is needed.
    bool key_written = item["password"].IsDefined();
    if (!passwordless(auth) && !key_written && u.auth_read)
      r.report(item.Mark(), path, "missing required key \"password\" (only auth: trust and cert need none)");
    return;
  }
  if (!u.password_read) return;  // its own problem is already reported
  std::string& password = u.user.password;
  auto problem = [&](std::string_view message) { r.report(u.password_mark, u.password_path, message); };
  switch (classify_password(password)) {
    case PasswordKind::Plaintext:
      if (password.empty() && !passwordless(auth)) problem("must not be empty (use auth: trust for no password)");
      return;
    case PasswordKind::ScramVerifier:
      if (!is_well_formed_scram_verifier(password))
        problem(
            "malformed SCRAM-SHA-256 verifier (expected "
            "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)");
      else if (u.auth_read && auth == AuthMethod::Md5)
        problem("auth md5 needs a plaintext password or an md5 hash, not a SCRAM-SHA-256 verifier");
      return;
    case PasswordKind::Md5Hash:
      // Hex digits compare as text later on; keep one spelling.
      std::transform(password.begin(), password.end(), password.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (u.auth_read && auth == AuthMethod::ScramSha256)
        problem(
            "auth scram-sha-256 needs a plaintext password or a SCRAM-SHA-256 verifier, "
            "not an md5 hash");
      return;
  }
}

}  // namespace

void read_users(SchemaReader& r, const Entry& section, Config& config) {
  std::vector<User>& users = config.users;
  std::map<std::string, YAML::Mark> first_by_name;
  r.for_each_item(section.value, section.path, [&](const YAML::Node& item, const KeyPath& path) {
    UserEntry u;
    const Field fields[] = {
        {"name",
         [&](const Entry& e) {
           auto name = r.non_empty_text(e.value, e.path);
           if (!name) return;
           u.user.name = *name;
           auto [first, inserted] = first_by_name.emplace(*name, e.value.Mark());
           if (!inserted)
             r.report(e.value.Mark(), e.path,
                      "duplicate user \"" + *name + "\" (first at " + position_of(first->second) + ")");
         },
         true},
        {"password",
         [&](const Entry& e) {
           u.password_given = true;
           u.password_mark = e.value.Mark();
           u.password_path = e.path;
           auto password = r.text(e.value, e.path);
           u.password_read = password.has_value();
           u.user.password_in_file = password && classify_password(*password) == PasswordKind::Plaintext &&
                                     !password->empty() && !written_with_env(e.value.Scalar());
           assign(u.user.password, password);
         }},
        {"auth",
         [&](const Entry& e) {
           auto auth = r.choice(e.value, e.path, kAuthMethods);
           u.auth_read = auth.has_value();
           assign(u.user.auth, auth);
           if (auth == AuthMethod::Cert)
             r.defer([&r, &config, mark = e.value.Mark(), path = e.path] {
               if (!config.tls || config.tls->ca.empty() || config.tls->mode == Tls::Mode::disable)
                 r.report(mark, path, "auth cert needs tls.ca (the CA that signs client certificates), with TLS on");
             });
         }},
    };
    r.read_fields(item, path, fields);
    if (!item.IsMap()) return;
    check_password(r, item, path, u);
    users.push_back(std::move(u.user));
  });
}

}  // namespace pgroute::config
