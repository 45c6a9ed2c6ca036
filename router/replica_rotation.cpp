#include "router/replica_rotation.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pgroute::router {
namespace {

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", seconds);
  return buf;
}

std::string millis_text(std::chrono::milliseconds ms) {
  return ms.count() % 1000 == 0 ? std::to_string(ms.count() / 1000) + "s" : std::to_string(ms.count()) + "ms";
}

}  // namespace

OutOfRotation out_of_rotation(const ReplicaState& state, const LagLimits& limits) {
  switch (state.seen) {
    case ReplicaState::Seen::NotChecked: return OutOfRotation::NotChecked;
    case ReplicaState::Seen::NotAnswering: return OutOfRotation::NotAnswering;
    case ReplicaState::Seen::NotInRecovery: return OutOfRotation::NotInRecovery;
    case ReplicaState::Seen::InRecovery: break;
  }
  if (!state.lag_known) return OutOfRotation::No;
  if (limits.max_lag && state.lag_seconds * 1000.0 > static_cast<double>(limits.max_lag->count()))
    return OutOfRotation::LagSeconds;
  if (limits.max_lag_bytes && state.lag_bytes > *limits.max_lag_bytes) return OutOfRotation::LagBytes;
  return OutOfRotation::No;
}

std::string describe(OutOfRotation why, const ReplicaState& state, const LagLimits& limits) {
  switch (why) {
    case OutOfRotation::No: return "";
    case OutOfRotation::NotChecked: return "not checked yet";
    case OutOfRotation::NotAnswering: return "not answering lag checks";
    case OutOfRotation::NotInRecovery: return "not in recovery (promoted?)";
    case OutOfRotation::LagSeconds:
      return "replay " + seconds_text(state.lag_seconds) + " behind (max_lag " +
             millis_text(limits.max_lag.value_or(std::chrono::milliseconds(0))) + ")";
    case OutOfRotation::LagBytes:
      return "replay " + std::to_string(state.lag_bytes) + " bytes behind (max_lag_bytes " +
             std::to_string(limits.max_lag_bytes.value_or(0)) + ")";
  }
  return "";
}

std::optional<double> replay_delay(uint64_t replay, const std::deque<LsnSample>& primary,
                                   std::optional<double> since_commit, std::chrono::steady_clock::time_point now) {
  if (primary.empty()) return std::nullopt;
  if (replay >= primary.back().lsn) return 0.0;
  std::optional<double> bound = since_commit;
  for (auto it = primary.rbegin(); it != primary.rend(); ++it)
    if (it->lsn <= replay) {
      double since = std::chrono::duration<double>(now - it->at).count();
      bound = bound ? std::min(*bound, since) : since;
      break;
    }
  if (!bound) bound = std::chrono::duration<double>(now - primary.front().at).count();
  return std::max(0.0, *bound);
}

uint64_t wal_end_of_insert(uint64_t insert_lsn) {
  constexpr uint64_t kWalPage = 8192, kShortHeader = 24, kLongHeader = 40;
  // Taking a position 24 or 40 bytes into a page as the page's start is exact whatever else ended there:
  // no record can end between the start and that position other than a continuation ending at it (a
  // record is at least 24 bytes, 8-aligned, after the header), so a standby's replay position, always a
  // record's end, has reached the page's start exactly when it has reached the insert position.
  const uint64_t in_page = insert_lsn % kWalPage;
  return in_page == kShortHeader || in_page == kLongHeader ? insert_lsn - in_page : insert_lsn;
}

std::string lsn_text(uint64_t lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn));
  return buf;
}

std::optional<uint64_t> parse_lsn(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  uint32_t hi = 0, lo = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto [p2, e2] = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (e1 != std::errc() || p1 != text.data() + slash || e2 != std::errc() || p2 != text.data() + text.size())
    return std::nullopt;
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace pgroute::router
