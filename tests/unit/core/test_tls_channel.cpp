// TlsChannel without sockets: two channels, pgroute's server end and its backend (client) end, joined by
// handing each one's output to the other. What the session relies on: read() returns everything the fed
// ciphertext decrypts to, however the bytes were cut (read-ahead must not leave any behind), and no
// record is half-read after release_buffers().
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "proxy/io/tls_channel.hpp"

using pgroute::ReadBuffer;
using pgroute::TlsChannel;

namespace {

// A throwaway P-256 key and a self-signed certificate for "localhost", as PEM files in a temp dir.
struct SelfSigned {
  std::filesystem::path dir, cert, key;

  SelfSigned() {
    char pattern[] = "/tmp/pgroute-tls-unit-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    cert = dir / "server.crt";
    key = dir / "server.key";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    REQUIRE(pkey != nullptr);
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    REQUIRE(X509_sign(x, pkey, EVP_sha256()) > 0);
    FILE* f = std::fopen(cert.c_str(), "w");
    REQUIRE(f != nullptr);
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key.c_str(), "w");
    REQUIRE(f != nullptr);
    PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    std::filesystem::permissions(key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    X509_free(x);
    EVP_PKEY_free(pkey);
  }
  ~SelfSigned() { std::filesystem::remove_all(dir); }
};

// pgroute's two ends of TLS, handshaken with each other.
struct Pair {
  SelfSigned files;
  std::unique_ptr<TlsChannel> server, client;

  Pair() {
    pgroute::config::Tls tls;
    tls.cert = files.cert;
    tls.key = files.key;
    tls.mode = pgroute::config::Tls::Mode::require;
    std::string error;
    auto server_ctx = pgroute::TlsContext::load(tls, error);
    REQUIRE_MESSAGE(server_ctx, error);
    pgroute::config::Backend backend;
    backend.alias = "unit";
    backend.sslmode = pgroute::config::SslMode::require;
    auto client_ctx = pgroute::BackendTlsContext::load(backend, error);
    REQUIRE_MESSAGE(client_ctx, error);
    server = std::make_unique<TlsChannel>(server_ctx);
    client = std::make_unique<TlsChannel>(client_ctx, "localhost");
    // Each flight to the other side until both are done (TLS 1.3: three flights).
    bool client_done = false, server_done = false;
    for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
      std::string to_server, to_client;
      if (!client_done) {
        const auto st = client->handshake(to_server);
        REQUIRE_MESSAGE(st != TlsChannel::Status::failed, client->error());
        client_done = st == TlsChannel::Status::ok;
      }
      server->feed(to_server);
      if (!server_done) {
        const auto st = server->handshake(to_client);
        REQUIRE_MESSAGE(st != TlsChannel::Status::failed, server->error());
        server_done = st == TlsChannel::Status::ok;
      }
      client->feed(to_client);
    }
    REQUIRE(client_done);
    REQUIRE(server_done);
  }
};

std::string text_of(ReadBuffer& in) {
  std::string s(in.view());
  in.consume(in.size());
  return s;
}

std::string records(TlsChannel& from, const std::string& plain) {
  std::string cipher;
  REQUIRE(from.write(plain, cipher));
  return cipher;
}

}  // namespace

TEST_CASE("tls channel: a message written right behind the handshake is read whole") {
  Pair p;
  ReadBuffer in;
  p.server->feed(records(*p.client, "startup packet"));
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "startup packet");
}

TEST_CASE("tls channel: several records fed at once all come out of one read") {
  Pair p;
  std::string cipher;
  for (int i = 0; i < 5; ++i) cipher += records(*p.client, "message " + std::to_string(i) + ";");
  p.server->feed(cipher);
  ReadBuffer in;
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "message 0;message 1;message 2;message 3;message 4;");
}

TEST_CASE("tls channel: a record fed a byte at a time comes out once it is whole, and only then") {
  Pair p;
  const std::string cipher = records(*p.client, "SELECT 1");
  ReadBuffer in;
  for (size_t i = 0; i + 1 < cipher.size(); ++i) {
    p.server->feed(cipher.substr(i, 1));
    REQUIRE(p.server->read(in) == TlsChannel::Status::ok);
    REQUIRE(in.size() == 0);
  }
  p.server->feed(cipher.substr(cipher.size() - 1));
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "SELECT 1");
}

TEST_CASE("tls channel: a record and a half: the whole one now, the rest when it completes") {
  Pair p;
  const std::string first = records(*p.client, "first");
  const std::string second = records(*p.client, "second");
  const size_t cut = second.size() / 2;
  ReadBuffer in;
  p.server->feed(first + second.substr(0, cut));
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "first");
  p.server->feed(second.substr(cut));
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "second");
}

TEST_CASE("tls channel: data and close_notify in one feed: the data is read, then closed") {
  Pair p;
  std::string cipher = records(*p.client, "Terminate");
  p.client->close_notify(cipher);
  p.server->feed(cipher);
  ReadBuffer in;
  CHECK(p.server->read(in) == TlsChannel::Status::closed);
  CHECK(p.server->peer_closed());
  CHECK(text_of(in) == "Terminate");
}

TEST_CASE("tls channel: a result larger than a record goes as several and comes back whole") {
  Pair p;
  std::string big;
  for (int i = 0; big.size() < 100 * 1024; ++i) big += "row " + std::to_string(i) + "\n";
  const std::string cipher = records(*p.server, big);
  CHECK(cipher.size() > big.size());
  ReadBuffer in;
  // As a socket delivers it: in reads of at most kReadSize.
  for (size_t at = 0; at < cipher.size(); at += TlsChannel::kReadSize) {
    p.client->feed(std::string_view(cipher).substr(at, TlsChannel::kReadSize));
    REQUIRE(p.client->read(in) == TlsChannel::Status::ok);
  }
  CHECK(text_of(in) == big);
}

TEST_CASE("tls channel: buffers released between messages (a parked client) are made again") {
  Pair p;
  ReadBuffer in;
  for (int i = 0; i < 3; ++i) {
    p.server->release_buffers();
    p.client->release_buffers();
    p.server->feed(records(*p.client, "query " + std::to_string(i)));
    REQUIRE(p.server->read(in) == TlsChannel::Status::ok);
    CHECK(text_of(in) == "query " + std::to_string(i));
    p.client->feed(records(*p.server, "answer " + std::to_string(i)));
    REQUIRE(p.client->read(in) == TlsChannel::Status::ok);
    CHECK(text_of(in) == "answer " + std::to_string(i));
  }
}
