// Judges pickles: each global by its use under the policy, plus the structural rules that catch spliced
// payloads and broken streams. A parse error never makes a file look cleaner: what was decoded before it is
// judged like everything else, and the break itself is a finding.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/policy.hpp"
#include "analysis/embedded_payloads.hpp"
#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {

// Judgements already made for this file, by (module, name, use): a name imported ten thousand times (or a
// thousand-part walk fetched from the memo a hundred times) is judged once.
class JudgementMemo {
 public:
  const SymbolJudgement& judge(const Policy& policy, std::string_view module, std::string_view name, SymbolUse use);

 private:
  std::map<std::tuple<std::string, std::string, SymbolUse>, SymbolJudgement, std::less<>> judged_;
};

struct AnalysisContext {
  const Policy& policy;
  const Limits& limits;
  const Budget& budget;  // the file's: analysis and the pickles decoded out of constants draw from it
  bool strict = false;  // code a trust policy admits is still code: report it as suspicious
  JudgementMemo* memo = nullptr;  // null: judge every use afresh
};

// `depth` counts how far inside constants this pickle was found (0: the file's own); pickles found in its
// constants are appended to `embedded` for the caller to run.
void analyze_pickle(const PickleProgram& program, const AnalysisContext& context, const std::string& member,
                    int depth, std::vector<Finding>& findings, std::vector<EmbeddedPickle>& embedded);

// Adds every global the stream imports to `globals` (unsorted; the caller sorts and de-duplicates).
void list_globals(const PickleStream& stream, std::vector<std::string>& globals);

// How findings name the i-th of `count` pickles in a stream: `member [pickle 2]` when there is more than one.
std::string pickle_member(const std::string& member, std::size_t index, std::size_t count);

struct StreamExpectations {
  std::size_t pickles = 1;      // how many pickles the format holds (legacy torch: 5)
  bool trailing_data = false;   // bytes after the last pickle are part of the format
};

void analyze_stream(const PickleStream& stream, const AnalysisContext& context, const std::string& member,
                    const StreamExpectations& expected, std::vector<Finding>& findings);

}  // namespace picklewall::detail
