#include "proxy/scatter_merge.hpp"

#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {
namespace {

std::string_view raw_bytes(const wire::Frame& f) { return {f.body.data() - 5, f.wire_size()}; }

bool yields_rows(Expect kind) { return kind == Expect::Execute || kind == Expect::Query; }

// Answers to what the proxy sent on its own account: the client never sees them.
bool swallowed(Expect kind, char type) {
  return kind == Expect::InjectedQuery || kind == Expect::InjectedClose || (kind == Expect::InjectedParse && type == '1');
}

}  // namespace

void ScatterMerge::begin_shard(std::string alias, ResponseQueue expected, ServerPreparedSet* prepared) {
  alias_ = std::move(alias);
  expect_ = std::move(expected);
  prepared_ = prepared;
  ++shards_;
}

// ParseComplete/CloseComplete the proxy answers itself, at their place in the first shard's stream.
void ScatterMerge::emit_synthetic() {
  while (!expect_.empty() && is_synthetic(expect_.front().kind)) {
    if (first_shard() && !failed_) {
      if (expect_.front().kind == Expect::SynthParseComplete) wire::put_parse_complete(out_);
      else if (expect_.front().kind == Expect::SynthCloseComplete) wire::put_close_complete(out_);
    }
    expect_.pop();
  }
}

void ScatterMerge::report_error(std::string_view body) {
  if (failed_) return;
  failed_ = true;
  if (!wire::put_error_with_prefix(out_, body, "alias \"" + alias_ + "\": "))
    wire::put_error(out_, {.severity = "ERROR",
                           .sqlstate = wire::sqlstate::protocol_violation,
                           .message = "pgroute: alias \"" + alias_ + "\" sent a malformed ErrorResponse"});
}

ScatterMerge::Fed ScatterMerge::feed(const wire::Frame& f) {
  const bool injected_head = !expect_.empty() && expect_.front().kind == Expect::InjectedQuery;
  if (f.type == 'N' || f.type == 'A') {  // notices and notifications go through, from every shard
    if (!injected_head) out_.append(raw_bytes(f));
    return Fed::more;
  }
  if (f.type == 'S') return Fed::more;  // ParameterStatus: the caller keeps the connection's view
  emit_synthetic();
  if (expect_.empty()) return Fed::unexpected;
  const Pending head = expect_.front();
  switch (f.type) {
    case 'E':
      if (head.kind == Expect::InjectedQuery) {
        wire::ErrorFields e;
        wire::parse_error_fields(f.body, e);
        injected_error_ = std::string(e.message);
        return Fed::more;  // its ReadyForQuery follows
      }
      report_error(f.body);
      // The server skips to the Sync: so do we, and a statement it did not prepare is not prepared.
      while (!expect_.empty() && expect_.front().kind != Expect::Sync && expect_.front().kind != Expect::Query) {
        const Pending& p = expect_.front();
        if ((p.kind == Expect::Parse || p.kind == Expect::InjectedParse) && p.statement && prepared_)
          prepared_->remove(p.statement);
        expect_.pop();
      }
      return Fed::more;
    case 'D':
      if (!yields_rows(head.kind)) return Fed::unexpected;
      if (!failed_) {
        out_.append(raw_bytes(f));
        ++rows_;
      }
      return Fed::more;
    case 'C':
      if (yields_rows(head.kind)) {
        std::string_view tag;
        if (wire::parse_command_tag(f.body, tag) && first_shard()) {
          size_t space = tag.rfind(' ');
          verb_ = std::string(space == std::string_view::npos ? tag : tag.substr(0, space));
        }
        completed_ = true;
        if (head.kind == Expect::Execute) expect_.pop();
        return Fed::more;
      }
      break;
    case 'Z':
      if (head.kind == Expect::InjectedQuery) {
        expect_.pop();
        return Fed::more;
      }
      if (head.kind != Expect::Sync && head.kind != Expect::Query) return Fed::unexpected;
      expect_.pop();
      return expect_.empty() ? Fed::done : Fed::unexpected;
    default: break;
  }
  if (head.kind == Expect::InjectedQuery) return Fed::more;  // its CommandComplete, RowDescription, ...
  if (first_shard() && !failed_ && !swallowed(head.kind, f.type)) out_.append(raw_bytes(f));
  if (completes(head.kind, f.type)) expect_.pop();
  return Fed::more;
}

void ScatterMerge::lost(std::string_view why) {
  if (failed_) return;
  failed_ = true;
  wire::put_error(out_, {.severity = "ERROR",
                         .sqlstate = wire::sqlstate::connection_failure,
                         .message = "pgroute: lost the connection to alias \"" + alias_ +
                                    "\" while reading every shard: " + std::string(why)});
}

void ScatterMerge::finish(bool ready_for_query) {
  if (!failed_ && completed_) wire::put_command_complete(out_, verb_ + " " + std::to_string(rows_));
  if (ready_for_query) wire::put_ready_for_query(out_, 'I');
}

}  // namespace pgroute
