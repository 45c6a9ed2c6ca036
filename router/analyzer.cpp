#include "router/analyzer.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "router/depth_estimate.hpp"
#include "router/hint_scanner.hpp"
#include "router/key_extractor.hpp"
#include "router/private_stack.hpp"
#include "router/relation_collector.hpp"
#include "router/statement_classifier.hpp"

namespace pgroute::router {
namespace {

// Owns libpg_query's results so every exit path frees them.
class ParsedTree {
 public:
  explicit ParsedTree(const std::string& sql) : result_(pg_query_parse_protobuf(sql.c_str())) {
    if (!result_.error)
      tree_ = pg_query__parse_result__unpack(nullptr, result_.parse_tree.len,
                                             reinterpret_cast<const uint8_t*>(result_.parse_tree.data));
  }
  ~ParsedTree() {
    if (tree_) pg_query__parse_result__free_unpacked(tree_, nullptr);
    pg_query_free_protobuf_parse_result(result_);
  }
  ParsedTree(const ParsedTree&) = delete;
  ParsedTree& operator=(const ParsedTree&) = delete;

  const PgQueryError* error() const { return result_.error; }
  const PgQuery__ParseResult* tree() const { return tree_; }

 private:
  PgQueryProtobufParseResult result_;
  PgQuery__ParseResult* tree_ = nullptr;
};

void mark_unparsed(Analysis& a, std::string message) {
  a.kind = StatementKind::Unparsed;
  a.statement_kinds = {StatementKind::Unparsed};
  a.command.clear();
  a.tables.clear();
  a.key_rows.clear();
  a.updated_columns.clear();
  a.statement_count = 1;
  a.error = std::move(message);
}

void mark_too_complex(Analysis& a, std::string message) {
  mark_unparsed(a, std::move(message));
  a.too_complex = true;
}

// A statement refused before parsing: its hints are still read (the scanner does not recurse), so an
// alias hint can route it.
void refuse_unparsed(Analysis& a, const std::string& text, std::string message) {
  mark_too_complex(a, std::move(message));
  Hints hints = scan_hints(text);
  a.hint_shard_key = std::move(hints.shard_key);
  a.hint_alias = std::move(hints.alias);
}

// What the statements of one string share: their tables (merged) and the node budget left.
struct Accumulated {
  TableSet tables;
  uint64_t nodes_left = kMaxAnalyzedNodes;
};

// false when the string is past the budget: `a` is then marked too complex and nothing more is added.
bool add_statement(const PgQuery__Node* stmt, Analysis& a, Accumulated& acc) {
  StatementFacts facts = collect_relations(stmt, acc.nodes_left);
  a.work += facts.nodes;
  if (facts.over_budget) {
    mark_too_complex(a, "statement is too complex to analyze (more than " + std::to_string(kMaxAnalyzedNodes) +
                            " parse tree nodes)");
    return false;
  }
  acc.nodes_left -= facts.nodes;
  for (const auto& t : facts.tables.items()) acc.tables.add(t);
  a.work += facts.tables.size();
  if (acc.tables.size() > kMaxAnalyzedTables) {
    mark_too_complex(
        a, "statement is too complex to analyze (more than " + std::to_string(kMaxAnalyzedTables) + " tables)");
    return false;
  }
  Classification c = classify_statement(stmt, facts);
  if (facts.too_deep) {
    c.kind = StatementKind::Unparsed;
    a.error = "statement is nested too deeply to analyze";
    a.too_complex = true;
  }
  a.statement_kinds.push_back(c.kind);
  if (a.statement_kinds.size() == 1 || kind_strength(c.kind) > kind_strength(a.kind)) {
    a.kind = c.kind;
    a.command = c.command;
  }
  if (facts.tables.size() > 0) {
    for (auto& row : extract_key_rows(stmt, &a.work)) a.key_rows.push_back(std::move(row));
    for (auto& col : extract_updated_columns(stmt)) a.updated_columns.push_back(std::move(col));
  }
  a.max_param = std::max(a.max_param, facts.max_param);
  a.begins_transaction = a.begins_transaction || c.begins_transaction;
  a.ends_transaction = a.ends_transaction || c.ends_transaction;
  if (a.session_state == SessionStateKind::none || facts.session_state == SessionStateKind::load)
    a.session_state = facts.session_state;
  a.sets_config = a.sets_config || facts.sets_config;
  a.read_only = a.read_only || c.read_only;
  for (auto& clause : c.result_clauses) a.result_clauses.push_back(std::move(clause));
  if (c.result_order) a.result_order = std::move(c.result_order);
  if (c.set_shard_key) {
    a.set_shard_key = c.set_shard_key;
    a.shard_key_local = c.shard_key_local;
    a.resets_shard_key = false;
  }
  if (c.resets_shard_key) {
    a.set_shard_key.reset();
    a.resets_shard_key = true;
  }
  // Only a string that is that one statement: what else it runs could fail after the SET took effect.
  if (a.statement_kinds.size() == 1)
    a.session_setting = std::move(c.session_setting);
  else
    a.session_setting.reset();
  return true;
}

// Measured: about 1 KB of stack per byte of SQL in the worst case (libpg_query's output plus
// protobuf-c's unpacking of a left-deep `1+1+...`); twice that, plus room for everything else.
constexpr size_t kStackPerByte = 2048;
constexpr size_t kStackBase = 512 * 1024;

void analyze_text(const std::string& text, Analysis& a);

struct PrivateStackJob {
  const std::string* text;
  Analysis* analysis;
  std::exception_ptr failure;
};

void run_job(void* p) {
  auto* job = static_cast<PrivateStackJob*>(p);
  try {
    analyze_text(*job->text, *job->analysis);
  } catch (...) {
    job->failure = std::current_exception();  // rethrown on the caller's stack
  }
}

void analyze_text(const std::string& text, Analysis& a) {
  Hints hints = scan_hints(text);
  a.hint_shard_key = std::move(hints.shard_key);
  a.hint_alias = std::move(hints.alias);

  ParsedTree parsed(text);
  if (const PgQueryError* err = parsed.error()) {
    std::string message = err->message ? err->message : "syntax error";
    if (err->cursorpos > 0) message += " at position " + std::to_string(err->cursorpos);
    mark_unparsed(a, std::move(message));
    return;
  }
  const PgQuery__ParseResult* tree = parsed.tree();
  if (!tree) {
    mark_unparsed(a, "could not decode the parse tree");
    return;
  }
  Accumulated acc;
  for (size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    if (!raw || !raw->stmt) continue;
    if (!add_statement(raw->stmt, a, acc)) return;
  }
  a.tables = acc.tables.take();
  a.statement_count = static_cast<int>(a.statement_kinds.size());
  if (a.statement_count == 0) a.kind = StatementKind::Empty;
}

}  // namespace

Analysis analyze(std::string_view sql) {
  Analysis a;
  a.words = scan_session_words(sql);
  // The C API wants a NUL-terminated string; PostgreSQL itself stops at an embedded NUL too.
  sql = sql.substr(0, sql.find('\0'));
  std::string text(sql);
  if (text.size() > kMaxAnalyzedBytes) {
    refuse_unparsed(a, text, "statement is too long to analyze (" + std::to_string(text.size()) + " bytes)");
    return a;
  }
  if (text.size() <= kInlineAnalyzeBytes / kStackScale) {  // on the thread's own stack
    analyze_text(text, a);
    return a;
  }
  // Only a long statement can nest deeply enough to matter: a level takes at least two bytes
  // (an operator and an operand, or a pair of parentheses), so shorter texts skip the scan.
  if (size_t depth = text.size() > 2 * kMaxEstimatedDepth ? estimate_nesting_depth(text) : 0;
      depth > kMaxEstimatedDepth) {
    refuse_unparsed(
        a, text,
        "statement is too complex to analyze (expressions nested about " + std::to_string(depth) + " levels deep)");
    return a;
  }
  PrivateStackJob job{&text, &a, nullptr};
  if (!run_on_private_stack((kStackBase + text.size() * kStackPerByte) * kStackScale, run_job, &job)) {
    mark_too_complex(a, "no memory for the stack needed to analyze this statement");
    return a;
  }
  if (job.failure) std::rethrow_exception(job.failure);
  return a;
}

}  // namespace pgroute::router
