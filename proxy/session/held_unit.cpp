#include "proxy/session/held_unit.hpp"

#include "proxy/wire/frontend.hpp"
#include "proxy/wire/message_type.hpp"

namespace pgroute {

namespace fe = wire::frontend;

void HeldUnit::hold(const wire::Frame& f) {
  messages_.push_back({f.type, static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(f.wire_size())});
  bytes_.append(f.bytes());
  binds_ += f.type == fe::kBind;
  executes_ += f.type == fe::kExecute;
  wire::ParseMsg p;
  wire::TargetMsg t;
  if (f.type == fe::kParse && wire::parse_parse(f.body, p) && !p.name.empty()) {
    auto it = statements_.find(p.name);
    if (it == statements_.end())
      statements_.emplace(std::string(p.name), true);
    else
      it->second = true;
  } else if (f.type == fe::kClose && wire::parse_describe_or_close(f.body, t) && t.kind == fe::kTargetStatement &&
             !t.name.empty()) {
    auto it = statements_.find(t.name);
    if (it == statements_.end())
      statements_.emplace(std::string(t.name), false);
    else
      it->second = false;
  }
}

wire::Frame HeldUnit::message(size_t i) const {
  const Message& m = messages_[i];
  return {m.type, std::string_view(bytes_).substr(m.offset + wire::kFrameHeaderSize, m.size - wire::kFrameHeaderSize)};
}

const bool* HeldUnit::statement_state(std::string_view name) const {
  auto it = statements_.find(name);
  return it == statements_.end() ? nullptr : &it->second;
}

std::string_view HeldUnit::parsed_query(std::string_view name) const {
  std::string_view query;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (messages_[i].type != fe::kParse) continue;
    wire::ParseMsg p;
    if (wire::parse_parse(message(i).body, p) && p.name == name) query = p.query;
  }
  return query;
}

void HeldUnit::clear() {
  bytes_.clear();
  messages_.clear();
  statements_.clear();
  binds_ = executes_ = 0;
}

}  // namespace pgroute
