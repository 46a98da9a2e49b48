// What a pickle would build, as data: never a real Python object. Scalars live inline in a Value; everything
// else is a node in one arena, referenced by index, so a graph is torn down without recursion and shared
// references (memo GETs) are just repeated indices.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/big_array_allocator.hpp"
#include "pickle/opcodes.hpp"

namespace picklewall::detail {

using NodeId = std::uint32_t;

// How much of the object graph to keep. Judging a load needs calls, their argument tuples, persistent ids and
// the strings that name globals; the contents of lists, dicts and sets matter only to inspect and convert, and
// keeping them is most of the cost of a big data pickle.
enum class GraphDetail { effects, full };

// `unset` marks a free memo slot; it never appears on the VM stack or in the graph. `text` (str) and `bytes`
// point at their characters (in the input, or in the graph's pool when they had to be decoded): strings are
// most of a data pickle, and a node per string was a third of the graph.
enum class ValueKind : std::uint8_t { none, boolean, integer, big_integer, real, node, unset, text, bytes };

struct Value {
  ValueKind kind = ValueKind::none;
  std::uint32_t length = 0;  // text, bytes
  union {
    std::int64_t integer;
    double real;
    NodeId node;
    const char* chars;
  };
  Value() : integer(0) {}
  static Value make_none() { return Value(); }
  static Value make_bool(bool b) { Value v; v.kind = ValueKind::boolean; v.integer = b; return v; }
  static Value make_int(std::int64_t i) { Value v; v.kind = ValueKind::integer; v.integer = i; return v; }
  static Value make_big_int() { Value v; v.kind = ValueKind::big_integer; return v; }
  static Value make_real(double d) { Value v; v.kind = ValueKind::real; v.real = d; return v; }
  static Value make_node(NodeId id) { Value v; v.kind = ValueKind::node; v.node = id; return v; }
  static Value make_unset() { Value v; v.kind = ValueKind::unset; return v; }
  static Value make_text(ValueKind kind, std::string_view text) {
    Value v;
    v.kind = kind;
    v.length = static_cast<std::uint32_t>(text.size());
    v.chars = text.data();
    return v;
  }
  bool is_node() const { return kind == ValueKind::node; }
};

enum class NodeKind : std::uint8_t {
  text,        // str of 4 GiB or more (shorter ones are inline Values)
  bytes,       // bytes of 4 GiB or more
  bytearray,   // BYTEARRAY8
  tuple, list, dict, set, frozenset,
  global,      // a class or function imported by GLOBAL / STACK_GLOBAL / INST / OBJ target
  extension,   // EXT1/2/4: resolved through copyreg's extension registry at load time
  call,        // the object returned by calling something (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ)
  persistent,  // the object the loader's persistent_load returns for a persistent id
  buffer,      // NEXT_BUFFER: an out-of-band buffer
  readonly,    // READONLY_BUFFER applied to a value
};

struct Node {
  NodeKind kind;
  std::uint32_t index = 0;  // kind-specific: container record, string, call or global id
};

struct GlobalRef {
  std::string module;  // after protocol < 3 name remapping
  std::string name;    // may be dotted (attribute walk)
  std::string original_module;  // as written in the stream (before remapping)
  std::string original_name;
  std::uint64_t offset = 0;
  std::string qualified() const { return module + "." + name; }
};

struct CallRecord {
  Value callee;
  Value args;    // usually a tuple
  Value kwargs;  // NEWOBJ_EX only
  Opcode opcode; // REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ
  std::uint64_t offset = 0;
};

// Effects a load would have, in stream order: what the analysis judges.
enum class EffectKind : std::uint8_t {
  import_global,   // find_class: imports a module and fetches an attribute
  call,            // calls something
  build,           // BUILD: __setstate__ or __dict__ update on `target`
  mutate,          // APPEND/APPENDS/SETITEM/SETITEMS/ADDITEMS: calls a method on `target` when it is not a plain container
  persistent_load, // hands a persistent id to the loader
  extension,       // EXT code lookup
  discard,         // POP / POP_MARK threw away the result of a call
};

struct Effect {
  EffectKind kind;
  Opcode opcode;
  std::uint64_t offset;
  Value target;    // the global/call/persistent node, or the BUILD/mutation target
  Value argument;  // BUILD state, persistent id; for mutate, the first item (GraphDetail::full: a tuple of all)
};

template <class T>
using BigArray = std::vector<T, BigArrayAllocator<T>>;

class ObjectGraph {
 public:
  // Move-only: values hold views into the pool of decoded strings, which a copy would not carry along (a copied
  // graph's views would point into the original's pool). Deleting the copy also makes a vector of programs move
  // its elements when it grows, rather than copy them because the deque's move may throw.
  ObjectGraph() = default;
  ObjectGraph(ObjectGraph&&) = default;
  ObjectGraph& operator=(ObjectGraph&&) = default;
  ObjectGraph(const ObjectGraph&) = delete;
  ObjectGraph& operator=(const ObjectGraph&) = delete;

  // Sizes the arrays for an input of `bytes` up front (address space only: pages are touched as they fill),
  // so a big pickle never pays for reallocation copies.
  void reserve_for_input(std::uint64_t bytes, std::uint64_t max_nodes);

  NodeId add_node(NodeKind kind, std::uint32_t index = 0);
  Node& node(NodeId id) { return nodes_[id]; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  std::size_t node_count() const { return nodes_.size(); }

  // Strings: a view into the input when the bytes are used as-is, an owned copy when they had to be decoded.
  std::uint32_t add_string_view(std::string_view text);
  std::uint32_t add_string_copy(std::string text);
  std::string_view string(std::uint32_t id) const { return strings_[id]; }

  // A container's record (Node::index of tuple/list/dict/set/frozenset nodes). `keep_children` false: only
  // its nesting depth is tracked, its items are not stored (GraphDetail::effects for lists, dicts and sets).
  std::uint32_t add_container(bool keep_children);
  // Items of a container; empty when they were not kept.
  const std::vector<Value>& children(std::uint32_t container) const;
  std::vector<Value>* kept_children(std::uint32_t container);
  // The items of a container, made kept from now on if they were not (a dict that turns out to hold objects).
  std::vector<Value>& start_children(std::uint32_t container);
  // Nesting depth of a container (1 + its deepest child), kept as children arrive.
  std::uint32_t& depth(std::uint32_t container) { return containers_[container].depth; }
  std::uint32_t depth_of(Value value) const {
    if (!value.is_node()) return 0;
    const Node& n = nodes_[value.node];
    const bool container = n.kind == NodeKind::tuple || n.kind == NodeKind::list || n.kind == NodeKind::dict ||
                           n.kind == NodeKind::set || n.kind == NodeKind::frozenset;
    return container ? containers_[n.index].depth : 0;
  }

  std::uint32_t add_global(GlobalRef ref);
  const GlobalRef& global(std::uint32_t id) const { return globals_[id]; }
  std::size_t global_count() const { return globals_.size(); }

  std::uint32_t add_call(CallRecord call);
  const CallRecord& call(std::uint32_t id) const { return calls_[id]; }
  std::size_t call_count() const { return calls_.size(); }

  std::uint32_t add_value(Value value);  // single-value slot (persistent id, readonly target)
  Value value_slot(std::uint32_t id) const { return values_[id]; }

  // Bytes the graph holds (its arrays and pooled strings), for the memory budget. `kept_items`: container
  // children stored so far (the machine counts them).
  std::uint64_t memory_bytes(std::uint64_t kept_items) const;

  GraphDetail detail() const { return detail_; }
  void set_detail(GraphDetail detail) { detail_ = detail; }

  std::vector<Effect>& effects() { return effects_; }
  const std::vector<Effect>& effects() const { return effects_; }
  // Indices into effects() of the BUILDs on `node`, in stream order. Indexed on use and extended as effects are
  // added (they only ever are): convert asks once per array, and a scan of all effects each time was n^2.
  const std::vector<std::uint32_t>& builds_on(NodeId node) const;

  // The global node behind a value, following nothing: only direct global nodes count.
  const GlobalRef* as_global(Value value) const;
  // The characters of a str or bytes value (inline or node); nothing for other values.
  std::optional<std::string_view> text_of(Value value) const;
  // True for a str (what STACK_GLOBAL accepts), inline or node.
  bool is_str(Value value) const;
  // A value for `text`, copied into the graph's pool when `copy` (decoded text with no home in the input).
  Value text_value(ValueKind kind, std::string_view text, bool copy);

 private:
  BigArray<Node> nodes_;
  BigArray<std::string_view> strings_;
  std::deque<std::string> owned_strings_;  // deque: views into it stay valid as it grows
  std::uint64_t owned_string_bytes_ = 0;
  struct Container {
    std::uint32_t children = no_children;  // index into children_
    std::uint32_t depth = 1;
  };
  static constexpr std::uint32_t no_children = UINT32_MAX;
  BigArray<Container> containers_;
  std::vector<std::vector<Value>> children_;
  std::vector<GlobalRef> globals_;
  std::vector<CallRecord> calls_;
  std::vector<Value> values_;
  std::vector<Effect> effects_;
  mutable std::unordered_map<NodeId, std::vector<std::uint32_t>> builds_index_;
  mutable std::size_t builds_indexed_ = 0;  // effects looked at so far
  GraphDetail detail_ = GraphDetail::full;
};

}  // namespace picklewall::detail
