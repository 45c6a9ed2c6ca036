#include "router/shard_hash.hpp"

namespace pgroute::router {
namespace {

// PostgreSQL's extended hashes are Bob Jenkins' lookup3 mixing (public domain design): three 32-bit
// lanes stirred by mix() per 12-byte block and by final() at the end, with the 64-bit seed folded into
// the initial state. Written here from the published algorithm; the vectors file is the proof.
struct Lanes {
  uint32_t a, b, c;
};

constexpr uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void mix(Lanes& s) {
  s.a -= s.c;
  s.a ^= rotl(s.c, 4);
  s.c += s.b;
  s.b -= s.a;
  s.b ^= rotl(s.a, 6);
  s.a += s.c;
  s.c -= s.b;
  s.c ^= rotl(s.b, 8);
  s.b += s.a;
  s.a -= s.c;
  s.a ^= rotl(s.c, 16);
  s.c += s.b;
  s.b -= s.a;
  s.b ^= rotl(s.a, 19);
  s.a += s.c;
  s.c -= s.b;
  s.c ^= rotl(s.b, 4);
  s.b += s.a;
}

void final_mix(Lanes& s) {
  s.c ^= s.b;
  s.c -= rotl(s.b, 14);
  s.a ^= s.c;
  s.a -= rotl(s.c, 11);
  s.b ^= s.a;
  s.b -= rotl(s.a, 25);
  s.c ^= s.b;
  s.c -= rotl(s.b, 16);
  s.a ^= s.c;
  s.a -= rotl(s.c, 4);
  s.b ^= s.a;
  s.b -= rotl(s.a, 14);
  s.c ^= s.b;
  s.c -= rotl(s.b, 24);
}

Lanes seeded_start(uint32_t length, uint64_t seed) {
  const uint32_t init = 0x9e3779b9u + length + 3923095u;
  Lanes s{init, init, init};
  if (seed != 0) {
    s.a += static_cast<uint32_t>(seed >> 32);
    s.b += static_cast<uint32_t>(seed);
    mix(s);
  }
  return s;
}

uint64_t result_of(const Lanes& s) { return (uint64_t{s.b} << 32) | s.c; }

uint32_t load_le32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// int8's hash folds the high half into the low one so that values fitting in int4 hash like int4 does
// (cross-type hash opfamily); for negatives the high half is all ones, hence the complement.
uint32_t fold_int8(int64_t value) {
  auto bits = static_cast<uint64_t>(value);
  auto low = static_cast<uint32_t>(bits);
  auto high = static_cast<uint32_t>(bits >> 32);
  return low ^ (value >= 0 ? high : ~high);
}

}  // namespace

uint64_t pg_hash_bytes_extended(std::span<const unsigned char> bytes, uint64_t seed) {
  Lanes s = seeded_start(static_cast<uint32_t>(bytes.size()), seed);
  const unsigned char* p = bytes.data();
  size_t left = bytes.size();
  for (; left >= 12; p += 12, left -= 12) {
    s.a += load_le32(p);
    s.b += load_le32(p + 4);
    s.c += load_le32(p + 8);
    mix(s);
  }
  // Tail: bytes 0-3 go to a, 4-7 to b, 8-10 to c one byte up (c's low byte was meant for the length).
  switch (left) {
    case 11: s.c += uint32_t{p[10]} << 24; [[fallthrough]];
    case 10: s.c += uint32_t{p[9]} << 16; [[fallthrough]];
    case 9: s.c += uint32_t{p[8]} << 8; [[fallthrough]];
    case 8: s.b += uint32_t{p[7]} << 24; [[fallthrough]];
    case 7: s.b += uint32_t{p[6]} << 16; [[fallthrough]];
    case 6: s.b += uint32_t{p[5]} << 8; [[fallthrough]];
    case 5: s.b += p[4]; [[fallthrough]];
    case 4: s.a += uint32_t{p[3]} << 24; [[fallthrough]];
    case 3: s.a += uint32_t{p[2]} << 16; [[fallthrough]];
    case 2: s.a += uint32_t{p[1]} << 8; [[fallthrough]];
    case 1: s.a += p[0]; break;
    default: break;
  }
  final_mix(s);
  return result_of(s);
}

uint64_t pg_hash_uint32_extended(uint32_t value, uint64_t seed) {
  Lanes s = seeded_start(sizeof(uint32_t), seed);
  s.a += value;
  final_mix(s);
  return result_of(s);
}

uint64_t pg_hash_combine64(uint64_t a, uint64_t b) {
  a ^= b + 0x49a0f4dd15e5a8e3ull + (a << 54) + (a >> 7);
  return a;
}

uint64_t key_hash_extended(const KeyDatum& datum, uint64_t seed) {
  switch (datum.type) {
    case KeyType::Int2:
    case KeyType::Int4:
      return pg_hash_uint32_extended(static_cast<uint32_t>(static_cast<int32_t>(datum.integer)), seed);
    case KeyType::Int8: return pg_hash_uint32_extended(fold_int8(datum.integer), seed);
    case KeyType::Text:
    case KeyType::Uuid: {
      const auto* data = reinterpret_cast<const unsigned char*>(datum.bytes.data());
      return pg_hash_bytes_extended({data, datum.bytes.size()}, seed);
    }
  }
  return 0;
}

uint64_t partition_hash(const KeyDatum& datum) {
  // The row hash starts at 0 and absorbs each non-NULL key column in turn; we have one column.
  return pg_hash_combine64(0, key_hash_extended(datum, kHashPartitionSeed));
}

std::optional<uint64_t> partition_hash(KeyType type, std::string_view text_value) {
  auto datum = parse_key_text(type, text_value);
  if (!datum) return std::nullopt;
  return partition_hash(*datum);
}

std::optional<uint64_t> partition_hash_binary(KeyType type, std::string_view raw) {
  auto datum = parse_key_binary(type, raw);
  if (!datum) return std::nullopt;
  return partition_hash(*datum);
}

int hash_remainder(uint64_t hash, int modulus) {
  if (modulus < 1) return -1;
  return static_cast<int>(hash % static_cast<uint64_t>(modulus));
}

}  // namespace pgroute::router
