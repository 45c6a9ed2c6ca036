#include "config/yaml_size.hpp"

#include <string_view>
#include <vector>

#include "config/key_path.hpp"

namespace pgroute::config {
namespace {

class ExpansionMeter {
 public:
  // false once a limit is crossed; where() then says where.
  bool visit(const YAML::Node& node) {
    if (++nodes_ > kMaxExpandedNodes) return fail(node, "more than " + std::to_string(kMaxExpandedNodes) + " nodes");
    if (steps_.size() > kMaxNestingDepth)
      return fail(node, "more than " + std::to_string(kMaxNestingDepth) +
                            " levels of nesting (an alias inside its own anchor?)");
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        bytes_ += node.Scalar().size();
        if (bytes_ > kMaxExpandedBytes)
          return fail(node, "more than " + std::to_string(kMaxExpandedBytes >> 20) + " MiB of text");
        return true;
      case YAML::NodeType::Sequence: {
        size_t index = 0;
        for (auto it = node.begin(); it != node.end(); ++it, ++index) {
          steps_.push_back({{}, index});
          if (!visit(*it)) return false;
          steps_.pop_back();
        }
        return true;
      }
      case YAML::NodeType::Map:
        for (auto it = node.begin(); it != node.end(); ++it) {
          steps_.push_back({it->first.IsScalar() ? std::string_view(it->first.Scalar()) : "?", 0});
          if (!visit(it->first) || !visit(it->second)) return false;
          steps_.pop_back();
        }
        return true;
      default: return true;
    }
  }

  const YAML::Mark& mark() const { return mark_; }
  const std::string& what() const { return what_; }

  // The path walked to where the limit was crossed, cut short: a bomb's path can be long.
  std::string path() const {
    constexpr size_t kShownSteps = 8;
    KeyPath path;
    for (size_t i = 0; i < steps_.size() && i < kShownSteps; ++i)
      path = steps_[i].key.empty() ? path.index(steps_[i].index) : path.key(steps_[i].key);
    return path.str() + (steps_.size() > kShownSteps ? "..." : "");
  }

 private:
  struct Step {
    std::string_view key;  // empty: a sequence index
    size_t index;
  };

  bool fail(const YAML::Node& node, std::string what) {
    mark_ = node.Mark();
    what_ = std::move(what);
    return false;
  }

  uint64_t nodes_ = 0, bytes_ = 0;
  std::vector<Step> steps_;  // keys view scalars owned by the document, which outlives the walk
  YAML::Mark mark_ = YAML::Mark::null_mark();
  std::string what_;
};

}  // namespace

std::optional<Problem> check_expanded_size(const YAML::Node& root, const std::string& source) {
  ExpansionMeter meter;
  if (meter.visit(root)) return std::nullopt;
  const std::string path = meter.path();
  std::string message = (path.empty() ? std::string() : path + ": ") + "the configuration holds " + meter.what() +
                        " once its YAML aliases are expanded; refusing to read it";
  const YAML::Mark& mark = meter.mark();
  if (mark.is_null()) return Problem{source, 0, 0, std::move(message)};
  return Problem{source, mark.line + 1, mark.column + 1, std::move(message)};
}

}  // namespace pgroute::config
