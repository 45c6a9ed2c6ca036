#include "config/env_expand.hpp"

#include <cctype>
#include <cstdlib>

namespace pgroute::config {
namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

bool is_valid_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0])) return false;
  for (char c : name)
    if (!is_name_char(c)) return false;
  return true;
}

}  // namespace

std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Expansion expand_env(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      return {std::nullopt, "unterminated \"${\" (write \"$$\" for a literal \"$\")"};
    std::string_view inside = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    std::string_view name = inside;
    if (size_t sep = inside.find(":-"); sep != std::string_view::npos) {
      name = inside.substr(0, sep);
      fallback = inside.substr(sep + 2);
    }
    // The text between the braces is not echoed: in a password it may be part of the secret.
    if (!is_valid_name(name))
      return {std::nullopt,
              "invalid environment variable name in \"${...}\" (letters, digits and _; "
              "write \"$$\" for a literal \"$\")"};
    std::optional<std::string> value = env ? env(name) : std::nullopt;
    if (fallback && (!value || value->empty())) {
      out += *fallback;
    } else if (value) {
      out += *value;
    } else {
      return {std::nullopt, "environment variable " + std::string(name) + " is not set"};
    }
    i = close + 1;
  }
  return {std::move(out), ""};
}

bool written_with_env(std::string_view text) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (text[i + 1] == '{') return true;
    if (text[i + 1] == '$') ++i;  // "$$" is a literal '$'
  }
  return false;
}

}  // namespace pgroute::config
