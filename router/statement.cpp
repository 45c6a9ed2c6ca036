#include "router/statement.hpp"

#include <array>
#include <cstdint>
#include <iterator>

namespace pgroute::router {

int kind_strength(StatementKind kind) {
  switch (kind) {
    case StatementKind::Empty: return 0;
    case StatementKind::TransactionBegin: return 1;
    case StatementKind::TransactionEnd: return 2;
    case StatementKind::Savepoint: return 3;
    case StatementKind::Show: return 4;
    case StatementKind::Set: return 5;
    case StatementKind::Read: return 6;
    case StatementKind::Utility: return 7;
    case StatementKind::Write: return 8;
    case StatementKind::Ddl: return 9;
    case StatementKind::Unparsed: return 10;
  }
  return 10;
}

std::string_view session_state_name(SessionStateKind kind) {
  switch (kind) {
    case SessionStateKind::none: return "nothing";
    case SessionStateKind::listen: return "LISTEN";
    case SessionStateKind::advisory_lock: return "a session advisory lock";
    case SessionStateKind::temporary: return "a temporary table";
    case SessionStateKind::holdable_cursor: return "a cursor WITH HOLD";
    case SessionStateKind::prepared_statement: return "a prepared statement (SQL PREPARE)";
    case SessionStateKind::role: return "a role it set (SET ROLE, SET SESSION AUTHORIZATION)";
    case SessionStateKind::load: return "LOAD";
  }
  return "session state";
}

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr uint8_t kLeaves = 1, kEnds = 2, kSetsConfig = 4, kAllWords = 7;

struct SessionWord {
  std::string_view text;  // lower case
  uint8_t flags;
};

// Sorted by first letter. "leaves": may leave state (SessionWords::leaves), "ends": may end it.
// UNLISTEN, pg_advisory_unlock*, DISCARD, DROP (a temporary table), CLOSE (a cursor), DEALLOCATE, and a
// rollback of the transaction that made the state (LISTEN, CREATE TEMP and PREPARE are undone by it)
// end state; RESET ROLE, SET ROLE NONE, SET SESSION AUTHORIZATION DEFAULT and set_config end a role.
constexpr SessionWord kSessionWords[] = {
    {"abort", kEnds},    {"advisory_lock", kLeaves}, {"authorization", kLeaves | kEnds},
    {"close", kEnds},    {"deallocate", kEnds},      {"discard", kEnds},
    {"drop", kEnds},     {"hold", kLeaves},          {"listen", kLeaves},
    {"load", kLeaves},   {"prepare", kLeaves},       {"role", kLeaves | kEnds},
    {"rollback", kEnds}, {"set_config", kAllWords},  {"temp", kLeaves},
    {"unlisten", kEnds}, {"unlock", kEnds},
};

struct LetterRange {
  uint8_t begin = 0, count = 0;
};

// For each first letter, the words that start with it.
constexpr std::array<LetterRange, 26> kWordsByLetter = [] {
  std::array<LetterRange, 26> by{};
  for (uint8_t i = 0; i < std::size(kSessionWords); ++i) {
    LetterRange& r = by[static_cast<size_t>(kSessionWords[i].text[0] - 'a')];
    if (r.count == 0) r.begin = i;
    ++r.count;
  }
  return by;
}();

constexpr int letter_of(int c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? c - 'A' : -1; }

// A byte's letter in either case as a bit (1 << 0..25), 0 for anything else.
constexpr std::array<uint32_t, 256> kLetterBit = [] {
  std::array<uint32_t, 256> bit{};
  for (int c = 0; c < 256; ++c)
    if (letter_of(c) >= 0) bit[static_cast<size_t>(c)] = uint32_t{1} << letter_of(c);
  return bit;
}();

// For a byte that starts a word (in either case), the letters that follow it in some word; 0 for
// others. Most characters of a statement start no word, and most of the rest are not followed by a
// letter that would: both are ruled out by two table reads.
constexpr std::array<uint32_t, 256> kSecondLetters = [] {
  std::array<uint32_t, 256> seconds{};
  for (int c = 0; c < 256; ++c)
    for (const SessionWord& w : kSessionWords)
      if (letter_of(c) == w.text[0] - 'a') seconds[static_cast<size_t>(c)] |= uint32_t{1} << (w.text[1] - 'a');
  return seconds;
}();

// Every word is at least this long: its first four bytes, with bit 0x20 set in each (a letter's lower
// case; other bytes may fold together, so this only rules words out), are compared in one go.
constexpr size_t kMinWordSize = 4;
constexpr uint32_t folded_four(const unsigned char* p) {
  return (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24) | 0x20202020u;
}
constexpr std::array<uint32_t, std::size(kSessionWords)> kFoldedFour = [] {
  std::array<uint32_t, std::size(kSessionWords)> four{};
  for (size_t k = 0; k < std::size(kSessionWords); ++k) {
    const std::string_view t = kSessionWords[k].text;
    if (t.size() < kMinWordSize) throw "a session word shorter than kMinWordSize";
    const unsigned char p[4] = {static_cast<unsigned char>(t[0]), static_cast<unsigned char>(t[1]),
                                static_cast<unsigned char>(t[2]), static_cast<unsigned char>(t[3])};
    four[k] = folded_four(p);
  }
  return four;
}();

bool begins_with_set_or_reset(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r')) ++i;
  auto word = [&](std::string_view w) {
    if (sql.size() - i <= w.size()) return false;
    for (size_t k = 0; k < w.size(); ++k)
      if ((sql[i + k] | 0x20) != w[k]) return false;
    const char next = sql[i + w.size()];
    return next == ' ' || next == '\t' || next == '\n' || next == '\r';
  };
  return word("set") || word("reset");
}

}  // namespace

SessionWords scan_session_words(std::string_view sql) {
  if (sql.size() < 2) return {};
  uint8_t found = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(sql.data());
  // The letters that would make a word start at the previous byte, carried from one byte to the next:
  // one table read each for the common byte that goes on no word.
  uint32_t wanted = kSecondLetters[bytes[0]];
  for (size_t i = 1; i < sql.size(); ++i) {
    const unsigned char b = bytes[i];
    if ((wanted & kLetterBit[b]) != 0 && sql.size() - (i - 1) >= kMinWordSize) [[unlikely]] {
      const size_t at = i - 1;
      const uint32_t four = folded_four(bytes + at);
      const LetterRange r = kWordsByLetter[static_cast<size_t>(letter_of(bytes[at]))];
      for (uint8_t k = r.begin; k < r.begin + r.count; ++k) {
        const SessionWord& w = kSessionWords[k];
        // Nothing it could add, too long for what is left, or another word (the four bytes rule out
        // nearly all): else compared letter by letter, exactly.
        if ((found | w.flags) == found || sql.size() - at < w.text.size() || four != kFoldedFour[k]) continue;
        size_t j = 1;
        while (j < w.text.size() && lower(sql[at + j]) == w.text[j]) ++j;
        if (j == w.text.size()) found |= w.flags;
      }
      if (found == kAllWords) break;
    }
    wanted = kSecondLetters[b];
  }
  return {(found & kLeaves) != 0, (found & kEnds) != 0, (found & kSetsConfig) != 0};
}

bool may_set_parameter(std::string_view sql, const SessionWords& words) {
  return words.sets_config || begins_with_set_or_reset(sql);
}

std::string_view kind_name(StatementKind kind) {
  switch (kind) {
    case StatementKind::Read: return "read";
    case StatementKind::Write: return "write";
    case StatementKind::Ddl: return "ddl";
    case StatementKind::TransactionBegin: return "transaction_begin";
    case StatementKind::TransactionEnd: return "transaction_end";
    case StatementKind::Savepoint: return "savepoint";
    case StatementKind::Set: return "set";
    case StatementKind::Show: return "show";
    case StatementKind::Utility: return "utility";
    case StatementKind::Empty: return "empty";
    case StatementKind::Unparsed: return "unparsed";
  }
  return "unknown";
}

bool is_write_kind(StatementKind kind) {
  return kind == StatementKind::Write || kind == StatementKind::Ddl || kind == StatementKind::Utility ||
         kind == StatementKind::Unparsed;
}

}  // namespace pgroute::router
