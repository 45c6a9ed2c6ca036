#include "proxy/io/tls_end_point.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

namespace pgroute {

std::string tls_server_end_point(const X509* certificate) {
  if (!certificate) return {};
  int md_nid = NID_undef;
  if (!OBJ_find_sigid_algs(X509_get_signature_nid(certificate), &md_nid, nullptr) || md_nid == NID_undef) return {};
  if (md_nid == NID_md5 || md_nid == NID_sha1) md_nid = NID_sha256;
  const EVP_MD* md = EVP_get_digestbynid(md_nid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!md || X509_digest(certificate, md, digest, &length) != 1) return {};
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace pgroute
