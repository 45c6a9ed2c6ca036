// 17. Large objects: libpq's lo_* calls use the FunctionCall message inside a transaction.
#include <libpq/libpq-fs.h>

#include "harness.hpp"

using namespace pgroute::it;

TEST_CASE("proxy: large objects via FunctionCall (lo_creat, lo_write, lo_read)") {
  Proxy proxy(default_proxy_config());
  Conn c = proxy.connect();

  std::string data;
  for (int i = 0; data.size() < 200 * 1024; ++i) data += "chunk " + std::to_string(i) + ";";

  c.exec("BEGIN");
  const Oid oid = lo_creat(c.raw(), INV_READ | INV_WRITE);
  INFO(PQerrorMessage(c.raw()));
  REQUIRE(oid != InvalidOid);
  int fd = lo_open(c.raw(), oid, INV_READ | INV_WRITE);
  REQUIRE(fd >= 0);
  CHECK(lo_write(c.raw(), fd, data.data(), data.size()) == static_cast<int>(data.size()));
  CHECK(lo_lseek(c.raw(), fd, 0, SEEK_SET) == 0);
  std::string back(data.size(), '\0');
  CHECK(lo_read(c.raw(), fd, back.data(), back.size()) == static_cast<int>(data.size()));
  CHECK(back == data);
  CHECK(lo_close(c.raw(), fd) == 0);
  c.exec("COMMIT");

  // A later transaction (possibly on another server connection) reads it back.
  c.exec("BEGIN");
  fd = lo_open(c.raw(), oid, INV_READ);
  REQUIRE(fd >= 0);
  std::string again(data.size(), '\0');
  CHECK(lo_read(c.raw(), fd, again.data(), again.size()) == static_cast<int>(data.size()));
  CHECK(again == data);
  CHECK(lo_close(c.raw(), fd) == 0);
  c.exec("COMMIT");

  Conn direct(first_cluster().params(kAppUser, kAppPassword));
  CHECK(direct.scalar("SELECT length(lo_get(" + std::to_string(oid) + "))") == std::to_string(data.size()));

  c.exec("BEGIN");
  CHECK(lo_unlink(c.raw(), oid) == 1);
  c.exec("COMMIT");
  CHECK(direct.scalar("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = " + std::to_string(oid)) == "0");
}
