// Compares DataRows by a SELECT's ORDER BY (router/result_order.hpp), so rows that several shards each
// sorted can be merged into one sorted stream. Only types whose order outside PostgreSQL is certain:
// integers, floats, numeric, bool, uuid, date/time/timestamp (ISO DateStyle), and text with COLLATE "C".
// Pure: RowDescription and DataRow bodies in.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "router/result_order.hpp"

namespace pgroute {

class RowOrder {
 public:
  // Resolves `keys` against the result's RowDescription body. "" when ready, else why the proxy cannot
  // order these rows (naming the column). iso_dates: the session's DateStyle starts with ISO.
  std::string prepare(std::string_view row_description, const std::vector<router::SortKey>& keys, bool iso_dates);
  // Whether DataRow body `a` sorts before `b` (false for ties: the merge keeps shard order).
  bool before(std::string_view a, std::string_view b) const;

 private:
  enum class Type { integer, floating, numeric, boolean, bytes };
  struct Key {
    size_t column;
    Type type;
    bool binary;
    bool descending, nulls_first;
  };
  int compare(const Key& k, std::string_view a, bool a_null, std::string_view b, bool b_null) const;
  std::vector<Key> keys_;
};

// -1, 0, 1 as PostgreSQL orders numeric text values ("-1.50", "NaN", "Infinity"; NaN above everything).
int compare_numeric_text(std::string_view a, std::string_view b);

}  // namespace pgroute
