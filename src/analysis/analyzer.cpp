#include "analysis/analyzer.hpp"

#include <algorithm>
#include <map>

#include "analysis/symbol_uses.hpp"
#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

// Findings name a symbol in full up to this many bytes; a name built to be huge is shortened (its size said).
constexpr std::size_t max_symbol_bytes = 512;

constexpr SymbolUse all_uses[] = {SymbolUse::call, SymbolUse::build, SymbolUse::mutate, SymbolUse::reference,
                                  SymbolUse::persistent_id};

std::string describe_use(SymbolUse use) {
  switch (use) {
    case SymbolUse::call: return "is called at load time";
    case SymbolUse::build: return "receives BUILD (its __setstate__ runs) at load time";
    case SymbolUse::mutate: return "has methods called by APPEND/SETITEM at load time";
    case SymbolUse::persistent_id: return "is named in a persistent id";
    case SymbolUse::reference: return "is imported at load time";
  }
  return "is used";
}

// Dotted parts of module.name (what find_class walks).
std::uint64_t name_parts(const GlobalRef& ref) {
  return 2 + static_cast<std::uint64_t>(std::count(ref.module.begin(), ref.module.end(), '.') +
                                        std::count(ref.name.begin(), ref.name.end(), '.'));
}

// The uses of each imported name, over all the nodes that import it (one per GLOBAL / STACK_GLOBAL executed):
// judging is per name, so a name imported a hundred thousand times costs one judgement.
std::vector<GlobalUse> uses_by_name(const ObjectGraph& graph, const std::vector<GlobalUse>& by_node) {
  std::vector<GlobalUse> by_name(graph.global_count());
  std::vector<bool> seen(graph.global_count(), false);
  for (const GlobalUse& use : by_node) {
    const std::uint32_t index = graph.node(use.node).index;
    GlobalUse& merged = by_name[index];
    if (!seen[index]) {
      merged = use;
      seen[index] = true;
      continue;
    }
    for (unsigned bit = 0; bit < 5; ++bit) {
      const auto mask = static_cast<std::uint8_t>(1u << bit);
      if ((use.uses & mask) && (!(merged.uses & mask) || use.offset[bit] < merged.offset[bit]))
        merged.offset[bit] = use.offset[bit];
    }
    merged.uses |= use.uses;
    if (merged.via.empty()) merged.via = use.via;
    if (use.has_call && !merged.has_call) {
      merged.first_call = use.first_call;
      merged.has_call = true;
    }
  }
  std::vector<GlobalUse> out;
  for (std::size_t i = 0; i < by_name.size(); ++i)
    if (seen[i]) out.push_back(by_name[i]);
  return out;
}

}  // namespace

const SymbolJudgement& JudgementMemo::judge(const Policy& policy, std::string_view module, std::string_view name,
                                            SymbolUse use) {
  auto key = std::make_tuple(module, name, use);
  if (auto it = judged_.find(key); it != judged_.end()) return it->second;
  return judged_.emplace(std::make_tuple(std::string(module), std::string(name), use), policy.judge(module, name, use))
      .first->second;
}

std::string pickle_member(const std::string& member, std::size_t index, std::size_t count) {
  if (count <= 1) return member;
  return (member.empty() ? std::string() : member + " ") + "[pickle " + std::to_string(index + 1) + "]";
}

void analyze_pickle(const PickleProgram& program, const AnalysisContext& context, const std::string& member,
                    int depth, std::vector<Finding>& findings, std::vector<EmbeddedPickle>& embedded) {
  // One level only, never deeper: nested pickles (joblib object arrays) are run without joblib array handling,
  // so they have no nested pickles of their own, whatever the input says.
  for (const PickleProgram& nested : program.nested)
    analyze_pickle(nested, context, (member.empty() ? "" : member + " ") + "[object array pickle]", depth,
                   findings, embedded);
  // The same bytes read as another loader reads them: judged in full, and the disagreement is itself a finding.
  for (const PickleProgram& other : program.other_readings) {
    const bool file = other.reading == Reading::file;
    std::string message =
        file ? "an instruction at offset " + std::to_string(other.first_drop_offset) + " reads past the end of its "
                   "frame: torch.load (and pickle.load from any file without peek) drops the " +
                   std::to_string(other.dropped_bytes) + " byte(s) left in the frame and reads different "
                   "instructions from there than pickle.loads does. No pickle writer does this; it exists to show "
                   "a scanner one program and the loader another. Both readings are judged"
             : "pickle.py (joblib.load, pickle._loads) reads this pickle differently from _pickle.c (" +
                   (program.failure ? program.failure->message
                                    : std::string("array bytes read while a frame still holds instructions")) +
                   "); both readings are judged";
    findings.push_back(Finding{"pickle.reading-divergence", file ? Severity::malicious : Severity::suspicious,
                               std::move(message), member, file ? other.first_drop_offset : program.end, {}});
    analyze_pickle(other, context,
                   (member.empty() ? "" : member + " ") +
                       (file ? "[as torch.load reads it]" : "[as pickle.py and joblib read it]"),
                   depth, findings, embedded);
  }
  if (program.odd_joblib_padding > 0) {
    findings.push_back(Finding{
        "structure.joblib-padding", Severity::suspicious,
        std::to_string(program.odd_joblib_padding) + " joblib array padding(s) joblib never writes (it writes 1-16 "
            "bytes of 0xFF before aligned array data, and reads any length byte and skips that many bytes)",
        member, program.first_odd_joblib_padding_offset, {}});
  }
  const Policy& policy = context.policy;
  const ObjectGraph& graph = program.graph;
  const std::vector<GlobalUse> uses = uses_by_name(graph, collect_symbol_uses(program, context.policy, member, findings));
  JudgementMemo local_memo;
  JudgementMemo& memo = context.memo != nullptr ? *context.memo : local_memo;

  // One finding per (rule, symbol): a payload repeated a thousand times is one thing to act on.
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  bool long_name_reported = false;
  std::size_t judged = 0;
  for (const GlobalUse& use : uses) {
    if (++judged % 256 == 0 && context.budget.expired()) {
      findings.push_back(Finding{"limit.max_seconds_per_file", Severity::suspicious,
                                 "the file's time budget ran out while its imports were judged; the rest were not",
                                 member, use.offset[static_cast<unsigned>(SymbolUse::reference)], {}});
      break;
    }
    const GlobalRef& ref = graph.global(graph.node(use.node).index);
    if (!long_name_reported && name_parts(ref) > context.limits.max_name_parts) {
      long_name_reported = true;
      findings.push_back(Finding{
          "limit.max_name_parts", Severity::suspicious,
          "an imported name has " + std::to_string(name_parts(ref)) + " dotted parts, more than max_name_parts (" +
              std::to_string(context.limits.max_name_parts) + "): real module paths have a handful, and walks this "
              "long are built to stall scanners. It was judged in full all the same: " +
              shorten_name(ref.qualified(), 120),
          member, use.offset[static_cast<unsigned>(SymbolUse::reference)], {}});
    }
    SymbolJudgement worst{Severity::info, "global.allowed", {}, {}};
    SymbolUse worst_use = SymbolUse::reference;
    if (ref.module == "<computed at load time>") {
      worst = {Severity::malicious, "global.computed",
               "is an import whose module and name are computed at load time (STACK_GLOBAL on call results), "
               "so it can be anything",
               "builtin"};
      worst_use = use.has(SymbolUse::call) ? SymbolUse::call : SymbolUse::reference;
    } else {
      for (SymbolUse candidate : all_uses) {
        if (!use.has(candidate)) continue;
        SymbolJudgement judgement = memo.judge(policy, ref.module, ref.name, candidate);
        const bool first_trusted = judgement.rule == "global.trusted" && worst.rule == "global.allowed";
        if (judgement.severity > worst.severity || first_trusted) {
          worst = std::move(judgement);
          worst_use = candidate;
        }
      }
    }
    // Trusted code is listed (info) so a reader sees what the trust admitted; --strict fails it.
    if (worst.rule == "global.trusted" && context.strict) {
      worst.severity = Severity::suspicious;
      worst.reason += " [--strict: trusted code is still code; only data passes]";
    }
    if (worst.severity == Severity::info && worst.rule != "global.trusted") continue;
    const bool computed = ref.module == "<computed at load time>";
    const std::string full_symbol = computed ? "<computed>" : ref.qualified();
    const std::string symbol = shorten_name(full_symbol, max_symbol_bytes);
    auto key = std::make_pair(worst.rule, symbol);
    if (auto it = seen.find(key); it != seen.end()) {
      findings[it->second].message += " [repeated]";
      continue;
    }
    std::string message = shorten_name(full_symbol, 160) + " " + describe_use(worst_use);
    if (worst_use == SymbolUse::call && !use.has_call && !use.via.empty()) message += " (" + use.via + ")";
    message += ": " + worst.reason + ".";
    if (ref.original_module != ref.module || ref.original_name != ref.name)
      message += " Written as " + shorten_name(ref.original_module + "." + ref.original_name, 160) +
                 " (renamed by the unpickler).";
    if (use.has_call) message += " Call: " + value_text(graph, use.first_call, 200);
    seen[key] = findings.size();
    findings.push_back(Finding{worst.rule, worst.severity, std::move(message), member,
                               use.offset[static_cast<unsigned>(worst_use)], symbol});
  }

  if (program.failure) {
    const PickleFailure& failure = *program.failure;
    const bool limit = failure.code == ErrorCode::limit_exceeded;
    findings.push_back(Finding{
        limit ? "limit." + failure.limit : "pickle.malformed", Severity::suspicious,
        (limit ? "analysis stopped at a limit: " : "the pickle cannot be read to its end: ") + failure.message +
            ". Everything before offset " + std::to_string(failure.offset) +
            " was analysed; a loader runs those opcodes before it fails, so the file cannot be called safe.",
        member, failure.offset, {}});
  }
  if (program.stopped && program.leftover_items > 0) {
    std::string first = program.leftover_values.empty() ? "" : value_text(graph, program.leftover_values.front(), 100);
    findings.push_back(Finding{
        "structure.extra-stack-items", Severity::suspicious,
        std::to_string(program.leftover_items) + " object(s) left on the stack under the returned object at STOP "
            "(first: " + first + "); real writers leave exactly one, injected payloads leave the rest",
        member, program.end == 0 ? 0 : program.end - 1, {}});
  }
  if (program.call_on_dropped_root_offset) {
    findings.push_back(Finding{
        "structure.call-on-root", Severity::malicious,
        "the object this pickle built first was dropped from the stack and then passed to " +
            value_text(graph, *program.root, 120) +
            ", whose result is what the load returns: the Sleepy Pickle shape that patches a model (weights, "
            "methods) on load and hands it back looking normal; no real writer does this",
        member, *program.call_on_dropped_root_offset, {}});
  } else if (program.dropped_roots > 0 && program.stopped) {
    findings.push_back(Finding{
        "structure.root-replaced", Severity::suspicious,
        "the stack was emptied after holding a finished object (" +
            value_text(graph, program.dropped_root_values.front(), 80) +
            ") and the load returns a different one: real writers build exactly one object from the bottom of "
            "the stack up; a spliced payload builds its own and throws it away",
        member, program.first_dropped_root_offset, {}});
  }
  if (program.popped_constants > 0) {
    findings.push_back(Finding{
        "structure.popped-constant", Severity::suspicious,
        std::to_string(program.popped_constants) +
            " constant(s) pushed only to be thrown away (e.g. INT n; POP): the marker that pickle injection tools "
            "leave at a splice point; real writers never pop a constant",
        member, program.first_popped_constant_offset, {}});
  }
  find_embedded_payloads(program, context.limits, context.budget, member, depth, findings, embedded);
  if (program.memo_overwrites > 0) {
    findings.push_back(Finding{
        "structure.memo-overwrite", Severity::suspicious,
        std::to_string(program.memo_overwrites) + " memo slot(s) written twice; real writers never reuse a memo "
            "key, payloads do it to swap the object a later GET returns",
        member, program.first_memo_overwrite_offset, {}});
  }
}

void list_globals(const PickleStream& stream, std::vector<std::string>& globals) {
  std::vector<const PickleProgram*> pending;
  for (const PickleProgram& program : stream.pickles) pending.push_back(&program);
  while (!pending.empty()) {
    const PickleProgram* program = pending.back();
    pending.pop_back();
    for (std::size_t i = 0; i < program->graph.global_count(); ++i) globals.push_back(program->graph.global(i).qualified());
    for (const PickleProgram& nested : program->nested) pending.push_back(&nested);
    for (const PickleProgram& other : program->other_readings) pending.push_back(&other);
  }
}

void analyze_stream(const PickleStream& stream, const AnalysisContext& context, const std::string& member,
                    const StreamExpectations& expected, std::vector<Finding>& findings) {
  const std::size_t count = stream.pickles.size();
  std::vector<EmbeddedPickle> embedded;
  for (std::size_t i = 0; i < count; ++i)
    analyze_pickle(stream.pickles[i], context, pickle_member(member, i, count), 0, findings, embedded);
  // Pickles decoded out of constants, each analysed while its bytes are alive; its own constants queue more,
  // one level deeper each time, up to the nesting bound find_embedded_payloads enforces.
  while (!embedded.empty()) {
    EmbeddedPickle next = std::move(embedded.back());
    embedded.pop_back();
    const PickleStream nested = read_pickle_stream(next.bytes, 0, context.limits, context.budget);
    const std::size_t nested_count = nested.pickles.size();
    for (std::size_t i = 0; i < nested_count; ++i)
      analyze_pickle(nested.pickles[i], context, pickle_member(next.member, i, nested_count), next.depth,
                     findings, embedded);
  }
  if (count > expected.pickles) {
    findings.push_back(Finding{
        "structure.extra-pickles", Severity::suspicious,
        std::to_string(count) + " pickles in one stream where the format holds " + std::to_string(expected.pickles) +
            "; a loader that reads on (legacy torch, numpy, joblib, a second pickle.load) runs the extra ones",
        member, stream.pickles[expected.pickles].start, {}});
  }
  if (stream.pickle_limit_reached) {
    findings.push_back(Finding{"limit.max_pickles_per_stream", Severity::suspicious,
                               "more pickles in this stream than max_pickles_per_stream; the rest were not read",
                               member, stream.trailing_offset, {}});
  }
  if (stream.trailing_bytes > 0 && !expected.trailing_data) {
    findings.push_back(Finding{
        "structure.trailing-bytes", Severity::suspicious,
        std::to_string(stream.trailing_bytes) + " byte(s) after the final STOP that are not a pickle; real "
            "writers end at STOP, and hidden data or a polyglot sits here",
        member, stream.trailing_offset, {}});
  }
}

}  // namespace picklewall::detail
