#include "config/yaml_documents.hpp"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace pgroute::config {
namespace {

// Notes where each document starts; the events inside documents are not needed.
class DocumentStarts : public YAML::EventHandler {
 public:
  const YAML::Mark& last() const { return last_; }

  void OnDocumentStart(const YAML::Mark& mark) override { last_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark last_;
};

}  // namespace

std::vector<YAML::Node> load_yaml_documents(const std::string& text) {
  // A first pass with the event parser: every document must start past the previous one's start.
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  bool first = true;
  int previous = 0;
  while (parser.HandleNextDocument(starts)) {
    if (!first && starts.last().pos == previous)
      throw YAML::ParserException(starts.last(), "cannot read past this point (a ',' outside [...] or {...}?)");
    first = false;
    previous = starts.last().pos;
  }
  return YAML::LoadAll(text);  // the same parser: it ends too
}

}  // namespace pgroute::config
