#pragma once
// Which partition PostgreSQL's PARTITION BY HASH (key) puts a value in, computed without a server.
//
// For one partition key column PostgreSQL computes the type's 64-bit "extended" hash of the value with a
// fixed seed, folds it into a zero row hash with its 64-bit hash combiner, and takes the remainder modulo
// the partition modulus. partition_hash() returns that row hash; hash_remainder() the remainder.
// tests/unit/router/hash_vectors.tsv holds remainders a real PostgreSQL 15 chose; every row must agree.
//
// Limits: one key column; text hashed as its bytes (deterministic collations only, UTF-8 database);
// results match little-endian servers (x86-64, arm64), as PostgreSQL's byte hash reads words natively.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "router/key_datum.hpp"
#include "router/key_type.hpp"

namespace pgroute::router {

// The seed PostgreSQL passes to every extended hash function when partitioning by hash.
inline constexpr uint64_t kHashPartitionSeed = 0x7A5B22367996DCFDull;

// Row hash of a value given in text form (SQL literal or Bind text format); nullopt if the text is not
// a valid value of the type.
std::optional<uint64_t> partition_hash(KeyType type, std::string_view text_value);

// Row hash of a Bind parameter sent in binary format; nullopt if the bytes are not a valid value.
std::optional<uint64_t> partition_hash_binary(KeyType type, std::string_view raw);

// Row hash of an already decoded value.
uint64_t partition_hash(const KeyDatum& datum);

// Row hash of a NULL key: PostgreSQL skips NULL columns, leaving the row hash at 0 (remainder 0).
inline constexpr uint64_t kNullKeyPartitionHash = 0;

// The remainder PostgreSQL compares with each partition's REMAINDER; -1 if modulus < 1.
int hash_remainder(uint64_t hash, int modulus);

// The building blocks, exposed so tests can compare them with PostgreSQL's SQL-callable
// hashint4extended(), hashint8extended(), hashtextextended() and uuid_hash_extended().
uint64_t pg_hash_bytes_extended(std::span<const unsigned char> bytes, uint64_t seed);
uint64_t pg_hash_uint32_extended(uint32_t value, uint64_t seed);
uint64_t key_hash_extended(const KeyDatum& datum, uint64_t seed);
uint64_t pg_hash_combine64(uint64_t a, uint64_t b);

}  // namespace pgroute::router
