// A client's own session-level SET under transaction pooling. PostgreSQL keeps such a SET for the rest
// of the session once the transaction it ran in commits: the implicit one of a simple Query or of an
// extended-protocol unit (up to Sync), or an explicit block at COMMIT; a rollback, or an error in the
// implicit transaction, undoes it. The proxy follows that and repeats the setting on every server
// connection the client gets later (set_config at attach, like its startup parameters). What it cannot
// follow (SET LOCAL, SET ROLE, several statements in one query string, a rollback to a savepoint after
// a SET) marks the connection dirty: RESET ALL when it goes back.
#include <algorithm>

#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/backend.hpp"
#include "proxy/wire/message_type.hpp"
#include "router/statement.hpp"

namespace pgroute {

namespace tx = wire::tx_status;

uint32_t ClientSession::track_setting(std::string_view sql, const router::SessionWords& words) {
  if (session_mode_ || !router::may_set_parameter(sql, words)) return 0;
  auto setting = analyze(sql)->session_setting;
  if (!setting) return 0;
  uint32_t ticket = ++u().last_setting;
  if (ticket == 0) ticket = ++u().last_setting;  // 0 means "none" in Pending::setting
  u().settings.emplace_back(ticket, std::move(*setting));
  return ticket;
}

void ClientSession::forget_setting(uint32_t ticket) {
  std::erase_if(u().settings, [&](const auto& s) { return s.first == ticket; });
}

void ClientSession::finish_setting(uint32_t ticket) {
  // Still here: not confirmed. It failed (then nothing changed), or it ran without the reply the proxy
  // reads (a set_config() whose Execute stopped at a row limit): reset to be sure.
  if (std::erase_if(u().settings, [&](const auto& s) { return s.first == ticket; }) > 0) dirty_session_state_ = true;
}

void ClientSession::apply_setting(const router::SessionSetting& s, ServerConnection& conn) {
  if (s.all) {
    // The server went back to its own defaults, which are not the client's: the next attach applies
    // the startup packet's parameters again.
    reset_all_settings(conn);
  } else if (s.value) {
    if (auto changed = who_->with_param(s.name, *s.value)) who_ = worker_.identities.intern(std::move(*changed));
    conn.applied.set(s.name, *s.value);
  } else {
    if (auto changed = who_->with_param_reset(s.name)) who_ = worker_.identities.intern(std::move(*changed));
    conn.applied.erase(s.name);
  }
}

void ClientSession::reset_all_settings(ServerConnection& conn) {
  if (auto changed = who_->with_all_reset()) who_ = worker_.identities.intern(std::move(*changed));
  conn.applied.clear();
}

void ClientSession::note_setting_tag(const Pending& head, std::string_view tag, ServerConnection& conn) {
  UnitState& unit = u();
  const bool selected = head.setting && tag.starts_with("SELECT");  // SELECT set_config(...)
  if (tag == "SET" || tag == "RESET" || selected) {
    auto it = head.setting ? std::find_if(unit.settings.begin(), unit.settings.end(),
                                          [&](const auto& s) { return s.first == head.setting; })
                           : unit.settings.end();
    // Untracked, or a set_config() whose row did not come: not followed, reset when the connection goes back.
    if (it == unit.settings.end() || (it->second.value_from_result && !it->second.value)) {
      dirty_session_state_ = true;
      return;
    }
    unit.committing.push_back(std::move(it->second));  // in effect; it lasts if its transaction commits
    unit.settings.erase(it);
  } else if (tag == "DISCARD") {
    dirty_session_state_ = true;
  } else if (tag == "COMMIT") {  // of an explicit block (a COMMIT of a failed one reports ROLLBACK)
    for (const router::SessionSetting& s : unit.committing) apply_setting(s, conn);
    unit.committing.clear();
  } else if (tag == "ROLLBACK") {
    unit.rolled_back = true;
  } else if (tag == "PREPARE TRANSACTION" && !unit.committing.empty()) {
    unit.committing.clear();  // not followed: reset when the connection goes back
    dirty_session_state_ = true;
  }
}

void ClientSession::note_setting_row(uint32_t ticket, const wire::Frame& row) {
  auto& settings = u().settings;
  auto it = std::find_if(settings.begin(), settings.end(), [&](const auto& s) { return s.first == ticket; });
  if (it == settings.end() || !it->second.value_from_result) return;
  std::vector<std::optional<std::string_view>> columns;
  if (wire::parse_data_row(row.body, columns) && columns.size() == 1 && columns[0])
    it->second.value = std::string(*columns[0]);
}

void ClientSession::note_setting_ready(char tx_status, ServerConnection& conn) {
  if (!unit_) return;
  UnitState& unit = *unit_;
  const bool rolled_back = std::exchange(unit.rolled_back, false);
  const bool failed = std::exchange(unit.error_in_unit, false);
  // Nothing owed: a ticket still waiting lost its reply (an error skipped its Execute to Sync). What it
  // would have set never ran; the entry goes. A portal bound and not executed yet keeps its ticket.
  if (unit.replies.expect.empty() && unit.settings.size() > (unit.portal_setting ? 1u : 0u))
    std::erase_if(unit.settings, [&](const auto& s) { return s.first != unit.portal_setting; });
  if (unit.committing.empty()) return;
  if (rolled_back) {
    // Still in the block: a rollback to a savepoint undid the SETs after it and kept those before, which
    // the proxy does not tell apart. Otherwise the whole transaction, and all of them, are gone.
    if (tx_status != tx::kIdle) dirty_session_state_ = true;
    unit.committing.clear();
  } else if (tx_status == tx::kIdle) {
    // The implicit transaction is over: committed, unless an error in it rolled it back.
    if (!failed)
      for (const router::SessionSetting& s : unit.committing) apply_setting(s, conn);
    unit.committing.clear();
  }
}

}  // namespace pgroute
