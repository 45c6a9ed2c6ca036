#include "config/backend_url.hpp"

#include <array>
#include <cctype>

namespace pgroute::config {
namespace {

constexpr std::array<std::string_view, 2> kSchemes = {"postgresql://", "postgres://"};
constexpr std::array<std::pair<std::string_view, SslMode>, 5> kSslModes = {{{"disable", SslMode::disable},
                                                                            {"prefer", SslMode::prefer},
                                                                            {"require", SslMode::require},
                                                                            {"verify-ca", SslMode::verify_ca},
                                                                            {"verify-full", SslMode::verify_full}}};

struct UrlParts {
  std::string_view userinfo;  // without the '@'
  bool has_userinfo = false;
  std::string_view hostport, path, query;  // path without '/', query without '?'
  bool has_query = false;
};

// Everything before the LAST '@' is user[:password]. Taking the last one (rather than stopping at
// the first '/' like a strict URI parser) lets a password from ${ENV} contain '/', '?' or '#', which
// generated passwords often do; user and dbname must percent-encode '@' instead.
UrlParts split(std::string_view rest) {
  UrlParts parts;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    parts.userinfo = rest.substr(0, at);
    parts.has_userinfo = true;
    rest.remove_prefix(at + 1);
  }
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    parts.query = rest.substr(q + 1);
    parts.has_query = true;
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  parts.hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) parts.path = rest.substr(slash + 1);
  return parts;
}

std::optional<std::string_view> strip_scheme(std::string_view url) {
  for (std::string_view scheme : kSchemes)
    if (url.starts_with(scheme)) return url.substr(scheme.size());
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_hostname_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

bool is_ipv6_char(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.'; }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// host[:port] or [v6]:port into address; returns an error message or "".
std::string parse_hostport(std::string_view hostport, BackendAddress& address) {
  std::string_view port_text;
  bool has_port = false;
  if (hostport.starts_with('[')) {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 address (missing \"]\")";
    std::string_view v6 = hostport.substr(1, close - 1);
    if (v6.find(':') == std::string_view::npos) return "invalid IPv6 address " + quoted(v6);
    for (char c : v6)
      if (!is_ipv6_char(c)) return "invalid IPv6 address " + quoted(v6);
    address.host = std::string(v6);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "unexpected " + quoted(after) + " after the IPv6 address";
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = hostport.find(':');
    std::string_view host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return "missing host";
    for (char c : host)
      if (!is_hostname_char(c)) return "invalid host " + quoted(host);
    address.host = std::string(host);
  }
  if (!has_port) return "";
  unsigned long port = 0;
  bool digits_only = !port_text.empty() && port_text.size() <= 5;
  for (char c : port_text) {
    digits_only = digits_only && c >= '0' && c <= '9';
    if (digits_only) port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (!digits_only || port < 1 || port > 65535) return "invalid port " + quoted(port_text) + " (must be 1..65535)";
  address.port = static_cast<uint16_t>(port);
  return "";
}

std::string parse_query(std::string_view query, BackendAddress& address) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return "malformed URL parameter " + quoted(param) + " (expected name=value)";
    std::string_view name = param.substr(0, eq);
    auto value = percent_decode(param.substr(eq + 1));
    if (!value) return "invalid percent-encoding in the value of " + quoted(name);
    if (name == "sslmode") {
      bool known = false;
      for (auto [text, mode] : kSslModes)
        if (*value == text) {
          address.sslmode = mode;
          known = true;
        }
      if (!known)
        return "sslmode must be disable, prefer, require, verify-ca or verify-full, got " + quoted(*value) +
               (*value == "allow" ? " (allow is not supported: use prefer)" : "");
    } else if (name == "sslrootcert" || name == "sslcert" || name == "sslkey") {
      if (value->empty()) return quoted(name) + " needs a file name";
      (name == "sslrootcert" ? address.sslrootcert
       : name == "sslcert"   ? address.sslcert
                             : address.sslkey) = std::move(*value);
    } else {
      return "unknown URL parameter " + quoted(name) + " (supported: sslmode, sslrootcert, sslcert, sslkey)";
    }
  }
  // What libpq would only find out at connect time, said where the URL is written.
  if ((address.sslmode == SslMode::verify_ca || address.sslmode == SslMode::verify_full) && address.sslrootcert.empty())
    return "sslmode=" + std::string(ssl_mode_name(address.sslmode)) +
           " needs sslrootcert=FILE (the CA certificates to check the server against) or sslrootcert=system";
  // libpq's rule: the public CAs vouch for a name, so trusting them without checking it proves nothing.
  if (address.sslrootcert == "system" && address.sslmode != SslMode::verify_full)
    return "sslrootcert=system needs sslmode=verify-full (any public CA would do without the host name check)";
  if (address.sslcert.empty() != address.sslkey.empty())
    return "sslcert and sslkey go together (the client certificate and its private key)";
  if (address.sslmode == SslMode::disable && (!address.sslrootcert.empty() || !address.sslcert.empty()))
    return "sslrootcert, sslcert and sslkey need TLS: set sslmode (require, verify-ca or verify-full)";
  return "";
}

std::string parse_userinfo(std::string_view userinfo, BackendAddress& address) {
  size_t colon = userinfo.find(':');
  auto user = percent_decode(userinfo.substr(0, colon));
  if (!user) return "invalid percent-encoding in the user name";
  address.user = std::move(*user);
  if (colon == std::string_view::npos) return "";
  // Never quote the password in a message: only say what is wrong with it.
  auto password = percent_decode(userinfo.substr(colon + 1));
  if (!password) return "invalid percent-encoding in the password";
  if (address.user.empty() && !password->empty())
    return "a password needs a user name (an empty user means: the client's own user and password)";
  address.password = std::move(*password);
  return "";
}

}  // namespace

std::string_view ssl_mode_name(SslMode mode) {
  for (auto [text, m] : kSslModes)
    if (m == mode) return text;
  return "?";
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // a '%' needs two more characters
    int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

UrlParse parse_backend_url(std::string_view url) {
  auto rest = strip_scheme(url);
  if (!rest) return {std::nullopt, "must start with postgresql:// or postgres://"};
  UrlParts parts = split(*rest);
  BackendAddress address;
  std::string error;
  if (parts.has_userinfo) error = parse_userinfo(parts.userinfo, address);
  if (error.empty()) error = parse_hostport(parts.hostport, address);
  if (error.empty()) {
    if (auto dbname = percent_decode(parts.path))
      address.dbname = std::move(*dbname);
    else
      error = "invalid percent-encoding in the database name";
  }
  if (error.empty() && parts.has_query) error = parse_query(parts.query, address);
  if (!error.empty()) return {std::nullopt, std::move(error)};
  return {std::move(address), ""};
}

std::string mask_url_password(std::string_view url) {
  // Same split as the parser, so that whatever it takes as the password is what gets hidden.
  size_t start = 0;
  if (size_t scheme_end = url.find("://"); scheme_end != std::string_view::npos) start = scheme_end + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

}  // namespace pgroute::config
