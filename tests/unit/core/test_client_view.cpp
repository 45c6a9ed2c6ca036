// ClientView: what ParameterStatus values a client has seen, shared among sessions that saw the same.
#include <doctest/doctest.h>

#include "proxy/session/client_view.hpp"

using pgroute::ClientView;
using pgroute::ClientViews;

TEST_CASE("client view: a value is news once, and again when it changes") {
  ClientView view;
  CHECK(view.changes("TimeZone", "UTC"));
  CHECK_FALSE(view.changes("TimeZone", "UTC"));
  CHECK(view.changes("DateStyle", "ISO, MDY"));
  CHECK(view.changes("TimeZone", "Europe/Paris"));
  CHECK_FALSE(view.changes("TimeZone", "Europe/Paris"));
  CHECK(view.size() == 2);
}

TEST_CASE("client view: sessions that saw the same values share one copy, and a change unshares only its own") {
  ClientViews views;
  ClientView a, b, c;
  for (ClientView* v : {&a, &b, &c}) {
    v->changes("TimeZone", "UTC");
    v->changes("client_encoding", "UTF8");
  }
  c.changes("application_name", "reports");  // c saw one more value: nothing to share with a and b
  a.intern(views);
  b.intern(views);
  c.intern(views);
  CHECK(a.shares_with(b));
  CHECK_FALSE(a.shares_with(c));
  // b's client is told a new TimeZone: b gets its own copy; a still has what its client saw.
  CHECK(b.changes("TimeZone", "Asia/Tokyo"));
  CHECK_FALSE(a.shares_with(b));
  CHECK_FALSE(a.changes("TimeZone", "UTC"));
  CHECK(a.changes("TimeZone", "Asia/Tokyo"));
  CHECK_FALSE(b.changes("TimeZone", "Asia/Tokyo"));
}

TEST_CASE("client view: interning keeps a bounded number of views, however many distinct ones come") {
  ClientViews views;
  std::vector<ClientView> distinct(100);
  for (size_t i = 0; i < distinct.size(); ++i) {
    distinct[i].changes("application_name", "client " + std::to_string(i));
    distinct[i].intern(views);
  }
  // The latest ones are still offered: a newcomer equal to the last shares it.
  ClientView again;
  again.changes("application_name", "client 99");
  again.intern(views);
  CHECK(again.shares_with(distinct[99]));
  // An early one fell out of the kept set: an equal newcomer keeps its own copy (correct, only unshared).
  ClientView early;
  early.changes("application_name", "client 0");
  early.intern(views);
  CHECK_FALSE(early.shares_with(distinct[0]));
}
