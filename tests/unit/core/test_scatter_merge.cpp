// ScatterMerge: the answers of several shards to one read become the one answer the client expects.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/session/scatter_merge.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/frame.hpp"

using namespace pgroute;

namespace {

// Feeds every message in `server` to the merge; returns the last result.
ScatterMerge::Fed feed_all(ScatterMerge& m, size_t shard, const std::string& server) {
  std::string_view rest = server;
  ScatterMerge::Fed last = ScatterMerge::Fed::more;
  while (!rest.empty()) {
    wire::Frame f;
    size_t need = 0;
    REQUIRE(wire::next_frame(rest, 1 << 20, f, need, nullptr) == wire::Decode::Ready);
    last = m.feed(shard, f);
    rest.remove_prefix(f.wire_size());
  }
  return last;
}

std::vector<char> types(const std::string& client) {
  std::vector<char> out;
  std::string_view rest = client;
  while (!rest.empty()) {
    wire::Frame f;
    size_t need = 0;
    REQUIRE(wire::next_frame(rest, 1 << 20, f, need, nullptr) == wire::Decode::Ready);
    out.push_back(f.type);
    rest.remove_prefix(f.wire_size());
  }
  return out;
}

ResponseQueue queue(std::initializer_list<Expect> kinds) {
  ResponseQueue q;
  for (Expect k : kinds) q.push({k});
  return q;
}

std::string simple_answer(const std::vector<std::string>& ids) {
  std::string s;
  wire::put_row_description_text(s, {"id"});
  for (const auto& id : ids) wire::put_data_row(s, {id});
  wire::put_command_complete(s, "SELECT " + std::to_string(ids.size()));
  wire::put_ready_for_query(s, 'I');
  return s;
}

std::string error_body(std::string_view sqlstate, std::string_view message) {
  std::string e;
  wire::put_error(e, {.severity = "ERROR", .sqlstate = sqlstate, .message = message});
  return e;
}

}  // namespace

TEST_CASE("simple query: one RowDescription, every shard's rows, one CommandComplete with the total") {
  std::string out;
  ScatterMerge m(out);
  size_t s0 = m.add_shard("shard_0", queue({Expect::Query}), nullptr);
  CHECK(feed_all(m, s0, simple_answer({"1", "2"})) == ScatterMerge::Fed::done);
  size_t s1 = m.add_shard("shard_1", queue({Expect::Query}), nullptr);
  CHECK(feed_all(m, s1, simple_answer({"3"})) == ScatterMerge::Fed::done);
  m.finish(true);
  CHECK(types(out) == std::vector<char>{'T', 'D', 'D', 'D', 'C', 'Z'});
  CHECK(out.find(std::string("SELECT 3\0", 9)) != std::string::npos);
  CHECK_FALSE(m.failed());
  CHECK(m.rows() == 3);
}

TEST_CASE("injected session parameters are swallowed; extended answers come from the first shard only") {
  std::string out;
  ScatterMerge m(out);
  ServerPreparedSet prepared;
  prepared.add(7);
  auto expected = [] {
    ResponseQueue q;
    q.push({Expect::InjectedQuery});
    q.push({Expect::InjectedParse, 7});
    q.push({Expect::SynthParseComplete});
    q.push({Expect::Bind});
    q.push({Expect::Describe});
    q.push({Expect::Execute});
    q.push({Expect::Sync});
    return q;
  };
  auto shard = [](const std::vector<std::string>& ids) {
    std::string s;
    wire::put_row_description_text(s, {"set_config"});
    wire::put_data_row(s, {"x"});
    wire::put_command_complete(s, "SELECT 1");
    wire::put_ready_for_query(s, 'I');  // the injected query is over
    wire::put_parse_complete(s);        // injected Parse: swallowed
    wire::put_bind_complete(s);
    wire::put_row_description_text(s, {"id"});
    for (const auto& id : ids) wire::put_data_row(s, {id});
    wire::put_command_complete(s, "SELECT " + std::to_string(ids.size()));
    wire::put_ready_for_query(s, 'I');
    return s;
  };
  size_t s0 = m.add_shard("shard_0", expected(), &prepared);
  CHECK(feed_all(m, s0, shard({"1"})) == ScatterMerge::Fed::done);
  size_t s1 = m.add_shard("shard_1", expected(), &prepared);
  CHECK(feed_all(m, s1, shard({"2", "3"})) == ScatterMerge::Fed::done);
  m.finish(false);  // ended by a Flush: no ReadyForQuery yet
  CHECK(types(out) == std::vector<char>{'1', '2', 'T', 'D', 'D', 'D', 'C'});
  CHECK(m.rows() == 3);
  CHECK(prepared.contains(7));
}

TEST_CASE("an error on a later shard stops the rows, names the alias, and forgets a failed Parse") {
  std::string out;
  ScatterMerge m(out);
  size_t s0 = m.add_shard("shard_0", queue({Expect::Query}), nullptr);
  feed_all(m, s0, simple_answer({"1"}));
  ServerPreparedSet prepared;
  prepared.add(9);
  ResponseQueue q;
  q.push({Expect::InjectedParse, 9});
  q.push({Expect::SynthParseComplete});
  q.push({Expect::Bind});
  q.push({Expect::Execute});
  q.push({Expect::Sync});
  size_t s1 = m.add_shard("shard_1", std::move(q), &prepared);
  std::string answer = error_body("42P01", "relation \"events\" does not exist");
  wire::put_ready_for_query(answer, 'I');
  CHECK(feed_all(m, s1, answer) == ScatterMerge::Fed::done);
  size_t s2 = m.add_shard("shard_2", queue({Expect::Query}), nullptr);
  CHECK(feed_all(m, s2, simple_answer({"5", "6"})) == ScatterMerge::Fed::done);
  m.finish(true);
  CHECK(types(out) == std::vector<char>{'T', 'D', 'E', 'Z'});
  CHECK(out.find("alias \"shard_1\": relation \"events\" does not exist") != std::string::npos);
  CHECK(m.failed());
  CHECK_FALSE(prepared.contains(9));
}

TEST_CASE("a failed shard is reported once; an unasked message is flagged") {
  std::string out;
  ScatterMerge m(out);
  size_t s0 = m.add_shard("shard_0", queue({Expect::Query}), nullptr);
  m.fail(s0, "08006", "connection reset by peer");
  size_t s1 = m.add_shard("shard_1", queue({Expect::Query}), nullptr);
  m.fail(s1, "08006", "again");
  m.finish(true);
  CHECK(types(out) == std::vector<char>{'E', 'Z'});
  CHECK(out.find("alias \"shard_0\"") != std::string::npos);
  CHECK(out.find("again") == std::string::npos);

  std::string out2;
  ScatterMerge extra(out2);
  extra.add_shard("shard_0", queue({Expect::Query}), nullptr);
  std::string answer = simple_answer({"1"});
  wire::put_bind_complete(answer);  // after the ReadyForQuery: nothing asked for it
  CHECK(feed_all(extra, 0, answer) == ScatterMerge::Fed::unexpected);
}

TEST_CASE("LIMIT cuts the merged rows; held rows come back to the caller for an ordered merge") {
  std::string out;
  ScatterMerge m(out);
  m.set_limit(2);
  size_t s0 = m.add_shard("shard_0", queue({Expect::Query}), nullptr);
  feed_all(m, s0, simple_answer({"1"}));
  size_t s1 = m.add_shard("shard_1", queue({Expect::Query}), nullptr);
  feed_all(m, s1, simple_answer({"2", "3"}));
  CHECK_FALSE(m.wants_rows());
  m.finish(true);
  CHECK(types(out) == std::vector<char>{'T', 'D', 'D', 'C', 'Z'});
  CHECK(out.find(std::string("SELECT 2\0", 9)) != std::string::npos);

  std::string held_out;
  ScatterMerge held(held_out);
  held.hold_rows();
  size_t h0 = held.add_shard("shard_0", queue({Expect::Query}), nullptr);
  std::string answer = simple_answer({"7"});
  std::string_view rest = answer;
  std::vector<ScatterMerge::Fed> results;
  while (!rest.empty()) {
    wire::Frame f;
    size_t need = 0;
    REQUIRE(wire::next_frame(rest, 1 << 20, f, need, nullptr) == wire::Decode::Ready);
    results.push_back(held.feed(h0, f));
    rest.remove_prefix(f.wire_size());
  }
  CHECK(results == std::vector<ScatterMerge::Fed>{ScatterMerge::Fed::more, ScatterMerge::Fed::row,
                                                  ScatterMerge::Fed::more, ScatterMerge::Fed::done});
  CHECK(types(held_out) == std::vector<char>{'T'});  // the row waits for emit_row
  CHECK_FALSE(held.row_description().empty());
}
