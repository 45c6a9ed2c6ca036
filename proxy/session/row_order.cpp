#include "proxy/session/row_order.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace pgroute {
namespace {

// Big-endian readers over a cursor; false when the bytes run out.
struct Cursor {
  std::string_view rest;
  bool u16(uint16_t& v) {
    if (rest.size() < 2) return false;
    v = static_cast<uint16_t>((static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]));
    rest.remove_prefix(2);
    return true;
  }
  bool i32(int32_t& v) {
    if (rest.size() < 4) return false;
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u = (u << 8) | static_cast<uint8_t>(rest[i]);
    v = static_cast<int32_t>(u);
    rest.remove_prefix(4);
    return true;
  }
  bool cstring(std::string_view& s) {
    size_t end = rest.find('\0');
    if (end == std::string_view::npos) return false;
    s = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    return true;
  }
  bool skip(size_t n) {
    if (rest.size() < n) return false;
    rest.remove_prefix(n);
    return true;
  }
};

struct Field {
  std::string_view name;
  uint32_t type = 0;
  int16_t format = 0;
};

bool parse_row_description(std::string_view body, std::vector<Field>& fields) {
  Cursor c{body};
  uint16_t n = 0;
  if (!c.u16(n)) return false;
  for (uint16_t i = 0; i < n; ++i) {
    Field f;
    int32_t type = 0;
    uint16_t format = 0;
    if (!c.cstring(f.name) || !c.skip(6) || !c.i32(type) || !c.skip(6) || !c.u16(format)) return false;
    f.type = static_cast<uint32_t>(type);
    f.format = static_cast<int16_t>(format);
    fields.push_back(f);
  }
  return true;
}

// Column `index` of a DataRow body; nullopt if malformed, null set for SQL NULL.
std::optional<std::string_view> column_of(std::string_view row, size_t index, bool& null) {
  Cursor c{row};
  uint16_t n = 0;
  if (!c.u16(n) || index >= n) return std::nullopt;
  for (size_t i = 0;; ++i) {
    int32_t len = 0;
    if (!c.i32(len)) return std::nullopt;
    null = len < 0;
    size_t size = null ? 0 : static_cast<size_t>(len);
    if (c.rest.size() < size) return std::nullopt;
    if (i == index) return c.rest.substr(0, size);
    c.rest.remove_prefix(size);
  }
}

template <typename T>
int three_way(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int64_t binary_int(std::string_view v) {
  uint64_t u = 0;
  for (unsigned char ch : v) u = (u << 8) | ch;
  int bits = static_cast<int>(v.size()) * 8;
  if (bits > 0 && bits < 64 && (u >> (bits - 1)) & 1) u |= ~uint64_t{0} << bits;  // sign-extend
  return static_cast<int64_t>(u);
}

double binary_float(std::string_view v) {
  if (v.size() == 4) {
    uint32_t u = static_cast<uint32_t>(binary_int(v));
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  uint64_t u = static_cast<uint64_t>(binary_int(v));
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

double text_float(std::string_view v) {
  double d = 0;
  std::from_chars(v.data(), v.data() + v.size(), d);  // also "Infinity", "-Infinity", "NaN"
  return d;
}

// PostgreSQL sorts NaN above every other value, and NaN equal to NaN.
int compare_floats(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) == std::isnan(b) ? 0 : (std::isnan(a) ? 1 : -1);
  return three_way(a, b);
}

int compare_bytes(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

int compare_numeric_text(std::string_view a, std::string_view b) {
  // Rank: -Infinity < finite < Infinity < NaN.
  auto rank = [](std::string_view v) { return v == "-Infinity" ? 0 : v == "Infinity" ? 2 : v == "NaN" ? 3 : 1; };
  int ra = rank(a), rb = rank(b);
  if (ra != rb || ra != 1) return three_way(ra, rb);
  bool neg_a = !a.empty() && a[0] == '-', neg_b = !b.empty() && b[0] == '-';
  if (neg_a) a.remove_prefix(1);
  if (neg_b) b.remove_prefix(1);
  auto split = [](std::string_view v, std::string_view& whole, std::string_view& frac) {
    size_t dot = v.find('.');
    whole = v.substr(0, dot);
    frac = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
    while (whole.size() > 1 && whole[0] == '0') whole.remove_prefix(1);
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  };
  std::string_view wa, fa, wb, fb;
  split(a, wa, fa);
  split(b, wb, fb);
  bool zero_a = (wa.empty() || wa == "0") && fa.empty(), zero_b = (wb.empty() || wb == "0") && fb.empty();
  if (zero_a) neg_a = false;
  if (zero_b) neg_b = false;
  if (neg_a != neg_b) return neg_a ? -1 : 1;
  int magnitude = wa.size() != wb.size() ? three_way(wa.size(), wb.size()) : compare_bytes(wa, wb);
  if (magnitude == 0) magnitude = compare_bytes(fa, fb);  // trailing zeros gone: bytewise is numeric order
  return neg_a ? -magnitude : magnitude;
}

std::string RowOrder::prepare(std::string_view row_description, const std::vector<router::SortKey>& keys,
                              bool iso_dates) {
  keys_.clear();
  std::vector<Field> fields;
  if (!parse_row_description(row_description, fields)) return "the RowDescription is malformed";
  for (const auto& k : keys) {
    size_t column = 0;
    if (k.position > 0) {
      if (static_cast<size_t>(k.position) > fields.size())
        return "ORDER BY position " + std::to_string(k.position) + " is not in the select list";
      column = static_cast<size_t>(k.position) - 1;
    } else {
      auto it = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == k.column; });
      if (it == fields.end())
        return "ORDER BY " + k.column + " is not a column of the result (add it to the select list)";
      if (std::count_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == k.column; }) > 1)
        return "ORDER BY " + k.column + " names several columns of the result";
      column = static_cast<size_t>(it - fields.begin());
    }
    const Field& f = fields[column];
    bool binary = f.format == 1;
    Type type;
    switch (f.type) {
      case 20:
      case 21:
      case 23: type = Type::integer; break;                         // int8, int2, int4
      case 26: type = binary ? Type::bytes : Type::integer; break;  // oid: unsigned, big-endian in binary
      case 700:
      case 701: type = Type::floating; break;  // float4, float8
      case 1700:                               // numeric
        if (binary) return "ORDER BY " + std::string(f.name) + ": numeric in binary format is not merged";
        type = Type::numeric;
        break;
      case 16: type = Type::boolean; break;
      case 2950: type = Type::bytes; break;  // uuid: text is lower-case hex, binary the 16 bytes; both in order
      case 1082:
      case 1083:
      case 1114:  // date, time, timestamp
        if (!binary && !iso_dates)
          return "ORDER BY " + std::string(f.name) + ": dates are compared as text only with DateStyle ISO";
        type = binary ? Type::integer : Type::bytes;
        break;
      case 25:
      case 1043:
      case 1042:
      case 19:  // text, varchar, bpchar, name
        if (!k.c_collation)
          return "ORDER BY " + std::string(f.name) + ": text order depends on the collation; write ORDER BY " +
                 std::string(f.name) + " COLLATE \"C\" to merge it byte by byte";
        type = Type::bytes;
        break;
      default:
        return "ORDER BY " + std::string(f.name) + ": its type (oid " + std::to_string(f.type) +
               ") is not one the proxy can order";
    }
    keys_.push_back({column, type, binary, k.descending, k.nulls_first});
  }
  return {};
}

int RowOrder::compare(const Key& k, std::string_view a, bool a_null, std::string_view b, bool b_null) const {
  if (a_null || b_null) {
    if (a_null && b_null) return 0;
    // NULL sorts after non-NULL unless NULLS FIRST; `descending` is undone by the caller, so pre-flip.
    int null_last = a_null ? 1 : -1;
    bool nulls_at_end = !k.nulls_first;
    int placed = nulls_at_end ? null_last : -null_last;
    return k.descending ? -placed : placed;
  }
  switch (k.type) {
    case Type::integer:
      if (k.binary) return three_way(binary_int(a), binary_int(b));
      {
        int64_t x = 0, y = 0;
        std::from_chars(a.data(), a.data() + a.size(), x);
        std::from_chars(b.data(), b.data() + b.size(), y);
        return three_way(x, y);
      }
    case Type::floating:
      return compare_floats(k.binary ? binary_float(a) : text_float(a), k.binary ? binary_float(b) : text_float(b));
    case Type::numeric: return compare_numeric_text(a, b);
    case Type::boolean: {
      auto truth = [&](std::string_view v) { return k.binary ? (!v.empty() && v[0] != 0) : (v == "t"); };
      return three_way(truth(a), truth(b));
    }
    case Type::bytes: return compare_bytes(a, b);
  }
  return 0;
}

bool RowOrder::before(std::string_view a, std::string_view b) const {
  for (const Key& k : keys_) {
    bool a_null = false, b_null = false;
    auto va = column_of(a, k.column, a_null);
    auto vb = column_of(b, k.column, b_null);
    if (!va || !vb) return false;
    int c = compare(k, *va, a_null, *vb, b_null);
    if (k.descending) c = -c;
    if (c != 0) return c < 0;
  }
  return false;
}

}  // namespace pgroute
