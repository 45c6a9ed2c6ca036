// A bare TCP client speaking bytes of the PostgreSQL protocol by hand: for what libpq will not
// send (wrong cancel keys, protocol 2.0, oversized lengths, garbage) and for checking exactly
// what comes back.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgroute::it {

using namespace std::chrono_literals;

inline constexpr std::uint32_t kProtocol3 = 196608;  // 3.0
inline constexpr std::uint32_t kProtocol2 = 131072;  // 2.0
inline constexpr std::uint32_t kCancelRequestCode = 80877102;

struct BackendMessage {
  char type = 0;
  std::string body;
};

// Fields of an ErrorResponse / NoticeResponse body, by field code ('S', 'V', 'C', 'M', ...).
std::map<char, std::string> error_fields(std::string_view body);

// Message builders (bytes exactly as they go on the wire).
std::string startup_message(const std::vector<std::pair<std::string, std::string>>& params,
                            std::uint32_t version = kProtocol3);
std::string cancel_request(std::uint32_t pid, std::uint32_t key);
inline constexpr std::uint32_t kSslRequestCode = 80877103;
inline constexpr std::uint32_t kGssEncRequestCode = 80877104;
// SSLRequest or GSSENCRequest: length 8 and the code.
std::string encryption_request(std::uint32_t code);
std::string query_message(std::string_view sql);
// Any typed frontend message: type, length, body (the body as it goes on the wire).
std::string typed_message(char type, std::string_view body);
std::string terminate_message();
void put_u32(std::string& out, std::uint32_t v);
std::uint32_t get_u32(std::string_view in);

class RawClient {
 public:
  explicit RawClient(int port, std::chrono::milliseconds connect_timeout = 5s);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends all bytes; false if the peer has closed / reset the connection.
  bool send(std::string_view bytes);

  // The next typed message; nullopt on EOF or connection reset. Throws std::runtime_error on
  // timeout or on a length that makes no sense.
  std::optional<BackendMessage> read_message(std::chrono::milliseconds timeout = 5s);

  // Reads messages until EOF; true if the peer closed within `timeout`. Messages seen on the
  // way are returned in `seen` (when given).
  bool wait_closed(std::chrono::milliseconds timeout, std::vector<BackendMessage>* seen = nullptr);

  // Every byte until EOF, unparsed; nullopt if the peer did not close within `timeout`.
  std::optional<std::string> read_until_closed(std::chrono::milliseconds timeout);

  // Sends a startup packet and reads until ReadyForQuery; returns every message received.
  // Throws if authentication is requested or an ErrorResponse arrives.
  std::vector<BackendMessage> startup_trust(const std::string& user, const std::string& dbname);

  int fd() const { return fd_; }
  // The one-byte answer to an encryption request ('S', 'G' or 'N'), read alone; 0 on EOF or timeout.
  char read_one_byte(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  // Appends at least one byte to buffer_; false on EOF/reset; throws on timeout.
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace pgroute::it
