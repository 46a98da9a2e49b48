// Judges pickles: each global by its use under the policy, plus the structural rules that catch spliced
// payloads and broken streams. A parse error never makes a file look cleaner: what was decoded before it is
// judged like everything else, and the break itself is a finding.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
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
  using Key = std::tuple<std::string, std::string, SymbolUse>;
  using View = std::tuple<std::string_view, std::string_view, SymbolUse>;
  // Looks up by views without building strings. Spelled out because comparing a tuple of strings with a tuple of
  // views is not portable (clang with libstdc++ finds no operator for it).
  struct ByView {
    using is_transparent = void;
    static View view(const Key& key) { return {std::get<0>(key), std::get<1>(key), std::get<2>(key)}; }
    static const View& view(const View& key) { return key; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const { return view(a) < view(b); }
  };
  std::map<Key, SymbolJudgement, ByView> judged_;
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
