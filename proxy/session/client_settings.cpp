// A client's own session-level SET under transaction pooling. PostgreSQL keeps such a SET for the rest
// of the session once it is in effect: at once outside a transaction block, at COMMIT inside one (a
// rollback undoes it). The proxy follows that and repeats the setting on every server connection the
// client gets later (set_config at attach, like its startup parameters). What it cannot follow (SET
// LOCAL, SET ROLE, several statements in one query string, a rollback to a savepoint after a SET) marks
// the connection dirty: RESET ALL when it goes back, as before.
#include <algorithm>

#include "proxy/session/client_session.hpp"
#include "proxy/session/worker.hpp"
#include "proxy/wire/message_type.hpp"
#include "router/statement.hpp"

namespace pgroute {

namespace tx = wire::tx_status;

uint32_t ClientSession::track_setting(std::string_view sql) {
  if (session_mode_ || !router::may_set_parameter(sql)) return 0;
  auto setting = analyze(sql)->session_setting;
  if (!setting) return 0;
  uint32_t ticket = ++u().last_setting;
  if (ticket == 0) ticket = ++u().last_setting;  // 0 means "none" in Pending::setting
  u().settings.emplace_back(ticket, std::move(*setting));
  return ticket;
}

void ClientSession::apply_setting(const router::SessionSetting& s, ServerConnection& conn) {
  if (s.value) {
    if (auto changed = who_->with_param(s.name, *s.value)) who_ = worker_.identities.intern(std::move(*changed));
    conn.applied.set(s.name, *s.value);
  } else {
    if (auto changed = who_->without_param(s.name)) who_ = worker_.identities.intern(std::move(*changed));
    conn.applied.erase(s.name);
  }
}

void ClientSession::note_setting_tag(const Pending& head, std::string_view tag, ServerConnection& conn) {
  UnitState& unit = u();
  if (tag == "SET" || tag == "RESET") {
    if (head.setting)
      unit.confirmed_setting = head.setting;  // in effect; whether beyond a transaction, its ReadyForQuery says
    else
      dirty_session_state_ = true;
  } else if (tag == "DISCARD") {
    dirty_session_state_ = true;
  } else if (tag == "COMMIT") {  // a COMMIT of a failed transaction reports ROLLBACK
    for (const router::SessionSetting& s : unit.committing) apply_setting(s, conn);
    unit.committing.clear();
  } else if (tag == "ROLLBACK") {
    unit.rolled_back = true;
  } else if (tag == "PREPARE TRANSACTION" && !unit.committing.empty()) {
    unit.committing.clear();  // not followed: reset when the connection goes back
    dirty_session_state_ = true;
  }
}

void ClientSession::note_setting_ready(char tx_status) {
  if (!unit_ || !std::exchange(unit_->rolled_back, false) || unit_->committing.empty()) return;
  // Still in the transaction: a rollback to a savepoint undid the SETs after it and kept those before,
  // which the proxy does not tell apart. Otherwise the whole transaction, and all of them, are gone.
  if (tx_status != tx::kIdle) dirty_session_state_ = true;
  unit_->committing.clear();
}

void ClientSession::settle_setting(const Pending& head, ServerConnection& conn) {
  UnitState& unit = u();
  auto it = std::find_if(unit.settings.begin(), unit.settings.end(),
                         [&](const auto& s) { return s.first == head.setting; });
  if (it == unit.settings.end()) return;
  if (std::exchange(unit.confirmed_setting, 0) == head.setting) {
    if (conn.tx_status == tx::kIdle)
      apply_setting(it->second, conn);  // follows the client to its next connections (set_config)
    else
      unit.committing.push_back(std::move(it->second));
  }
  unit.settings.erase(it);
}

}  // namespace pgroute
