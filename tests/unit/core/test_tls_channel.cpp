// TlsChannel without sockets: two channels, pgroute's server end and its backend (client) end, joined by
// handing each one's output to the other. What the session relies on: read() returns everything the fed
// ciphertext decrypts to, however the bytes were cut (read-ahead must not leave any behind), and no
// record is half-read after release_buffers().
#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "proxy/io/tls_channel.hpp"

using pgroute::ReadBuffer;
using pgroute::TlsChannel;

namespace {

// A throwaway P-256 key and a self-signed certificate for "localhost", as PEM files in a temp dir.
struct SelfSigned {
  std::filesystem::path dir, cert, key;

  SelfSigned() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgroute-tls-unit-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    cert = dir / "server.crt";
    key = dir / "server.key";
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
    if (!pkey || !x) fail("cannot make a key and a certificate");
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
    X509_set_pubkey(x.get(), pkey.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(x.get(), name);
    if (X509_sign(x.get(), pkey.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");
    write_pem(cert, [&](FILE* f) { return PEM_write_X509(f, x.get()); });
    // The key is created owner-only: it is never readable by others, not even for a moment.
    write_pem(key, [&](FILE* f) { return PEM_write_PrivateKey(f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  }
  ~SelfSigned() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Removes what was made, then fails the test (the destructor does not run for a throwing constructor).
  [[noreturn]] void fail(const char* why) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    FAIL(why);
    throw std::runtime_error(why);  // not reached: FAIL throws
  }

  template <class Write>
  void write_pem(const std::filesystem::path& path, Write write) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
    if (!f) fail("cannot create a PEM file");
    const bool written = write(f) == 1;
    if (std::fclose(f) != 0 || !written) fail("cannot write a PEM file");
  }
};

// pgroute's two ends of TLS, handshaken with each other.
struct Pair {
  SelfSigned files;
  std::unique_ptr<TlsChannel> server, client;

  // `behind_handshake`: what the client sends in the same flight as its last handshake message, as a
  // driver writes a startup packet right after the handshake (it lands in the server's read-ahead).
  explicit Pair(const std::string& behind_handshake = "") {
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
        if (client_done && !behind_handshake.empty()) REQUIRE(client->write(behind_handshake, to_server));
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

TEST_CASE("tls channel: a message sent in the handshake's last flight is read after it, whole") {
  Pair p("startup packet");
  ReadBuffer in;
  CHECK(p.server->read(in) == TlsChannel::Status::ok);  // nothing more fed: it came with the handshake
  CHECK(text_of(in) == "startup packet");
}

TEST_CASE("tls channel: buffers released between a record's header and its body lose nothing") {
  // A client that stops after five bytes and is parked: SSL_free_buffers must not free what the
  // half-read record points into (CVE-2024-4741; run under ASan to see it).
  Pair p;
  const std::string cipher = records(*p.client, "SELECT 'after a pause'");
  ReadBuffer in;
  p.server->feed(cipher.substr(0, 5));
  REQUIRE(p.server->read(in) == TlsChannel::Status::ok);
  REQUIRE(in.size() == 0);
  p.server->release_buffers();
  p.server->feed(cipher.substr(5));
  CHECK(p.server->read(in) == TlsChannel::Status::ok);
  CHECK(text_of(in) == "SELECT 'after a pause'");
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

// The driver's way: each socket read lands in the same buffer, which read(cipher, in) reads in place and
// the next socket read overwrites. A part of a record goes into OpenSSL's own buffer (read-ahead takes
// all it is given): nothing of it may be read from the socket buffer later.
TEST_CASE("tls channel: read in place from a reused socket buffer keeps what it left unread") {
  Pair p;
  std::string big;
  for (int i = 0; big.size() < 60 * 1024; ++i) big += "row " + std::to_string(i) + "\n";
  std::string cipher = records(*p.server, "first");  // one by one: the records' order is their sequence numbers'
  cipher += records(*p.server, big);
  cipher += records(*p.server, "last");
  std::string socket_buffer(TlsChannel::kReadSize, '\0');
  ReadBuffer in;
  // Cuts of every kind: inside a record's header, inside its body, across several records.
  const size_t cuts[] = {3, 40, 1, TlsChannel::kReadSize, 700, 5, TlsChannel::kReadSize, 9000};
  size_t at = 0;
  for (size_t i = 0; at < cipher.size(); ++i) {
    const size_t n = std::min({cuts[i % std::size(cuts)], cipher.size() - at, socket_buffer.size()});
    socket_buffer.replace(0, n, cipher, at, n);
    INFO("read " << i << " at " << at << " of " << cipher.size() << ": " << p.client->error());
    REQUIRE(p.client->read(std::string_view(socket_buffer).substr(0, n), in) == TlsChannel::Status::ok);
    socket_buffer.assign(socket_buffer.size(), '\xA5');  // the next socket read lands on the same bytes
    at += n;
  }
  CHECK(text_of(in) == "first" + big + "last");
}

TEST_CASE("tls channel: read in place after bytes fed by copy reads both, in order") {
  Pair p;
  const std::string one = records(*p.client, "one;");
  const std::string two = records(*p.client, "two;");
  ReadBuffer in;
  p.server->feed(one.substr(0, 10));
  std::string socket_buffer = one.substr(10) + two;
  REQUIRE(p.server->read(socket_buffer, in) == TlsChannel::Status::ok);
  socket_buffer.assign(socket_buffer.size(), '\0');
  CHECK(text_of(in) == "one;two;");
  CHECK(p.server->read(in) == TlsChannel::Status::ok);  // nothing left behind
  CHECK(in.size() == 0);
}
