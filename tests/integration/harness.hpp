// Everything an integration test needs: processes, scratch dirs, libpq connections, shared
// PostgreSQL clusters, the proxy process and a raw protocol client.
#pragma once

#include <doctest/doctest.h>

#include "pg_cluster.hpp"
#include "pg_conn.hpp"
#include "process.hpp"
#include "proxy_process.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"

