#include "raw_client.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pgroute::it {
namespace {

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

void put_u32(std::string& out, std::uint32_t v) {
  const std::uint32_t be = htonl(v);
  out.append(reinterpret_cast<const char*>(&be), 4);
}

std::uint32_t get_u32(std::string_view in) {
  if (in.size() < 4) throw std::runtime_error("get_u32: short input");
  std::uint32_t be;
  std::copy_n(in.data(), 4, reinterpret_cast<char*>(&be));
  return ntohl(be);
}

std::map<char, std::string> error_fields(std::string_view body) {
  std::map<char, std::string> fields;
  std::size_t pos = 0;
  while (pos < body.size() && body[pos] != '\0') {
    const char code = body[pos++];
    const std::size_t end = body.find('\0', pos);
    if (end == std::string_view::npos) break;
    fields[code] = std::string(body.substr(pos, end - pos));
    pos = end + 1;
  }
  return fields;
}

std::string startup_message(const std::vector<std::pair<std::string, std::string>>& params, std::uint32_t version) {
  std::string body;
  put_u32(body, version);
  for (const auto& [k, v] : params) {
    body += k;
    body += '\0';
    body += v;
    body += '\0';
  }
  body += '\0';
  std::string msg;
  put_u32(msg, static_cast<std::uint32_t>(body.size() + 4));
  return msg + body;
}

std::string cancel_request(std::uint32_t pid, std::uint32_t key) {
  std::string msg;
  put_u32(msg, 16);
  put_u32(msg, kCancelRequestCode);
  put_u32(msg, pid);
  put_u32(msg, key);
  return msg;
}

std::string typed_message(char type, std::string_view body) {
  std::string msg(1, type);
  put_u32(msg, static_cast<std::uint32_t>(body.size() + 4));
  msg += body;
  return msg;
}

std::string query_message(std::string_view sql) {
  std::string body(sql);
  body += '\0';
  return typed_message('Q', body);
}

std::string terminate_message() {
  std::string msg = "X";
  put_u32(msg, 4);
  return msg;
}

RawClient::RawClient(int port, std::chrono::milliseconds connect_timeout) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error("RawClient: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      close(fd_);
      throw std::runtime_error("RawClient: connect to port " + std::to_string(port) + " failed");
    }
    pollfd p{fd_, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, static_cast<int>(connect_timeout.count())) != 1 ||
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      close(fd_);
      throw std::runtime_error("RawClient: connect to port " + std::to_string(port) + " failed");
    }
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

bool RawClient::send(std::string_view bytes) {
  const auto deadline = Clock::now() + 5s;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, millis_until(deadline)) == 0) throw std::runtime_error("RawClient: send timed out");
      continue;
    }
    return false;  // EPIPE / ECONNRESET
  }
  return true;
}

bool RawClient::fill(Clock::time_point deadline) {
  for (;;) {
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return false;  // reset counts as closed
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, millis_until(deadline)) == 0) throw std::runtime_error("RawClient: timed out waiting for data");
  }
}

std::optional<BackendMessage> RawClient::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buffer_.size() < 5)
    if (!fill(deadline)) return std::nullopt;
  const std::uint32_t len = get_u32(std::string_view(buffer_).substr(1));
  if (len < 4 || len > (64u << 20))
    throw std::runtime_error("RawClient: implausible message length " + std::to_string(len));
  while (buffer_.size() < 1 + len)
    if (!fill(deadline)) return std::nullopt;
  BackendMessage msg{buffer_[0], buffer_.substr(5, len - 4)};
  buffer_.erase(0, 1 + len);
  return msg;
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout, std::vector<BackendMessage>* seen) {
  const auto deadline = Clock::now() + timeout;
  try {
    for (;;) {
      auto msg = read_message(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (!msg) return true;
      if (seen != nullptr) seen->push_back(std::move(*msg));
    }
  } catch (const std::runtime_error&) {
    return false;  // timeout (or garbage from the peer, which is not closing either)
  }
}

std::optional<std::string> RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  try {
    while (fill(deadline)) {}
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  return std::exchange(buffer_, {});
}

std::vector<BackendMessage> RawClient::startup_trust(const std::string& user, const std::string& dbname) {
  if (!send(startup_message({{"user", user}, {"database", dbname}})))
    throw std::runtime_error("RawClient: peer closed during startup");
  std::vector<BackendMessage> got;
  for (;;) {
    auto msg = read_message();
    if (!msg) throw std::runtime_error("RawClient: peer closed during startup");
    if (msg->type == 'E') throw std::runtime_error("RawClient: startup failed: " + error_fields(msg->body)['M']);
    if (msg->type == 'R' && get_u32(msg->body) != 0)
      throw std::runtime_error("RawClient: server asked for authentication " + std::to_string(get_u32(msg->body)));
    got.push_back(*msg);
    if (msg->type == 'Z') return got;
  }
}

std::string encryption_request(std::uint32_t code) {
  std::string m;
  put_u32(m, 8);
  put_u32(m, code);
  return m;
}

char RawClient::read_one_byte(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return 0;
  char c = 0;
  return ::recv(fd_, &c, 1, 0) == 1 ? c : 0;
}

}  // namespace pgroute::it
