#include "proxy/process/explain_command.hpp"

#include <charconv>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.hpp"
#include "router/chain_builder.hpp"
#include "router/explain.hpp"

namespace pgroute {
namespace {

constexpr const char* kUsage =
    "usage: pgroute explain --config FILE \"SQL\" [--param N=VALUE ...] [--user NAME] [--database NAME]\n"
    "                       [--application-name NAME] [--in-transaction] [--shard-key VALUE]\n"
    "  --param N=VALUE   bind $N to VALUE (text); unlisted $n below the highest given are NULL\n"
    "exit status: 0 routed, 1 refused, 2 bad usage or configuration\n";

// "3=42" -> (3, "42"); false unless N is a whole number from 1 to 65535 (a Bind's limit).
bool parse_param(const std::string& text, std::pair<int, std::string>& out) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + eq, n);
  if (ec != std::errc() || end != text.data() + eq || n < 1 || n > 65535) return false;
  out = {n, text.substr(eq + 1)};
  return true;
}

}  // namespace

int explain_command(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::string config_path;
  std::optional<std::string> sql;
  std::vector<std::pair<int, std::string>> params;
  router::ExplainSession session;
  auto bad_usage = [&](const std::string& why) {
    err << "pgroute explain: " << why << "\n" << kUsage;
    return 2;
  };
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--config" || a == "-c") {
      if (!value(config_path)) return bad_usage(a + " needs a file");
    } else if (a == "--param" || a == "-p") {
      std::pair<int, std::string> param;
      if (!value(v) || !parse_param(v, param)) return bad_usage(a + " needs N=VALUE with N from 1 to 65535");
      params.push_back(std::move(param));
    } else if (a == "--user") {
      if (!value(session.user)) return bad_usage("--user needs a name");
    } else if (a == "--database") {
      if (!value(session.database)) return bad_usage("--database needs a name");
    } else if (a == "--application-name") {
      if (!value(session.application_name)) return bad_usage("--application-name needs a name");
    } else if (a == "--shard-key") {
      if (!value(v)) return bad_usage("--shard-key needs a value");
      session.shard_key = v;
    } else if (a == "--in-transaction") {
      session.in_transaction = true;
    } else if (a == "--help" || a == "-h") {
      out << kUsage;
      return 0;
    } else if (a.starts_with("--") || sql) {
      return bad_usage("unexpected argument \"" + a + "\"");
    } else {
      sql = a;
    }
  }
  if (config_path.empty()) return bad_usage("--config FILE is required");
  if (!sql) return bad_usage("the SQL statement is required");

  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    for (const auto& p : loaded.problems) err << p.to_string() << "\n";
    err << config_path << ": " << loaded.problems.size() << " problem(s) found\n";
    return 2;
  }
  std::string error;
  auto chain = router::build_router_chain(*loaded.config, error);
  if (!chain) {
    err << error << "\n";
    return 2;
  }
  router::Explanation explanation = router::explain(*loaded.config, *chain, *sql, params, session);
  out << explanation.text;
  return explanation.routed ? 0 : 1;
}

}  // namespace pgroute
