// Numbers as people write them in the config file: integers, durations and byte sizes.
// All parsers are strict (the whole text must match) and overflow-checked; nullopt = not valid.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgroute::config {

// Decimal with an optional leading '-': "42", "-3".
std::optional<int64_t> parse_integer(std::string_view text);

// "500ms", "5s", "2m", "1h", or a plain integer meaning seconds ("30"). Space before the unit is
// allowed ("5 s"). Negative values are not durations.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "512kB", "64MB", "1GB", "1GiB", "100B", or a plain integer meaning bytes. As in PostgreSQL,
// kB/KB, MB and GB are powers of 1024 (so "64MB" == "64MiB").
std::optional<uint64_t> parse_byte_size(std::string_view text);

}  // namespace pgroute::config
