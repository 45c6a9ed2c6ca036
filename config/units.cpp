#include "config/units.hpp"

#include <array>
#include <limits>
#include <utility>

namespace pgroute::config {
namespace {

using Unit = std::pair<std::string_view, uint64_t>;  // suffix, multiplier

constexpr std::array<Unit, 4> kDurationUnits = {{{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
constexpr std::array<Unit, 8> kSizeUnits = {{{"B", 1},
                                             {"kB", 1ull << 10},
                                             {"KB", 1ull << 10},
                                             {"KiB", 1ull << 10},
                                             {"MB", 1ull << 20},
                                             {"MiB", 1ull << 20},
                                             {"GB", 1ull << 30},
                                             {"GiB", 1ull << 30}}};

struct NumberAndSuffix {
  uint64_t number = 0;
  std::string_view suffix;
};

// Leading digits (at least one, no overflow), optional spaces, then the rest as the suffix.
std::optional<NumberAndSuffix> split_number(std::string_view text) {
  size_t i = 0;
  uint64_t number = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    number = number * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  size_t digits_end = i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i == text.size() && i != digits_end) return std::nullopt;  // trailing spaces, no unit
  return NumberAndSuffix{number, text.substr(i)};
}

template <size_t N>
std::optional<uint64_t> scaled(std::string_view text, const std::array<Unit, N>& units, uint64_t plain_multiplier) {
  auto parsed = split_number(text);
  if (!parsed) return std::nullopt;
  uint64_t multiplier = 0;
  if (parsed->suffix.empty()) multiplier = plain_multiplier;
  for (const auto& [suffix, value] : units)
    if (parsed->suffix == suffix) multiplier = value;
  if (multiplier == 0) return std::nullopt;
  if (parsed->number > std::numeric_limits<uint64_t>::max() / multiplier) return std::nullopt;
  return parsed->number * multiplier;
}

}  // namespace

std::optional<int64_t> parse_integer(std::string_view text) {
  bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  uint64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (magnitude > (kMax - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  int64_t value = static_cast<int64_t>(magnitude);
  return negative ? -value : value;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto ms = scaled(text, kDurationUnits, 1000);
  if (!ms || *ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

std::optional<uint64_t> parse_byte_size(std::string_view text) { return scaled(text, kSizeUnits, 1); }

}  // namespace pgroute::config
