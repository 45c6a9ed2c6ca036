#include "proxy/session/server_replies.hpp"

#include "proxy/wire/builder.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

void ServerReplies::queue_error(std::string error_response) {
  errors_.push_back(std::move(error_response));
  expect.push({Expect::SynthError});
}

void ServerReplies::emit_synthetic_now(std::string& to_client) {
  while (!expect.empty() && is_synthetic(expect.front().kind)) {
    switch (expect.front().kind) {
      case Expect::SynthParseComplete: wire::put_parse_complete(to_client); break;
      case Expect::SynthCloseComplete: wire::put_close_complete(to_client); break;
      default:
        to_client += errors_.front();
        errors_.erase(errors_.begin());
        break;
    }
    expect.pop();
  }
}

void ServerReplies::clear() {
  expect.clear();
  errors_.clear();
}

ServerReplies::Outcome ServerReplies::on_reply(char type, ServerPreparedSet& prepared,
                                               std::vector<uint64_t>& failed_parses) {
  namespace be = wire::backend;
  Outcome out;
  if (expect.empty()) {
    out.forward = true;
    return out;
  }
  out.expected = true;
  out.head = expect.front();
  const Expect kind = out.head.kind;
  out.forward = !(kind == Expect::InjectedQuery || kind == Expect::InjectedClose || kind == Expect::InjectedSync ||
                  (kind == Expect::InjectedParse && type == be::kParseComplete));
  if (!completes(kind, type)) return out;
  expect.pop();
  out.completed = true;
  if (type != be::kErrorResponse) return out;
  if ((kind == Expect::Parse || kind == Expect::InjectedParse) && out.head.statement)
    prepared.remove(out.head.statement);
  if (is_extended(kind)) skip_to_sync(expect, &prepared, [&](uint64_t n) { failed_parses.push_back(n); });
  return out;
}

}  // namespace pgroute
