#include "tls_certs.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>

#include <sys/stat.h>

#include "process.hpp"

namespace pgroute::it {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, {.timeout = 30s});
  if (r.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    throw std::runtime_error("test certificates: " + line + "failed: " + r.describe());
  }
}

void make_key_private(const std::filesystem::path& key) {
  if (::chmod(key.c_str(), 0600) != 0) throw std::runtime_error("test certificates: chmod 0600 " + key.string());
}

// Distinct serials: a verifier may refuse two certificates of one issuer with the same serial.
std::string next_serial() {
  static std::atomic<unsigned> serial{0x5000};
  return std::to_string(serial++);
}

CertFiles issue(const std::filesystem::path& dir, const std::string& name, const CertFiles& ca,
                const std::string& common_name, const std::string& extensions) {
  CertFiles out{dir / (name + ".crt"), dir / (name + ".key")};
  const auto csr = dir / (name + ".csr"), ext = dir / (name + ".ext");
  openssl({"req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", out.key.string(), "-out", csr.string(), "-subj",
           "/CN=" + common_name});
  make_key_private(out.key);
  write_file(ext, extensions);
  openssl({"x509", "-req", "-in", csr.string(), "-CA", ca.cert.string(), "-CAkey", ca.key.string(), "-set_serial",
           next_serial(), "-days", "30", "-extfile", ext.string(), "-out", out.cert.string()});
  std::filesystem::remove(csr);
  std::filesystem::remove(ext);
  return out;
}

}  // namespace

CertFiles make_ca(const std::filesystem::path& dir, const std::string& name) {
  CertFiles out{dir / (name + ".crt"), dir / (name + ".key")};
  openssl({"req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", out.key.string(), "-out",
           out.cert.string(), "-days", "30", "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  make_key_private(out.key);
  return out;
}

CertFiles issue_server_cert(const std::filesystem::path& dir, const std::string& name, const CertFiles& ca,
                            const std::string& common_name, const AltNames& alt_names) {
  std::string sans;
  for (const auto& n : alt_names) sans += (sans.empty() ? "" : ",") + n;
  std::string ext =
      "basicConstraints=critical,CA:FALSE\n"
      "keyUsage=critical,digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth\n";
  if (!sans.empty()) ext += "subjectAltName=" + sans + "\n";
  return issue(dir, name, ca, common_name, ext);
}

CertFiles issue_client_cert(const std::filesystem::path& dir, const std::string& name, const CertFiles& ca,
                            const std::string& user) {
  return issue(dir, name, ca, user,
               "basicConstraints=critical,CA:FALSE\n"
               "keyUsage=critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=clientAuth\n");
}

const TestCertificates& test_certificates() {
  // Lives until the binary exits; destroyed before run_root(), which was made first.
  static const std::unique_ptr<TempDir> dir = std::make_unique<TempDir>("tls-certs");
  static const TestCertificates certs = [] {
    TestCertificates c;
    c.dir = dir->path();
    c.ca = make_ca(c.dir, "pgroute-test-ca");
    c.server = issue_server_cert(c.dir, "server", c.ca, "localhost", {"DNS:localhost", "IP:127.0.0.1"});
    c.wrong_host = issue_server_cert(c.dir, "wrong-host", c.ca, "wrong.example", {"DNS:wrong.example"});
    c.other_ca = make_ca(c.dir, "unrelated-ca");
    return c;
  }();
  return certs;
}

}  // namespace pgroute::it
