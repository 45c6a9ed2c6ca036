#include "proxy/session/scatter_merge.hpp"

#include "proxy/wire/backend.hpp"
#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"
#include "proxy/wire/sqlstate.hpp"

namespace pgroute {

namespace be = wire::backend;

namespace {

bool yields_rows(Expect kind) { return kind == Expect::Execute || kind == Expect::Query; }

// Answers to what the proxy sent on its own account: the client never sees them.
bool swallowed(Expect kind, char type) {
  return kind == Expect::InjectedQuery || kind == Expect::InjectedClose || kind == Expect::InjectedDescribe ||
         (kind == Expect::InjectedParse && type == be::kParseComplete);
}

}  // namespace

size_t ScatterMerge::add_shard(std::string alias, ResponseQueue expected, ServerPreparedSet* prepared) {
  shards_.push_back({std::move(alias), std::move(expected), prepared});
  return shards_.size() - 1;
}

// ParseComplete/CloseComplete the proxy answers itself, at their place in the first shard's stream.
void ScatterMerge::emit_synthetic(size_t shard) {
  ResponseQueue& expect = shards_[shard].expect;
  while (!expect.empty() && is_synthetic(expect.front().kind)) {
    if (shard == 0 && !failed_) {
      if (expect.front().kind == Expect::SynthParseComplete)
        wire::put_parse_complete(out_);
      else if (expect.front().kind == Expect::SynthCloseComplete)
        wire::put_close_complete(out_);
    }
    expect.pop();
  }
}

void ScatterMerge::report_error(size_t shard, std::string_view body) {
  if (failed_) return;
  failed_ = true;
  const std::string& alias = shards_[shard].alias;
  if (!wire::put_error_with_prefix(out_, body, "alias \"" + alias + "\": "))
    wire::put_error(out_, {.severity = "ERROR",
                           .sqlstate = wire::sqlstate::protocol_violation,
                           .message = "pgroute: alias \"" + alias + "\" sent a malformed ErrorResponse"});
}

ScatterMerge::Fed ScatterMerge::feed(size_t shard, const wire::Frame& f) {
  ResponseQueue& expect = shards_[shard].expect;
  const bool injected_head = !expect.empty() && expect.front().kind == Expect::InjectedQuery;
  if (f.type == be::kNoticeResponse ||
      f.type == be::kNotificationResponse) {  // notices and notifications go through, from every shard
    if (!injected_head) out_.append(f.bytes());
    return Fed::more;
  }
  if (f.type == be::kParameterStatus) return Fed::more;  // ParameterStatus: the caller keeps the connection's view
  emit_synthetic(shard);
  if (expect.empty()) return Fed::unexpected;
  const Pending head = expect.front();
  switch (f.type) {
    case be::kErrorResponse:
      if (head.kind == Expect::InjectedQuery) {
        wire::ErrorFields e;
        wire::parse_error_fields(f.body, e);
        injected_error_ = std::string(e.message);
        return Fed::more;  // its ReadyForQuery follows
      }
      report_error(shard, f.body);
      // The server skips to the Sync: so do we, and a statement it did not prepare is not prepared.
      skip_to_sync(expect, shards_[shard].prepared);
      return Fed::more;
    case be::kDataRow:
      if (!yields_rows(head.kind)) return Fed::unexpected;
      if (hold_rows_) return Fed::row;
      emit_row(f.bytes());
      return Fed::more;
    case be::kCommandComplete:
      if (yields_rows(head.kind)) {
        std::string_view tag;
        if (wire::parse_command_tag(f.body, tag) && shard == 0) {
          size_t space = tag.rfind(' ');
          verb_ = std::string(space == std::string_view::npos ? tag : tag.substr(0, space));
        }
        completed_ = true;
        if (head.kind == Expect::Execute) expect.pop();
        return Fed::more;
      }
      break;
    case be::kReadyForQuery:
      if (head.kind == Expect::InjectedQuery) {
        expect.pop();
        return Fed::more;
      }
      if (head.kind != Expect::Sync && head.kind != Expect::Query) return Fed::unexpected;
      expect.pop();
      return expect.empty() ? Fed::done : Fed::unexpected;
    case be::kRowDescription:
      // The portal's (its result formats), not a prepared statement's Describe, which is always text.
      if (shard == 0 && row_description_.empty() &&
          (head.kind == Expect::InjectedDescribe || head.kind == Expect::Query))
        row_description_.assign(f.body);
      break;
    default: break;
  }
  if (head.kind == Expect::InjectedQuery) return Fed::more;  // its CommandComplete, RowDescription, ...
  if (shard == 0 && !failed_ && !swallowed(head.kind, f.type)) out_.append(f.bytes());
  if (completes(head.kind, f.type)) expect.pop();
  return Fed::more;
}

void ScatterMerge::emit_row(std::string_view data_row) {
  if (!wants_rows()) return;
  out_.append(data_row);
  ++rows_;
}

void ScatterMerge::fail(size_t shard, std::string_view sqlstate, std::string_view why) {
  if (failed_) return;
  failed_ = true;
  wire::put_error(
      out_, {.severity = "ERROR",
             .sqlstate = sqlstate,
             .message = "pgroute: alias \"" + shards_[shard].alias + "\", reading every shard: " + std::string(why)});
}

void ScatterMerge::finish(bool ready_for_query) {
  if (!failed_ && completed_) wire::put_command_complete(out_, verb_ + " " + std::to_string(rows_));
  if (ready_for_query) wire::put_ready_for_query(out_, wire::tx_status::kIdle);
}

}  // namespace pgroute
