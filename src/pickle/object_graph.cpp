#include "pickle/object_graph.hpp"

#include <algorithm>

namespace picklewall::detail {

void ObjectGraph::reserve_for_input(std::uint64_t bytes, std::uint64_t max_nodes) {
  // Every node and container takes at least one opcode byte. (strings_ holds only strings of 4 GiB and more.)
  const auto bound = static_cast<std::size_t>(std::min(bytes, max_nodes));
  nodes_.reserve(bound);
  containers_.reserve(bound / 2);
}

NodeId ObjectGraph::add_node(NodeKind kind, std::uint32_t index) {
  nodes_.push_back(Node{kind, index});
  return static_cast<NodeId>(nodes_.size() - 1);
}

std::uint32_t ObjectGraph::add_string_view(std::string_view text) {
  strings_.push_back(text);
  return static_cast<std::uint32_t>(strings_.size() - 1);
}

std::uint32_t ObjectGraph::add_string_copy(std::string text) {
  owned_string_bytes_ += text.size();
  owned_strings_.push_back(std::move(text));
  return add_string_view(owned_strings_.back());
}

std::uint64_t ObjectGraph::memory_bytes(std::uint64_t kept_items) const {
  return nodes_.size() * sizeof(Node) + strings_.size() * sizeof(std::string_view) + owned_string_bytes_ +
         containers_.size() * sizeof(Container) + children_.size() * sizeof(std::vector<Value>) +
         kept_items * sizeof(Value) + globals_.size() * sizeof(GlobalRef) + calls_.size() * sizeof(CallRecord) +
         values_.size() * sizeof(Value) + effects_.size() * sizeof(Effect);
}

std::uint32_t ObjectGraph::add_container(bool keep_children) {
  Container container;
  if (keep_children) {
    children_.emplace_back();
    container.children = static_cast<std::uint32_t>(children_.size() - 1);
  }
  containers_.push_back(container);
  return static_cast<std::uint32_t>(containers_.size() - 1);
}

const std::vector<Value>& ObjectGraph::children(std::uint32_t container) const {
  static const std::vector<Value> none;
  const std::uint32_t index = containers_[container].children;
  return index == no_children ? none : children_[index];
}

const std::vector<std::uint32_t>& ObjectGraph::builds_on(NodeId node) const {
  for (; builds_indexed_ < effects_.size(); ++builds_indexed_) {
    const Effect& effect = effects_[builds_indexed_];
    if (effect.kind == EffectKind::build && effect.target.is_node())
      builds_index_[effect.target.node].push_back(static_cast<std::uint32_t>(builds_indexed_));
  }
  static const std::vector<std::uint32_t> none;
  auto it = builds_index_.find(node);
  return it == builds_index_.end() ? none : it->second;
}

std::vector<Value>& ObjectGraph::start_children(std::uint32_t container) {
  std::uint32_t& index = containers_[container].children;
  if (index == no_children) {
    children_.emplace_back();
    index = static_cast<std::uint32_t>(children_.size() - 1);
  }
  return children_[index];
}

std::vector<Value>* ObjectGraph::kept_children(std::uint32_t container) {
  const std::uint32_t index = containers_[container].children;
  return index == no_children ? nullptr : &children_[index];
}

std::uint32_t ObjectGraph::add_global(GlobalRef ref) {
  owned_string_bytes_ += ref.module.size() + ref.name.size() + ref.original_module.size() + ref.original_name.size();
  globals_.push_back(std::move(ref));
  return static_cast<std::uint32_t>(globals_.size() - 1);
}

std::uint32_t ObjectGraph::add_call(CallRecord call) {
  calls_.push_back(call);
  return static_cast<std::uint32_t>(calls_.size() - 1);
}

std::uint32_t ObjectGraph::add_value(Value value) {
  values_.push_back(value);
  return static_cast<std::uint32_t>(values_.size() - 1);
}

const GlobalRef* ObjectGraph::as_global(Value value) const {
  if (!value.is_node()) return nullptr;
  const Node& n = nodes_[value.node];
  return n.kind == NodeKind::global ? &globals_[n.index] : nullptr;
}

std::optional<std::string_view> ObjectGraph::text_of(Value value) const {
  if (value.kind == ValueKind::text || value.kind == ValueKind::bytes) return std::string_view(value.chars, value.length);
  if (!value.is_node()) return std::nullopt;
  const Node& n = nodes_[value.node];
  if (n.kind == NodeKind::text || n.kind == NodeKind::bytes) return strings_[n.index];
  return std::nullopt;
}

bool ObjectGraph::is_str(Value value) const {
  return value.kind == ValueKind::text || (value.is_node() && nodes_[value.node].kind == NodeKind::text);
}

Value ObjectGraph::text_value(ValueKind kind, std::string_view text, bool copy) {
  if (copy) {
    owned_string_bytes_ += text.size();
    owned_strings_.emplace_back(text);
    text = owned_strings_.back();
  }
  return Value::make_text(kind, text);
}

}  // namespace picklewall::detail
