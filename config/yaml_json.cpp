#include "config/yaml_json.hpp"

#include <cstdio>

#include "config/units.hpp"

namespace pgroute::config {
namespace {

void append_string(std::string& out, const std::string& text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_scalar(std::string& out, const YAML::Node& node) {
  const std::string& text = node.Scalar();
  // yaml-cpp tags quoted scalars "!" and plain ones "?": only plain ones can be numbers or booleans.
  if (node.Tag() != "!") {
    if (text == "true" || text == "false") {
      out += text;
      return;
    }
    if (text == "null" || text == "~") {
      out += "null";
      return;
    }
    if (auto number = parse_integer(text)) {
      out += std::to_string(*number);
      return;
    }
  }
  append_string(out, text);
}

void append(std::string& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!first) out += ',';
        first = false;
        append_string(out, it->first.IsScalar() ? it->first.Scalar() : std::string());
        out += ':';
        append(out, it->second);
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!first) out += ',';
        first = false;
        append(out, *it);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Scalar: append_scalar(out, node); return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: out += "null"; return;
  }
}

}  // namespace

std::string yaml_to_json(const YAML::Node& node) {
  std::string out;
  append(out, node);
  return out;
}

}  // namespace pgroute::config
