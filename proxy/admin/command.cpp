#include "proxy/admin/command.hpp"

#include <cctype>
#include <vector>

namespace pgroute::admin {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Words separated by blanks; a '...' literal ('' inside for a quote) is one word, kept with its quotes.
bool split(std::string_view text, std::vector<std::string>& words, std::string& error) {
  size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    if (text[i] == '\'') {
      std::string lit = "'";
      ++i;
      for (;;) {
        if (i >= text.size()) {
          error = "unterminated quoted string";
          return false;
        }
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            lit.push_back('\'');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        lit.push_back(text[i++]);
      }
      words.push_back(std::move(lit));
      continue;
    }
    size_t start = i;
    while (i < text.size() && !is_space(text[i]) && text[i] != '\'') ++i;
    words.emplace_back(text.substr(start, i - start));
  }
  return true;
}

}  // namespace

std::optional<Command> parse_command(std::string_view text, std::string& error) {
  while (!text.empty() && (is_space(text.back()) || text.back() == ';')) text.remove_suffix(1);
  std::vector<std::string> words;
  if (!split(text, words, error)) return std::nullopt;
  if (words.empty()) {
    error = "empty command";
    return std::nullopt;
  }
  std::string verb = upper(words[0]);
  auto unknown = [&] {
    error = "unknown admin command \"" + std::string(text.substr(0, 80)) + "\"";
    return std::nullopt;
  };
  if (verb == "SHOW" && words.size() == 2) {
    std::string what = upper(words[1]);
    for (std::string_view known :
         {"POOLS", "CLIENTS", "SERVERS", "BACKENDS", "ROUTES", "REPLICAS", "CONFIG", "STATS", "STATEMENTS"})
      if (what == known) return Command{Verb::Show, what};
    return unknown();
  }
  if (verb == "EXPLAIN" && words.size() == 3 && upper(words[1]) == "ROUTE" && words[2].starts_with('\''))
    return Command{Verb::ExplainRoute, words[2].substr(1)};
  if (words.size() == 1 && verb == "RELOAD") return Command{Verb::Reload, {}};
  if (words.size() == 1 && verb == "SHUTDOWN") return Command{Verb::Shutdown, {}};
  if ((verb == "PAUSE" || verb == "RESUME") && words.size() <= 2 && (words.size() == 1 || !words[1].starts_with('\'')))
    return Command{verb == "PAUSE" ? Verb::Pause : Verb::Resume, words.size() == 2 ? words[1] : std::string()};
  return unknown();
}

}  // namespace pgroute::admin
