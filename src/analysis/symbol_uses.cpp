#include "analysis/symbol_uses.hpp"

#include <algorithm>
#include <unordered_map>

#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

// pickle's own instance factories: the object they return is an instance of their first argument, so calling
// them instantiates that class, and a BUILD on the result runs that class's __setstate__.
bool is_instance_factory(const GlobalRef& ref) {
  return ref.module == "copyreg" &&
         (ref.name == "_reconstructor" || ref.name == "__newobj__" || ref.name == "__newobj_ex__");
}

class Collector {
 public:
  Collector(const PickleProgram& program, const std::string& member, std::vector<Finding>& findings)
      : graph_(program.graph), member_(member), findings_(findings) {}

  std::vector<GlobalUse> run() {
    for (const Effect& effect : graph_.effects()) {
      switch (effect.kind) {
        case EffectKind::import_global: mark(effect.target.node, SymbolUse::reference, effect.offset); break;
        case EffectKind::call: on_call(effect); break;
        case EffectKind::build: on_target(effect, SymbolUse::build); break;
        case EffectKind::mutate: on_target(effect, SymbolUse::mutate); break;
        case EffectKind::persistent_load: on_persistent_id(effect); break;
        case EffectKind::extension:
          add("extension.code", Severity::suspicious, effect.offset, {},
              "EXT opcode loads extension code " + std::to_string(effect.argument.integer) +
                  " from copyreg's registry: the registry is empty in a plain interpreter, but libraries can "
                  "register codes, so what it names cannot be known from the file");
          break;
        case EffectKind::discard: on_discard(effect); break;
      }
    }
    std::vector<GlobalUse> out;
    out.reserve(uses_.size());
    for (auto& [node, use] : uses_) out.push_back(use);
    std::sort(out.begin(), out.end(), [](const GlobalUse& a, const GlobalUse& b) { return a.node < b.node; });
    return out;
  }

 private:
  const Node* node_of(Value value) const { return value.is_node() ? &graph_.node(value.node) : nullptr; }

  // The class a pickle instance factory instantiates: the first argument, when it is a global.
  bool instantiated_class(const CallRecord& call, NodeId& cls) const {
    const GlobalRef* callee = graph_.as_global(call.callee);
    if (callee == nullptr || !is_instance_factory(*callee)) return false;
    const Node* args = node_of(call.args);
    if (args == nullptr || args->kind != NodeKind::tuple) return false;
    const auto& items = graph_.children(args->index);
    if (items.empty() || graph_.as_global(items.front()) == nullptr) return false;
    cls = items.front().node;
    return true;
  }

  void mark(NodeId node, SymbolUse use, std::uint64_t offset) {
    GlobalUse& entry = uses_[node];
    entry.node = node;
    const auto bit = static_cast<std::uint8_t>(1u << static_cast<unsigned>(use));
    if (!(entry.uses & bit)) entry.offset[static_cast<unsigned>(use)] = offset;
    entry.uses |= bit;
  }

  void add(const char* rule, Severity severity, std::uint64_t offset, std::string symbol, std::string message) {
    findings_.push_back(Finding{rule, severity, std::move(message), member_, offset, std::move(symbol)});
  }

  void on_call(const Effect& effect) {
    const CallRecord& call = graph_.call(graph_.node(effect.target.node).index);
    const Node* callee = node_of(call.callee);
    if (callee != nullptr && callee->kind == NodeKind::global) {
      mark(call.callee.node, SymbolUse::call, effect.offset);
      GlobalUse& entry = uses_[call.callee.node];
      if (!entry.has_call) {
        entry.first_call = effect.target;
        entry.has_call = true;
      }
      if (NodeId cls; instantiated_class(call, cls)) mark(cls, SymbolUse::call, effect.offset);
      return;
    }
    if (callee != nullptr && callee->kind == NodeKind::extension) {
      add("call.extension", Severity::malicious, effect.offset, {},
          "calls whatever extension code " + std::to_string(callee->index) +
              " names in copyreg's registry; real writers never do this: " + value_text(graph_, effect.target));
      return;
    }
    if (callee != nullptr && (callee->kind == NodeKind::call || callee->kind == NodeKind::persistent ||
                              callee->kind == NodeKind::readonly)) {
      add("call.indirect", Severity::malicious, effect.offset, {},
          "calls an object that was itself produced during the load (e.g. the result of getattr or of another "
          "call): real writers only call importable globals. " + value_text(graph_, effect.target));
      return;
    }
    add("call.not-callable", Severity::suspicious, effect.offset, {},
        "calls a constant or container, which makes the load raise here: the file is malformed at this point: " +
            value_text(graph_, effect.target));
  }

  void on_target(const Effect& effect, SymbolUse use) {
    const char* verb = use == SymbolUse::build ? "BUILD" : "APPEND/SETITEM/ADDITEMS";
    const Node* target = node_of(effect.target);
    if (target != nullptr && target->kind == NodeKind::call) {
      const CallRecord& call = graph_.call(target->index);
      if (NodeId cls; instantiated_class(call, cls)) {
        mark(cls, use, effect.offset);
      } else if (const Node* callee = node_of(call.callee); callee != nullptr && callee->kind == NodeKind::global) {
        mark(call.callee.node, use, effect.offset);
      }
      return;  // calls through anything else were reported as indirect calls already
    }
    if (target != nullptr && target->kind == NodeKind::global) {
      const auto& ref = graph_.global(target->index);
      add(use == SymbolUse::build ? "build.on-global" : "mutate.on-global", Severity::malicious, effect.offset,
          ref.qualified(),
          std::string(verb) + " on the imported object " + ref.qualified() +
              " itself (not on an instance): it overwrites attributes of a module or class, changing program "
              "state for everything loaded later");
      return;
    }
    if (target != nullptr && target->kind == NodeKind::persistent) {
      add("build.on-persistent", Severity::suspicious, effect.offset, {},
          std::string(verb) + " on an object returned by the loader's persistent_load; real writers never do this");
      return;
    }
    add(use == SymbolUse::build ? "build.unexpected-target" : "mutate.unexpected-target", Severity::suspicious,
        effect.offset, {},
        std::string(verb) + " on " + value_text(graph_, effect.target, 60) +
            ", which no real writer produces; the load either raises here or calls a method on it");
  }

  void on_persistent_id(const Effect& effect) {
    // Globals named inside a persistent id (torch storage types) are used as persistent ids.
    std::vector<Value> pending{effect.argument};
    int budget = 64;
    while (!pending.empty() && budget-- > 0) {
      Value value = pending.back();
      pending.pop_back();
      const Node* node = node_of(value);
      if (node == nullptr) continue;
      if (node->kind == NodeKind::global) mark(value.node, SymbolUse::persistent_id, effect.offset);
      if (node->kind == NodeKind::tuple)
        for (Value child : graph_.children(node->index)) pending.push_back(child);
    }
  }

  void on_discard(const Effect& effect) {
    add("structure.discarded-call", Severity::suspicious, effect.offset, {},
        "the result of " + value_text(graph_, effect.target, 100) +
            " is thrown away (POP): a call made only for its side effect is the shape of an injected payload");
  }

  const ObjectGraph& graph_;
  const std::string& member_;
  std::vector<Finding>& findings_;
  std::unordered_map<NodeId, GlobalUse> uses_;
};

}  // namespace

std::vector<GlobalUse> collect_symbol_uses(const PickleProgram& program, const std::string& member,
                                           std::vector<Finding>& findings) {
  return Collector(program, member, findings).run();
}

}  // namespace picklewall::detail
