#include "proxy/session/client_statements.hpp"

#include <algorithm>
#include <cstdio>

#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

uint64_t statement_id(std::string_view query, std::string_view param_types) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bit
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(query);
  h ^= 0xff;
  mix(param_types);
  return h == 0 ? 1 : h;
}

std::string server_statement_name(uint64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "pgr_%016llx", static_cast<unsigned long long>(id));
  return buf;
}

ClientStatement& ClientStatements::remember(const wire::ParseMsg& parse) {
  uint64_t id = statement_id(parse.query, parse.param_types);
  auto it = by_name_.find(parse.name);
  if (it == by_name_.end()) it = by_name_.emplace(std::string(parse.name), ClientStatement{}).first;
  ClientStatement& st = it->second;
  st.parse_number = ++parses_;
  if (st.id != id) {
    st.id = id;
    st.server_name = server_statement_name(id);
    st.parse.clear();
    wire::put_parse(st.parse, st.server_name, parse.query, parse.num_params, parse.param_types);
    st.words = router::scan_session_words(parse.query);
  }
  return st;
}

void ClientStatements::set_analysis(std::string_view name, std::shared_ptr<const router::Analysis> analysis) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) it = by_name_.emplace(std::string(name), ClientStatement{}).first;
  it->second.analysis = std::move(analysis);
}

ClientStatement* ClientStatements::find(std::string_view name) {
  if (name.empty()) return nullptr;
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

const ClientStatement* ClientStatements::find(std::string_view name) const {
  if (name.empty()) return nullptr;
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

bool ClientStatements::prepared(std::string_view name) const {
  const ClientStatement* st = find(name);
  return st && st->id != 0;
}

void ClientStatements::forget(std::string_view name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) by_name_.erase(it);
}

void ClientStatements::forget_parses(const std::vector<uint64_t>& sorted_parse_numbers) {
  std::erase_if(by_name_, [&](const auto& s) {
    return std::binary_search(sorted_parse_numbers.begin(), sorted_parse_numbers.end(), s.second.parse_number);
  });
}

void ClientStatements::forget_parsed_up_to(uint64_t parse_number) {
  std::erase_if(by_name_, [&](const auto& s) { return s.second.parse_number <= parse_number; });
}

void prepare_on(StatementTarget& to, const ClientStatement& st) {
  if (to.prepared.contains(st.id)) return;
  while (to.max_prepared > 0 && to.prepared.size() >= static_cast<size_t>(to.max_prepared)) {
    uint64_t victim = to.prepared.oldest();
    to.prepared.remove(victim);
    wire::put_close(to.out, wire::frontend::kTargetStatement, server_statement_name(victim));
    to.expect.push({Expect::InjectedClose});
  }
  to.out.append(st.parse);
  to.prepared.add(st.id);
  to.expect.push({Expect::InjectedParse, st.id});
}

StatementTranslation translate_statement_message(const StatementMessage& m, ClientStatements& statements,
                                                 StatementTarget& to) {
  namespace fe = wire::frontend;
  const wire::Frame& f = m.frame;
  switch (f.type) {
    case fe::kParse: {
      if (m.parse->name.empty()) break;
      ClientStatement& st = statements.remember(*m.parse);
      prepare_on(to, st);
      return {Expect::SynthParseComplete, &st};
    }
    case fe::kBind: {
      ClientStatement* st = statements.find(m.bind->statement);
      if (!st || st->id == 0) break;
      prepare_on(to, *st);
      wire::put_bind_renamed(to.out, m.bind->portal, st->server_name, m.bind->after_statement);
      return {Expect::Bind, st};
    }
    case fe::kDescribe:
    case fe::kClose: {
      ClientStatement* st = m.target->kind == fe::kTargetStatement ? statements.find(m.target->name) : nullptr;
      if (!st || st->id == 0) break;
      if (f.type == fe::kClose) return {Expect::SynthCloseComplete, st};
      prepare_on(to, *st);
      wire::put_describe(to.out, fe::kTargetStatement, st->server_name);
      return {Expect::Describe, st};
    }
    default: break;
  }
  to.out.append(f.bytes());
  switch (f.type) {
    case fe::kParse: return {Expect::Parse};
    case fe::kBind: return {Expect::Bind};
    case fe::kDescribe: return {Expect::Describe};
    default: return {Expect::Close};
  }
}

}  // namespace pgroute
