// The connection lifecycle keys, read the same way under `pool:` and inside each backend mapping.
#include <limits>

#include "config/schema.hpp"

namespace pgroute::config {
namespace {

using Entry = SchemaReader::Entry;
using Field = SchemaReader::Field;

// A duration, or "off" (nullopt). Leaves target alone when the value is a problem.
void read_off_or_duration(SchemaReader& r, const Entry& e, Duration min, std::optional<Duration>& target) {
  if (e.value.IsScalar() && e.value.Scalar() == "off") {
    target.reset();
    return;
  }
  if (auto d = r.duration(e.value, e.path, min)) target = *d;
}

void read_connect_retry(SchemaReader& r, const Entry& section, Lifecycle& l) {
  Duration initial = l.connect_retry_initial, max = l.connect_retry_max;
  const Field fields[] = {
      {"initial", [&](const Entry& e) { assign(initial, r.duration(e.value, e.path, Duration(1))); }},
      {"max", [&](const Entry& e) { assign(max, r.duration(e.value, e.path, Duration(1))); }},
  };
  r.read_fields(section.value, section.path, fields);
  if (initial > max) {
    r.report(section.value.Mark(), section.path,
             "initial back-off (" + std::to_string(initial.count()) + "ms) must not exceed max (" +
                 std::to_string(max.count()) + "ms)");
    return;
  }
  l.connect_retry_initial = initial;
  l.connect_retry_max = max;
}

}  // namespace

std::vector<SchemaReader::Field> lifecycle_fields(SchemaReader& r, Lifecycle& l) {
  return {
      {"min_size",
       [&r, &l](const Entry& e) {
         assign(l.min_size, r.integer(e.value, e.path, 0, std::numeric_limits<int>::max()));
       }},
      {"max_lifetime", [&r, &l](const Entry& e) { read_off_or_duration(r, e, Duration(1), l.max_lifetime); }},
      {"idle_timeout", [&r, &l](const Entry& e) { read_off_or_duration(r, e, Duration(1), l.idle_timeout); }},
      {"check_after", [&r, &l](const Entry& e) { read_off_or_duration(r, e, Duration(0), l.check_after); }},
      {"recycle_margin", [&r, &l](const Entry& e) { read_off_or_duration(r, e, Duration(0), l.recycle_margin); }},
      {"health_check_interval",
       [&r, &l](const Entry& e) { assign(l.health_check_interval, r.duration(e.value, e.path, Duration(1))); }},
      {"connect_retry", [&r, &l](const Entry& e) { read_connect_retry(r, e, l); }},
  };
}

void check_min_size(SchemaReader& r, const Entry& min_size_entry, int min_size, int size) {
  if (min_size > size)
    r.report(min_size_entry.value.Mark(), min_size_entry.path,
             "must not exceed the pool size (" + std::to_string(size) + "), got " + std::to_string(min_size));
}

}  // namespace pgroute::config
