#pragma once
// SCRAM-SHA-256 for both directions of the proxy: the stored secret and its PostgreSQL
// verifier text, ScramServer (checking clients) and ScramClient (logging in to servers).

#include "proxy/auth/scram_client.hpp"
#include "proxy/auth/scram_secret.hpp"
#include "proxy/auth/scram_server.hpp"
