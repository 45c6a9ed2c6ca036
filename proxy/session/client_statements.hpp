// A client's named prepared statements, and the one translation of every message that names one.
//
// The client names statements as it likes; the servers know each by the proxy's name for its text and
// parameter types ("pgr_<16 hex>"), so any client's statement prepared once on a pooled connection is
// reused by every client that prepares the same text. Both paths that send a client's extended-protocol
// messages to a server (one connection, or every shard of a read across shards) go through
// translate_statement_message(), so the renaming is written once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/pool/server_prepared_set.hpp"
#include "proxy/session/response_queue.hpp"
#include "proxy/wire/frame.hpp"
#include "proxy/wire/frontend.hpp"
#include "router/statement.hpp"

namespace pgroute {

namespace router {
struct Analysis;
}

// The proxy-wide identity of a statement: the same text and parameter types get the same id (never 0).
uint64_t statement_id(std::string_view query, std::string_view param_types);
// Its name on every server: "pgr_" and the id in 16 hex digits.
std::string server_statement_name(uint64_t id);

// A named statement as the client knows it, and how to prepare it on any server connection.
struct ClientStatement {
  uint64_t id = 0;          // statement_id(); 0: only analysed for a Parse routing holds (not prepared yet)
  std::string server_name;  // server_statement_name(id)
  std::string parse;        // a complete Parse message with server_name, ready to send
  std::shared_ptr<const router::Analysis> analysis;  // when routing is on: analysed once, routed per Bind
  uint64_t parse_number = 0;   // the client's Parse that made it (ClientStatements::parses()); 0: none yet
  router::SessionWords words;  // router::scan_session_words(query()), taken once per statement, not per Bind

  // The statement's text, inside `parse` (after type, length, server_name and its NUL): no parse per Bind.
  std::string_view query() const {
    const size_t at = 5 + server_name.size() + 1;
    if (parse.size() <= at) return {};
    std::string_view rest = std::string_view(parse).substr(at);
    return rest.substr(0, rest.find('\0'));
  }
};

class ClientStatements {
 public:
  // A named Parse: the statement under that name from now on, numbered by the count of named Parses.
  ClientStatement& remember(const wire::ParseMsg& parse);
  // Routing's analysis of a named Parse, kept before the Parse itself is handled (then its id is 0).
  void set_analysis(std::string_view name, std::shared_ptr<const router::Analysis> analysis);
  // The statement under `name` (analysed only or prepared); null for the unnamed one and unknown names.
  ClientStatement* find(std::string_view name);
  const ClientStatement* find(std::string_view name) const;
  // A Parse of it was handled (not only analysed): a Bind or Describe can use it.
  bool prepared(std::string_view name) const;
  void forget(std::string_view name);
  // Forgets the statements made by the given Parses (sorted parse numbers): the server refused them.
  void forget_parses(const std::vector<uint64_t>& sorted_parse_numbers);
  // DISCARD ALL, DEALLOCATE ALL: forgets every statement parsed up to and including `parse_number`.
  void forget_parsed_up_to(uint64_t parse_number);
  uint64_t parses() const { return parses_; }
  size_t size() const { return by_name_.size(); }

 private:
  // Lookups by the name's view, without making a string of it per Bind.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, ClientStatement, NameHash, std::equal_to<>> by_name_;
  uint64_t parses_ = 0;
};

// A server connection as the translation writes to it: which proxy statements it has, where its
// messages go, and the answers they will get.
struct StatementTarget {
  ServerPreparedSet& prepared;
  std::string& out;
  ResponseQueue& expect;
  int max_prepared = 0;  // pool.max_prepared_statements; <= 0: no bound
};

// Makes sure `st` exists on the target: queues its Parse (the answer is swallowed) when the connection
// lacks it, first closing the connection's least recently prepared statements over max_prepared.
void prepare_on(StatementTarget& to, const ClientStatement& st);

// One client message that may name a statement, parsed once by the caller: only the member that
// matches frame.type is read.
struct StatementMessage {
  const wire::Frame& frame;
  const wire::ParseMsg* parse = nullptr;    // Parse
  const wire::BindMsg* bind = nullptr;      // Bind
  const wire::TargetMsg* target = nullptr;  // Describe, Close
};

// What translate_statement_message() did: the answer the client's message gets (the caller queues it
// with what it keeps per answer), and the client's named statement it named, if any.
struct StatementTranslation {
  Expect answer;
  ClientStatement* statement = nullptr;
};

// A client's Parse, Bind, Describe or Close as the target must see it:
//  - unnamed statements and portals: the message goes as it came;
//  - a named Parse: remembered, prepared on the target if it lacks it, and answered by the proxy;
//  - Bind or Describe of a named statement: prepared if lacking, then sent under the proxy's name;
//  - Close of a named statement: answered by the proxy, nothing is sent (the server keeps it for other
//    clients); the caller forgets the name when the unit it belongs to is handled.
// A name the client never prepared goes as it came: the server answers 26000 as it would directly.
StatementTranslation translate_statement_message(const StatementMessage& m, ClientStatements& statements,
                                                 StatementTarget& to);

}  // namespace pgroute
