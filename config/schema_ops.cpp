// metrics:, admin: and reload: — what an operator turns on: the Prometheus endpoint, the admin console
// and reloading when the file changes.
#include <arpa/inet.h>

#include <charconv>
#include <filesystem>

#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

// "127.0.0.1:9930" or "[::1]:9930". An IP literal, not a name: the endpoint must not depend on DNS.
std::optional<Metrics> parse_listen(std::string_view text, std::string& error) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected \"[IPv6]:port\", got \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      error = "expected \"host:port\" (IPv6 as \"[::1]:9930\"), got \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char addr[16];
  std::string host_s(host);
  if (inet_pton(AF_INET, host_s.c_str(), addr) != 1 && inet_pton(AF_INET6, host_s.c_str(), addr) != 1) {
    error = "\"" + host_s + "\" is not an IP address (use 127.0.0.1 for loopback only)";
    return std::nullopt;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    error = "invalid port \"" + std::string(port) + "\" (must be 1..65535)";
    return std::nullopt;
  }
  return Metrics{host_s, static_cast<uint16_t>(value)};
}

}  // namespace

void read_metrics(SchemaReader& r, const Entry& section, Config& config) {
  Metrics metrics;
  bool ok = true;
  const Field fields[] = {
      {"listen",
       [&](const Entry& e) {
         auto text = r.non_empty_text(e.value, e.path);
         if (!text) {
           ok = false;
           return;
         }
         std::string error;
         auto parsed = parse_listen(*text, error);
         if (!parsed) {
           r.report(e.value.Mark(), e.path, error);
           ok = false;
           return;
         }
         metrics = *parsed;
       }},
  };
  r.read_fields(section.value, section.path, fields);
  if (ok && section.value.IsMap()) config.metrics = metrics;
}

namespace {
constexpr std::array<Choice<Tls::Mode>, 3> kTlsModes = {
    {{"disable", Tls::Mode::disable}, {"allow", Tls::Mode::allow}, {"require", Tls::Mode::require}}};
constexpr std::array<Choice<Tls::Version>, 2> kTlsVersions = {
    {{"TLSv1.2", Tls::Version::tls1_2}, {"TLSv1.3", Tls::Version::tls1_3}}};
}  // namespace

void read_tls(SchemaReader& r, const Entry& section, Config& config) {
  Tls tls;
  bool ok = true, cert_given = false, key_given = false;
  auto file = [&](const Entry& e, std::string& path, std::string& at, bool& given) {
    given = true;
    auto text = r.non_empty_text(e.value, e.path);
    if (!text) {
      ok = false;
      return;
    }
    // Relative to the configuration file, not to wherever pgroute (or --check) was started from.
    const std::filesystem::path named(*text);
    path = named.is_absolute() ? named.string() : (std::filesystem::path(r.source()).parent_path() / named).string();
    at = r.place(e);
  };
  const Field fields[] = {
      {"cert", [&](const Entry& e) { file(e, tls.cert, tls.cert_at, cert_given); }},
      {"key", [&](const Entry& e) { file(e, tls.key, tls.key_at, key_given); }},
      {"ca",
       [&](const Entry& e) {
         bool given = false;
         file(e, tls.ca, tls.ca_at, given);
       }},
      {"mode",
       [&](const Entry& e) {
         auto mode = r.choice(e.value, e.path, kTlsModes);
         ok &= mode.has_value();
         assign(tls.mode, mode);
       }},
      {"min_version",
       [&](const Entry& e) {
         auto version = r.choice(e.value, e.path, kTlsVersions);
         ok &= version.has_value();
         assign(tls.min_version, version);
       }},
      {"ciphers",
       [&](const Entry& e) {
         auto text = r.non_empty_text(e.value, e.path);
         if (!text) {
           ok = false;
           return;
         }
         tls.ciphers = *text;
         tls.ciphers_at = r.place(e);
       }},
  };
  r.read_fields(section.value, section.path, fields);
  if (!section.value.IsMap()) return;
  if (tls.mode != Tls::Mode::disable) {
    if (!cert_given) r.report(section.key_node.Mark(), section.path, "cert: is required unless mode is disable");
    if (!key_given) r.report(section.key_node.Mark(), section.path, "key: is required unless mode is disable");
    if (!cert_given || !key_given) return;
  }
  if (ok) config.tls = std::move(tls);
}

void read_admin(SchemaReader& r, const Entry& section, Config& config) {
  const Field fields[] = {
      {"users",
       [&](const Entry& e) {
         r.for_each_item(e.value, e.path, [&](const YAML::Node& item, const KeyPath& path) {
           auto name = r.non_empty_text(item, path);
           if (!name) return;
           config.admin.users.push_back(*name);
           // users: may come after admin: in the file.
           r.defer([&r, &config, name = *name, mark = item.Mark(), path] {
             if (config.user(name) != nullptr) return;
             std::string known;
             for (const User& u : config.users) known += (known.empty() ? "" : ", ") + u.name;
             r.report(mark, path,
                      "unknown user \"" + name + "\" (admin users must be listed in users:" +
                          (known.empty() ? std::string(")") : "; known: " + known + ")"));
           });
         });
       }},
  };
  r.read_fields(section.value, section.path, fields);
}

void read_reload(SchemaReader& r, const Entry& section, Config& config) {
  const Field fields[] = {
      {"watch", [&](const Entry& e) { assign(config.reload.watch, r.boolean(e.value, e.path)); }},
  };
  r.read_fields(section.value, section.path, fields);
}

}  // namespace pgroute::config
