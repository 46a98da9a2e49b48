#include "analysis/symbol_uses.hpp"

#include <algorithm>
#include <unordered_map>

#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

// How far the analysis looks into a value for the objects it holds (a hook table's entries): a bound, so a
// hostile graph of shared containers costs a fixed amount per question.
constexpr int max_nodes_looked_at = 64;

bool is_dunder(std::string_view name) { return name.size() > 4 && name.starts_with("__") && name.ends_with("__"); }

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string ordinal(int position) { return "argument " + std::to_string(position + 1); }

class Collector {
 public:
  Collector(const PickleProgram& program, const Policy& policy, const std::string& member,
            std::vector<Finding>& findings)
      : graph_(program.graph), policy_(policy), member_(member), findings_(findings) {}

  std::vector<GlobalUse> run() {
    // Objects that receive items (an OrderedDict() filled by SETITEMS): a hook table with entries is one of them.
    for (const Effect& effect : graph_.effects())
      if (effect.kind == EffectKind::mutate && effect.target.is_node()) filled_[effect.target.node].push_back(effect.argument);
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

  const ArgumentEffects* passes_of(Value callee) const {
    const GlobalRef* ref = graph_.as_global(callee);
    return ref == nullptr ? nullptr : policy_.argument_effects(ref->module, ref->name);
  }

  // The positional arguments of a call, when they are a tuple the analysis can see.
  const std::vector<Value>* arguments(const CallRecord& call) const {
    const Node* args = node_of(call.args);
    if (args == nullptr || args->kind != NodeKind::tuple) return nullptr;
    return &graph_.children(args->index);
  }

  // The class an instance factory (copyreg._reconstructor, __newobj__: `instance_of` in the policy) instantiates.
  bool instantiated_class(const CallRecord& call, NodeId& cls) const {
    const ArgumentEffects* passes = passes_of(call.callee);
    const std::vector<Value>* items = arguments(call);
    if (passes == nullptr || passes->instance_of < 0 || items == nullptr) return false;
    const auto at = static_cast<std::size_t>(passes->instance_of);
    if (at >= items->size() || graph_.as_global((*items)[at]) == nullptr) return false;
    cls = (*items)[at].node;
    return true;
  }

  std::string symbol_of(Value value) const {
    const GlobalRef* ref = graph_.as_global(value);
    return ref == nullptr ? std::string() : ref->qualified();
  }

  // `value` is called at load time because of something other than a REDUCE on it (`why` says what). A global
  // is judged as called; an object made during the load is an indirect call; a constant would make the load raise.
  void called(Value value, std::uint64_t offset, const std::string& why) {
    const Node* node = node_of(value);
    if (node == nullptr) return;
    if (node->kind == NodeKind::global) {
      mark(value.node, SymbolUse::call, offset);
      GlobalUse& entry = uses_[value.node];
      if (entry.via.empty() && !entry.has_call) entry.via = why;
      return;
    }
    if (node->kind == NodeKind::call || node->kind == NodeKind::persistent || node->kind == NodeKind::readonly ||
        node->kind == NodeKind::extension) {
      add("call.indirect", Severity::malicious, offset, {},
          "calls an object produced during the load (" + value_text(graph_, value, 120) + "): " + why +
              "; real writers only call importable data constructors");
    }
  }

  // A call to an allowlisted data constructor (OrderedDict(), set([...])): a value, not code.
  bool is_data_call(Value value) const {
    const Node* node = node_of(value);
    if (node == nullptr || node->kind != NodeKind::call) return false;
    const GlobalRef* callee = graph_.as_global(graph_.call(node->index).callee);
    return callee != nullptr &&
           policy_.judge(callee->module, callee->name, SymbolUse::call).rule == "global.allowed";
  }

  // True when a hook table holds code of its own: a function, an object from the loader, or a call through
  // something that is not an importable class. Instances of classes (torch's pruning and weight-norm hooks) are
  // not counted here: constructing them was a call of their class, judged as such. Bounded.
  bool holds_code(Value table) const {
    std::vector<Value> pending{table};
    int looked_at = 0;
    bool first = true;
    while (!pending.empty() && looked_at++ < max_nodes_looked_at) {
      Value next = pending.back();
      pending.pop_back();
      const Node* node = node_of(next);
      if (node == nullptr) continue;
      const bool entry = !first;
      first = false;
      switch (node->kind) {
        case NodeKind::global: case NodeKind::persistent: case NodeKind::extension:
          if (entry) return true;
          break;
        case NodeKind::tuple: case NodeKind::list: case NodeKind::dict: case NodeKind::set: case NodeKind::frozenset:
          for (Value child : graph_.children(node->index)) pending.push_back(child);
          break;
        case NodeKind::call: {
          const CallRecord& call = graph_.call(node->index);
          if (graph_.as_global(call.callee) == nullptr) return true;
          if (entry && !is_data_call(next)) break;  // an instance: its class was judged when it was made
          pending.push_back(call.args);
          if (auto items = filled_.find(next.node); items != filled_.end())
            for (Value item : items->second) pending.push_back(item);
          break;
        }
        default: break;
      }
    }
    return false;
  }

  // The (key, value) pairs of a mapping the load builds: a dict literal, or a dict / OrderedDict made by a call
  // (from a list of pairs, and from the SETITEMs it received). Anything else holds no pairs the analysis can read.
  void mapping_entries(Value mapping, std::vector<std::pair<Value, Value>>& out) const {
    const Node* node = node_of(mapping);
    if (node == nullptr) return;
    const auto pairs_of = [&](const std::vector<Value>& items) {
      for (std::size_t i = 0; i + 1 < items.size(); i += 2) out.emplace_back(items[i], items[i + 1]);
    };
    if (node->kind == NodeKind::dict) {
      pairs_of(graph_.children(node->index));
      return;
    }
    if (node->kind != NodeKind::call || !is_data_call(mapping)) return;
    const CallRecord& call = graph_.call(node->index);
    if (const std::vector<Value>* items = arguments(call); items != nullptr && !items->empty()) {
      if (const Node* source = node_of(items->front()); source != nullptr) {
        if (source->kind == NodeKind::dict) pairs_of(graph_.children(source->index));
        if (source->kind == NodeKind::list || source->kind == NodeKind::tuple)
          for (Value pair : graph_.children(source->index))
            if (const Node* two = node_of(pair); two != nullptr && (two->kind == NodeKind::tuple || two->kind == NodeKind::list))
              if (const auto& kv = graph_.children(two->index); kv.size() == 2) out.emplace_back(kv[0], kv[1]);
      }
    }
    if (auto effects = filled_.find(mapping.node); effects != filled_.end())
      for (Value items : effects->second)
        if (const Node* tuple = node_of(items); tuple != nullptr && tuple->kind == NodeKind::tuple)
          pairs_of(graph_.children(tuple->index));
  }

  // A key's text: a str constant, or str(...) / a data call of a str constant (a key built at load time to hide).
  std::optional<std::string_view> key_text(Value key) const {
    if (auto text = graph_.text_of(key)) return text;
    const Node* node = node_of(key);
    if (node == nullptr || node->kind != NodeKind::call || !is_data_call(key)) return std::nullopt;
    const std::vector<Value>* items = arguments(graph_.call(node->index));
    if (items == nullptr || items->size() != 1) return std::nullopt;
    return graph_.text_of(items->front());
  }

  // State a BUILD (or a helper's `state` argument) applies to `target`: a mapping, or (mapping, slots) as CPython's
  // load_build reads it, and a `__dict__` in the slots replaces the instance dict wholesale. Dunder attributes, a
  // framework's methods and its hook tables are code; attributes the unpickler calls later (extend, append, add,
  // __setstate__) are remembered for the opcode that calls them.
  void check_state(Value state, Value target, std::uint64_t offset, const std::string& how) {
    std::vector<Value> parts{state};
    if (const Node* node = node_of(state); node != nullptr && node->kind == NodeKind::tuple) {
      const auto& items = graph_.children(node->index);
      if (items.size() != 2) return;
      parts = {items[0], items[1]};
    }
    const StateRules& rules = policy_.state_rules();
    const std::string object = value_text(graph_, target, 80);
    std::vector<std::pair<Value, Value>> entries;
    for (std::size_t part = 0; part < parts.size() && part < 8; ++part) {
      entries.clear();
      mapping_entries(parts[part], entries);
      for (const auto& [key_value, value] : entries) {
        if (!value.is_node()) continue;
        const std::optional<std::string_view> key = key_text(key_value);
        if (!key) {
          // A key the analysis cannot read: it may name any attribute, the ones the unpickler calls included.
          attributes_[target.node]["*"] = value;
          continue;
        }
        const std::string name(*key);
        const std::string shown = value_text(graph_, value, 100);
        if (listed(rules.unpickler_calls, name) || name == "__setstate__") attributes_[target.node][name] = value;
        if (name == "__dict__") {
          parts.push_back(value);  // slot state's __dict__ becomes the instance dict: judge what it holds
        } else if (name == "__class__") {
          mark_as_called(value, offset);
          add("state.class-assignment", Severity::malicious, offset, symbol_of(value),
              how + " sets __class__ of " + object + " to " + shown + ": the object becomes an instance of that "
                  "class, so its __del__, __eq__, __getattr__ and other methods run when the object is used or "
                  "collected; no real writer does this");
        } else if (is_dunder(name) && !is_data_call(value) &&
                   (graph_.as_global(value) != nullptr || node_of(value)->kind == NodeKind::call ||
                    node_of(value)->kind == NodeKind::persistent)) {
          mark_as_called(value, offset);
          add("state.dunder-attribute", Severity::malicious, offset, symbol_of(value),
              how + " sets " + name + " on " + object + " to " + shown + ": a special method stored on the "
                  "object runs when Python or the unpickler looks it up (BUILD calls __setstate__, a re-save calls "
                  "__reduce_ex__), which is how payloads persist");
        } else if (listed(rules.hooks, name) && holds_code(value)) {
          add("state.hook", Severity::malicious, offset, symbol_of(value),
              how + " puts a function into the hook table " + name + " of " + object + " (" + shown + "): every "
                  "hook in it runs when the model is used (forward, backward, state_dict, load); torch's own hooks "
                  "that checkpoints keep (pruning, weight norm) are objects of torch classes, not functions");
        } else if (listed(rules.methods, name) && !is_data_call(value) &&
                   (graph_.as_global(value) != nullptr || node_of(value)->kind == NodeKind::call ||
                    node_of(value)->kind == NodeKind::persistent)) {
          mark_as_called(value, offset);
          add("state.method-override", Severity::malicious, offset, symbol_of(value),
              how + " sets " + name + " on " + object + " to " + shown + ": an instance attribute shadows the "
                  "class's method, so that object runs instead of " + name + " on every use");
        }
      }
    }
  }

  // A global that state makes callable on the object (its class, its method): judged as called, so the finding
  // also says what that code is.
  void mark_as_called(Value value, std::uint64_t offset) {
    if (graph_.as_global(value) != nullptr) called(value, offset, "installed on an object through its state");
  }

  // What an allowlisted callable does with its arguments (load_effects.toml), followed as if written out.
  void apply_passes(const CallRecord& call, Value result, std::uint64_t offset) {
    const ArgumentEffects* passes = passes_of(call.callee);
    if (passes == nullptr) return;
    const std::string callee = symbol_of(call.callee);
    const std::vector<Value>* items = arguments(call);
    if (items == nullptr) {
      // Real writers hand these helpers a literal tuple. Arguments built at load time (tuple(list), a call
      // result) cannot be read position by position, and the helper calls or keeps what it is given.
      if (!passes->calls.empty() || !passes->calls_method.empty() || !passes->state.empty() || !passes->hooks.empty())
        add("call.opaque-arguments", Severity::malicious, offset, callee,
            callee + " is called with arguments built at load time (" + value_text(graph_, call.args, 100) +
                "), and it calls, applies or keeps what it is given (" + passes->reason + "); real writers pass a "
                "literal tuple, so what it would call cannot be read");
      return;
    }
    const auto argument = [&](int position) -> std::optional<Value> {
      if (static_cast<std::size_t>(position) >= items->size()) return std::nullopt;
      return (*items)[static_cast<std::size_t>(position)];
    };
    for (int position : passes->calls)
      if (auto value = argument(position)) called(*value, offset, "passed as " + ordinal(position) + " to " + callee + ", which calls it");
    for (int position : passes->calls_method)
      if (auto value = argument(position); value && !is_builtin_object(*value))
        called(*value, offset, "passed as " + ordinal(position) + " to " + callee + ", which calls its methods");
    for (int position : passes->state)
      if (auto value = argument(position)) check_state(*value, result, offset, callee + " (" + ordinal(position) + ")");
    for (int position : passes->hooks) {
      if (auto value = argument(position); value && holds_code(*value)) {
        add("state.hook", Severity::malicious, offset, {},
            callee + " keeps its " + ordinal(position) + " (" + value_text(graph_, *value, 100) + ") as the "
                "tensor's hooks, and it holds entries: each runs when gradients flow through the tensor; "
                "torch.save writes this empty");
      }
    }
  }

  bool is_builtin_object(Value value) const {
    const GlobalRef* ref = graph_.as_global(value);
    return ref != nullptr && ref->module == "builtins" && ref->name == "object";
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
      apply_passes(call, effect.target, effect.offset);
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
    if (target != nullptr && (target->kind == NodeKind::call || target->kind == NodeKind::persistent)) {
      if (use == SymbolUse::build) {
        call_remembered(effect, "__setstate__", "BUILD calls the __setstate__ that earlier state put on the object");
        check_state(effect.argument, effect.target, effect.offset, "BUILD");
      } else if (effect.opcode == Opcode::APPEND || effect.opcode == Opcode::APPENDS) {
        // _pickle.c calls extend (else append) on anything that is not a list; pickle.py calls append for APPEND.
        call_remembered(effect, "extend", "APPEND/APPENDS call the `extend` attribute that earlier state set");
        call_remembered(effect, "append", "APPEND/APPENDS call the `append` attribute that earlier state set");
      } else if (effect.opcode == Opcode::ADDITEMS) {
        call_remembered(effect, "add", "ADDITEMS calls the `add` attribute that earlier state set");
      }
    }
    if (target != nullptr && target->kind == NodeKind::call) {
      const CallRecord& call = graph_.call(target->index);
      if (NodeId cls; instantiated_class(call, cls)) {
        mark(cls, use, effect.offset);
      } else if (const Node* callee = node_of(call.callee); callee != nullptr && callee->kind == NodeKind::global) {
        mark(call.callee.node, use, effect.offset);
      }
      if (use == SymbolUse::build) build_calls(call, effect);
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

  // An attribute earlier state put on the target, that this opcode looks up and calls.
  void call_remembered(const Effect& effect, const char* attribute, const char* why) {
    auto object = attributes_.find(effect.target.node);
    if (object == attributes_.end()) return;
    for (const char* name : {attribute, "*"})
      if (auto it = object->second.find(name); it != object->second.end()) called(it->second, effect.offset, why);
  }

  // BUILD state items that the built object calls (functools.partial's function, set again by __setstate__).
  void build_calls(const CallRecord& call, const Effect& effect) {
    const ArgumentEffects* passes = passes_of(call.callee);
    const Node* state = node_of(effect.argument);
    if (passes == nullptr || passes->build_calls.empty() || state == nullptr || state->kind != NodeKind::tuple) return;
    const auto& items = graph_.children(state->index);
    for (int position : passes->build_calls)
      if (static_cast<std::size_t>(position) < items.size())
        called(items[static_cast<std::size_t>(position)], effect.offset,
               "item " + std::to_string(position + 1) + " of the BUILD state of " + symbol_of(call.callee) +
                   ", which calls it");
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
  const Policy& policy_;
  const std::string& member_;
  std::vector<Finding>& findings_;
  std::unordered_map<NodeId, GlobalUse> uses_;
  std::unordered_map<NodeId, std::vector<Value>> filled_;  // objects that received items, and the objects among them
  // Attributes the unpickler calls (extend, append, add, __setstate__), as state set them, per object.
  std::unordered_map<NodeId, std::unordered_map<std::string, Value>> attributes_;
};

}  // namespace

std::vector<GlobalUse> collect_symbol_uses(const PickleProgram& program, const Policy& policy, const std::string& member,
                                           std::vector<Finding>& findings) {
  return Collector(program, policy, member, findings).run();
}

}  // namespace picklewall::detail
