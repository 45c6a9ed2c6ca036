// deallocated_name: the statement a query that is one SQL DEALLOCATE names, as PostgreSQL reads it.
#include <doctest/doctest.h>

#include "proxy/session/deallocate_name.hpp"

using namespace pgroute;

TEST_CASE("deallocated_name: one DEALLOCATE [PREPARE] of a name, folded or quoted") {
  CHECK(deallocated_name("DEALLOCATE s1") == "s1");
  CHECK(deallocated_name("  deallocate prepare S1 ;  ") == "s1");
  CHECK(deallocated_name("DEALLOCATE \"My \"\"Stmt\"\"\"") == "My \"Stmt\"");
  CHECK(deallocated_name("DEALLOCATE PREPARE stmtcache_0f1e2d") == "stmtcache_0f1e2d");
  CHECK(deallocated_name("DEALLOCATE prepare_me") == "prepare_me");  // a name that begins like a keyword
  CHECK_FALSE(deallocated_name("DEALLOCATE ALL"));
  CHECK_FALSE(deallocated_name("deallocate prepare all;"));
  CHECK_FALSE(deallocated_name("DEALLOCATE a; DEALLOCATE b"));  // not one statement
  CHECK_FALSE(deallocated_name("DEALLOCATE \"unterminated"));
  CHECK_FALSE(deallocated_name("DEALLOCATE"));
  CHECK_FALSE(deallocated_name("DEALLOCATEs1"));
  CHECK_FALSE(deallocated_name("SELECT 'DEALLOCATE s1'"));
  CHECK_FALSE(deallocated_name(""));
}
