// What a raw client received, as short comparable strings: for checking that the proxy answers a
// sequence of messages exactly as PostgreSQL itself does (same messages, same errors, same ending).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "raw_client.hpp"

// Traces print in failed checks.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& one : v) s += (s.size() > 1 ? " | " : "") + one;
    return (s + "]").c_str();
  }
};

namespace pgroute::it {

// "E ERROR 08P01 <message>" for errors and notices, "Z I" for ReadyForQuery, else the type letter.
inline std::string trace_of(const BackendMessage& m) {
  if (m.type == 'E' || m.type == 'N') {
    auto f = error_fields(m.body);
    return std::string(1, m.type) + " " + f['V'] + " " + f['C'] + " " + f['M'];
  }
  if (m.type == 'Z') return "Z " + m.body;
  return std::string(1, m.type);
}

// The next `count` messages; "TIMEOUT" or "EOF" in place of what did not come.
inline std::vector<std::string> trace_next(RawClient& raw, std::size_t count,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    try {
      auto m = raw.read_message(timeout);
      out.push_back(m ? trace_of(*m) : "EOF");
      if (!m) break;
    } catch (const std::runtime_error&) {
      out.push_back("TIMEOUT");
      break;
    }
  }
  return out;
}

// Messages up to and including the next ReadyForQuery (or "EOF" / "TIMEOUT").
inline std::vector<std::string> trace_until_ready(RawClient& raw,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  std::vector<std::string> out;
  for (;;) {
    auto one = trace_next(raw, 1, timeout);
    out.push_back(one.at(0));
    if (one[0][0] == 'Z' || one[0] == "EOF" || one[0] == "TIMEOUT") return out;
  }
}

// Every message until the peer closes, then "EOF" (or "TIMEOUT" if it does not close in time).
inline std::vector<std::string> trace_until_closed(RawClient& raw,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  std::vector<BackendMessage> seen;
  const bool closed = raw.wait_closed(timeout, &seen);
  std::vector<std::string> out;
  for (const auto& m : seen) out.push_back(trace_of(m));
  out.push_back(closed ? "EOF" : "TIMEOUT");
  return out;
}

// Extended-protocol messages with text parameters, as a client sends them.
inline std::string parse_message(std::string_view name, std::string_view sql) {
  std::string body(name);
  body += '\0';
  body += sql;
  body += '\0';
  body.append("\0\0", 2);  // no parameter types
  return typed_message('P', body);
}

inline std::string bind_message(std::string_view statement, const std::vector<std::string>& params = {}) {
  std::string body("\0", 1);  // unnamed portal
  body += statement;
  body += '\0';
  body.append("\0\0", 2);  // all parameters text
  body += static_cast<char>(params.size() >> 8);
  body += static_cast<char>(params.size() & 0xff);
  for (const auto& p : params) {
    put_u32(body, static_cast<std::uint32_t>(p.size()));
    body += p;
  }
  body.append("\0\0", 2);  // all results text
  return typed_message('B', body);
}

inline std::string describe_portal_message() { return typed_message('D', std::string("P\0", 2)); }
inline std::string execute_message() { return typed_message('E', std::string("\0\0\0\0\0", 5)); }
inline std::string sync_message() { return typed_message('S', ""); }
inline std::string flush_message() { return typed_message('H', ""); }
inline std::string close_statement_message(std::string_view name) {
  std::string body("S");
  body += name;
  body += '\0';
  return typed_message('C', body);
}
inline std::string copy_data_message(std::string_view data) { return typed_message('d', data); }
inline std::string copy_done_message() { return typed_message('c', ""); }

}  // namespace pgroute::it
