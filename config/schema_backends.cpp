// backends: alias -> {url, pool_size, lifecycle keys}, and references to aliases from other sections.
#include <cctype>
#include <filesystem>
#include <limits>

#include "config/backend_url.hpp"
#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

// Aliases appear in routing rules, metrics labels and log lines: keep them identifier-shaped.
bool is_valid_alias(std::string_view alias) {
  if (alias.empty()) return false;
  auto first = static_cast<unsigned char>(alias[0]);
  if (std::isalpha(first) == 0 && first != '_') return false;
  for (char c : alias)
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
  return true;
}

void read_url(SchemaReader& r, const Entry& e, Backend& backend) {
  auto url = r.text(e.value, e.path);
  if (!url) return;
  UrlParse parsed = parse_backend_url(*url);
  if (!parsed.address) {
    r.report(e.value.Mark(), e.path, parsed.error);
    return;
  }
  BackendAddress& a = *parsed.address;
  backend.url = std::move(*url);
  backend.host = std::move(a.host);
  backend.port = a.port;
  backend.user = std::move(a.user);
  backend.password = std::move(a.password);
  // postgresql://user:${PW}@host: the secret comes from the environment, not the file.
  const std::string& raw = e.value.Scalar();
  const size_t scheme = raw.find("://");
  const size_t userinfo_end = scheme == std::string::npos ? std::string::npos : raw.find('@', scheme);
  backend.password_in_file =
      !backend.password.empty() &&
      (userinfo_end == std::string::npos || !written_with_env(raw.substr(scheme + 3, userinfo_end - scheme - 3)));
  backend.dbname = std::move(a.dbname);
  backend.sslmode = a.sslmode;
  // Relative to the configuration file, not to wherever pgroute (or --check) was started from.
  const std::filesystem::path dir = std::filesystem::path(r.source()).parent_path();
  auto resolve = [&](std::string& file) {
    if (!file.empty() && file != "system" && std::filesystem::path(file).is_relative()) file = (dir / file).string();
  };
  backend.sslrootcert = std::move(a.sslrootcert);
  backend.sslcert = std::move(a.sslcert);
  backend.sslkey = std::move(a.sslkey);
  for (std::string* file : {&backend.sslrootcert, &backend.sslcert, &backend.sslkey}) resolve(*file);
  backend.url_at = r.place(e);
}

// Lifecycle keys of a backend override pool.lifecycle, which may be written further down the file:
// they are applied after the walk, onto a copy of the global values.
void read_backend(SchemaReader& r, const Entry& entry, Backend& backend, Config& config, size_t index) {
  std::vector<Entry> overrides;
  std::vector<Field> fields = {
      {"url", [&](const Entry& e) { read_url(r, e, backend); }, true},
      {"pool_size",
       [&](const Entry& e) {
         assign(backend.pool_size, r.integer(e.value, e.path, 0, std::numeric_limits<int>::max()));
       }},
  };
  Lifecycle scratch;  // only the keys matter here; values are read in the deferred step
  for (Field& f : lifecycle_fields(r, scratch))
    fields.push_back({f.key, [&overrides](const Entry& e) { overrides.push_back(e); }});
  r.read_fields(entry.value, entry.path, fields);
  r.defer([&r, &config, index, overrides = std::move(overrides)] {
    Backend& b = config.backends[index];
    b.lifecycle = config.pool.lifecycle;
    auto lifecycle = lifecycle_fields(r, b.lifecycle);
    for (const Entry& e : overrides) {
      for (const Field& f : lifecycle)
        if (f.key == e.key) f.read(e);
      if (e.key == "min_size") check_min_size(r, e, b.lifecycle.min_size, config.pool_size_for(b));
    }
    // Inherited from pool: a backend with a smaller pool keeps at most its size warm.
    b.lifecycle.min_size = std::min(b.lifecycle.min_size, config.pool_size_for(b));
  });
}

}  // namespace

void read_backends(SchemaReader& r, const Entry& section, Config& config) {
  if (!r.expect_map(section.value, section.path)) return;
  if (section.value.size() == 0) {
    r.report(section.value.Mark(), section.path, "at least one backend is required");
    return;
  }
  r.for_each_entry(section.value, section.path, [&](const Entry& e) {
    if (!is_valid_alias(e.key))
      r.report(e.key_node.Mark(), section.path,
               "invalid alias name \"" + e.key + "\" (letters, digits and _, not starting with a digit)");
    // Kept even when broken, so that references to it do not add "unknown alias" noise.
    Backend backend;
    backend.alias = e.key;
    if (r.has_value(e)) read_backend(r, e, backend, config, config.backends.size());
    config.backends.push_back(std::move(backend));
  });
}

std::string known_aliases(const Config& config) {
  std::string out;
  for (const Backend& b : config.backends) out += (out.empty() ? "" : ", ") + b.alias;
  return out;
}

void require_alias(SchemaReader& r, const Config& config, std::string alias, const YAML::Mark& mark,
                   const KeyPath& path) {
  r.defer([&r, &config, alias = std::move(alias), mark, path] {
    if (config.backends.empty() || config.backend(alias) != nullptr) return;
    r.report(mark, path, "unknown alias \"" + alias + "\" (known: " + known_aliases(config) + ")");
  });
}

}  // namespace pgroute::config
