// The shard hash must put every key exactly where PostgreSQL 15's PARTITION BY HASH puts it.
// hash_vectors.tsv was produced by a real server (see make_hash_vectors.sh); the single-value constants
// below are outputs of PostgreSQL's SQL-callable hash*extended() functions with the partition seed.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "router/key_datum.hpp"
#include "router/key_type.hpp"
#include "router/shard_hash.hpp"

using namespace pgroute::router;

namespace {

std::filesystem::path vectors_path() {
  if (const char* env = std::getenv("PGROUTE_HASH_VECTORS")) return env;
  return std::filesystem::path(__FILE__).parent_path() / "hash_vectors.tsv";
}

struct Vector {
  std::string type;
  int modulus;
  std::string key;
  int remainder;
};

std::vector<Vector> load_vectors() {
  std::ifstream in(vectors_path(), std::ios::binary);
  std::vector<Vector> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // Split on exactly three tabs; the key itself may be empty or contain spaces.
    auto t1 = line.find('\t');
    auto t2 = line.find('\t', t1 + 1);
    auto t3 = line.rfind('\t');
    REQUIRE(t1 != std::string::npos);
    REQUIRE(t2 != std::string::npos);
    REQUIRE(t3 > t2 - 1);
    rows.push_back({line.substr(0, t1), std::stoi(line.substr(t1 + 1, t2 - t1 - 1)), line.substr(t2 + 1, t3 - t2 - 1),
                    std::stoi(line.substr(t3 + 1))});
  }
  return rows;
}

std::string big_endian(int64_t v, int width) {
  std::string out(static_cast<size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

// The binary Bind form of a key whose text form PostgreSQL printed.
std::string binary_form(KeyType type, const std::string& text) {
  auto datum = parse_key_text(type, text);
  REQUIRE(datum.has_value());
  switch (type) {
    case KeyType::Int2: return big_endian(datum->integer, 2);
    case KeyType::Int4: return big_endian(datum->integer, 4);
    case KeyType::Int8: return big_endian(datum->integer, 8);
    default: return datum->bytes;
  }
}

}  // namespace

TEST_CASE("every PostgreSQL-produced hash vector matches, text and binary") {
  auto rows = load_vectors();
  REQUIRE(rows.size() > 8000);
  std::map<std::string, int> checked;
  int mismatches = 0;
  for (const auto& row : rows) {
    auto type = parse_key_type(row.type);
    REQUIRE(type.has_value());
    auto hash = partition_hash(*type, row.key);
    REQUIRE_MESSAGE(hash.has_value(), row.type << " key '" << row.key << "' did not parse");
    int got = hash_remainder(*hash, row.modulus);
    if (got != row.remainder) {
      ++mismatches;
      if (mismatches < 20)
        FAIL_CHECK(row.type << " modulus " << row.modulus << " key '" << row.key << "': PostgreSQL " << row.remainder
                            << ", we " << got);
    }
    auto binary = partition_hash_binary(*type, binary_form(*type, row.key));
    REQUIRE(binary.has_value());
    CHECK(*binary == *hash);
    ++checked[row.type];
  }
  CHECK(mismatches == 0);
  // Every type and every modulus is present, with a few hundred keys each.
  for (auto name : {"int2", "int4", "int8", "text", "uuid"}) CHECK(checked[name] >= 1000);
}

TEST_CASE("type hashes equal PostgreSQL's hash*extended() with the partition seed") {
  constexpr uint64_t seed = kHashPartitionSeed;
  auto text_hash = [&](KeyType t, std::string_view v) { return key_hash_extended(*parse_key_text(t, v), seed); };
  CHECK(text_hash(KeyType::Int2, "-5") == 5466844944386338076ull);
  CHECK(text_hash(KeyType::Int4, "0") == static_cast<uint64_t>(-4403592609991167795ll));
  CHECK(text_hash(KeyType::Int4, "42") == 7363975540656877951ull);
  CHECK(text_hash(KeyType::Int8, "-9223372036854775808") == static_cast<uint64_t>(-6050265599104649060ll));
  CHECK(text_hash(KeyType::Int8, "4294967296") == 5968994663651403477ull);
  CHECK(text_hash(KeyType::Text, "") == static_cast<uint64_t>(-5700645584453517373ll));
  CHECK(text_hash(KeyType::Text, "hello world!") == static_cast<uint64_t>(-1886269529411655687ll));
  CHECK(text_hash(KeyType::Text, "日本語") == static_cast<uint64_t>(-8050275759738715173ll));
  CHECK(text_hash(KeyType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") == 424513190990560493ull);
  // Seed 0 skips the seeding step entirely (hashtextextended('abc', 0)).
  const unsigned char abc[] = {'a', 'b', 'c'};
  CHECK(pg_hash_bytes_extended(abc, 0) == static_cast<uint64_t>(-6747756470228489321ll));
}

TEST_CASE("row hash is the type hash folded into zero; remainder is modulo") {
  auto h = key_hash_extended(*parse_key_text(KeyType::Int4, "42"), kHashPartitionSeed);
  CHECK(partition_hash(KeyType::Int4, "42") == h + 0x49a0f4dd15e5a8e3ull);
  CHECK(hash_remainder(10, 3) == 1);
  CHECK(hash_remainder(~uint64_t{0}, 7) == static_cast<int>(~uint64_t{0} % 7));
  CHECK(hash_remainder(5, 0) == -1);
  CHECK(hash_remainder(kNullKeyPartitionHash, 5) == 0);
}

TEST_CASE("integer widths hash alike within range, as PostgreSQL's integer opfamily does") {
  for (auto v : {"0", "1", "-1", "32767", "-32768", "123"}) {
    CHECK(partition_hash(KeyType::Int2, v) == partition_hash(KeyType::Int4, v));
    CHECK(partition_hash(KeyType::Int4, v) == partition_hash(KeyType::Int8, v));
  }
  // A binary int4 parameter bound to a bigint key is sign-extended, not rejected.
  CHECK(partition_hash_binary(KeyType::Int8, big_endian(-7, 4)) == partition_hash(KeyType::Int8, "-7"));
  CHECK(partition_hash_binary(KeyType::Int2, big_endian(70000, 4)) == std::nullopt);
  CHECK(partition_hash_binary(KeyType::Int4, std::string(3, '\0')) == std::nullopt);
  CHECK(partition_hash_binary(KeyType::Uuid, std::string(15, '\0')) == std::nullopt);
}

TEST_CASE("text input follows PostgreSQL 15's rules") {
  CHECK(parse_key_text(KeyType::Int4, " 42 ")->integer == 42);
  CHECK(parse_key_text(KeyType::Int4, "+42")->integer == 42);
  CHECK(parse_key_text(KeyType::Int4, "-0")->integer == 0);
  CHECK(parse_key_text(KeyType::Int8, "-9223372036854775808")->integer == INT64_MIN);
  CHECK_FALSE(parse_key_text(KeyType::Int8, "9223372036854775808"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "2147483648"));
  CHECK_FALSE(parse_key_text(KeyType::Int2, "32768"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, ""));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "-"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "4 2"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "0x10"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "1_000"));
  CHECK_FALSE(parse_key_text(KeyType::Int4, "42.0"));

  const std::string canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
  for (auto form : {"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
                    "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
                    "a0eebc99-9c0b4ef8-bb6d-6bb9bd380a11"}) {
    auto datum = parse_key_text(KeyType::Uuid, form);
    REQUIRE_MESSAGE(datum.has_value(), form);
    CHECK(key_to_string(*datum) == canonical);
  }
  for (auto bad : {" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
                   "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                   "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", "a0eebc99", "", "{}",
                   "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})
    CHECK_MESSAGE(!parse_key_text(KeyType::Uuid, bad), bad);
}

TEST_CASE("key type names") {
  CHECK(parse_key_type("BIGINT") == KeyType::Int8);
  CHECK(parse_key_type("int8") == KeyType::Int8);
  CHECK(parse_key_type("integer") == KeyType::Int4);
  CHECK(parse_key_type("smallint") == KeyType::Int2);
  CHECK(parse_key_type("uuid") == KeyType::Uuid);
  CHECK(parse_key_type("text") == KeyType::Text);
  CHECK_FALSE(parse_key_type("numeric"));
  CHECK(key_type_name(KeyType::Int8) == "bigint");
}

TEST_CASE("range comparison orders values") {
  auto k = [](KeyType t, const char* v) { return *parse_key_text(t, v); };
  CHECK(compare_keys(k(KeyType::Int8, "-5"), k(KeyType::Int8, "3")) < 0);
  CHECK(compare_keys(k(KeyType::Int8, "3"), k(KeyType::Int8, "3")) == 0);
  CHECK(compare_keys(k(KeyType::Text, "b"), k(KeyType::Text, "a")) > 0);
  CHECK(compare_keys(k(KeyType::Text, "é"), k(KeyType::Text, "z")) > 0);  // bytes, unsigned
}
