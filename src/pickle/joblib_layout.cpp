#include "pickle/joblib_layout.hpp"

#include <string>

#include "io/checked.hpp"

namespace picklewall::detail {
namespace {

Error bad(std::string message) { return Error{ErrorCode::malformed, std::move(message)}; }

const std::vector<Value>* container_items(const ObjectGraph& graph, Value value, NodeKind kind) {
  if (!value.is_node() || graph.node(value.node).kind != kind) return nullptr;
  return &graph.children(graph.node(value.node).index);
}

// The value stored under a str key of a dict node, or nothing.
std::optional<Value> dict_get(const ObjectGraph& graph, const std::vector<Value>& items, std::string_view key) {
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    const auto text = graph.text_of(items[i]);
    if (text && *text == key) return items[i + 1];
  }
  return std::nullopt;
}

}  // namespace

std::string_view numpy_type_code(std::string_view descr) {
  while (!descr.empty() && (descr.front() == '<' || descr.front() == '>' || descr.front() == '|' || descr.front() == '='))
    descr.remove_prefix(1);
  return descr;
}

Result<NumpyDtypeFacts> numpy_dtype_facts(const ObjectGraph& graph, Value dtype) {
  if (!dtype.is_node() || graph.node(dtype.node).kind != NodeKind::call) return bad("dtype is not a numpy.dtype call");
  const CallRecord& call = graph.call(graph.node(dtype.node).index);
  const GlobalRef* callee = graph.as_global(call.callee);
  if (callee == nullptr || callee->name != "dtype" || (callee->module != "numpy" && callee->module != "numpy.core.multiarray"))
    return bad("dtype is not made by numpy.dtype");
  const auto* args = container_items(graph, call.args, NodeKind::tuple);
  const auto descr = args != nullptr && !args->empty() ? graph.text_of(args->front()) : std::nullopt;
  if (!descr) return bad("numpy.dtype call without a type string");
  NumpyDtypeFacts facts;
  facts.descr = std::string(*descr);
  for (std::uint32_t index : graph.builds_on(dtype.node)) {
    const Effect& effect = graph.effects()[index];
    const auto* state = container_items(graph, effect.argument, NodeKind::tuple);
    if (state != nullptr && state->size() >= 6 && (*state)[5].kind == ValueKind::integer) facts.elsize = (*state)[5].integer;
    if (state != nullptr && state->size() >= 5) facts.fields = (*state)[4];
    if (state != nullptr && state->size() >= 2)
      if (auto order = graph.text_of((*state)[1]); order && order->size() == 1) facts.byte_order = order->front();
  }
  return facts;
}

namespace {

Result<std::uint64_t> itemsize_of(const NumpyDtypeFacts& facts) {
  if (facts.elsize > 0) return static_cast<std::uint64_t>(facts.elsize);
  const std::string_view code = numpy_type_code(facts.descr);
  if (code == "?") return std::uint64_t{1};
  if (code.size() < 2) return bad("dtype '" + facts.descr + "' has no size");
  std::uint64_t digits = 0;
  for (char c : code.substr(1)) {
    if (c < '0' || c > '9' || digits > (1u << 30)) return bad("dtype '" + facts.descr + "' has no size");
    digits = digits * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return code.front() == 'U' ? digits * 4 : digits;
}

bool names_object(const std::string& descr) {
  const std::string_view code = numpy_type_code(descr);
  return !code.empty() && code.front() == 'O';
}

}  // namespace

Result<JoblibArrayLayout> joblib_array_layout(const ObjectGraph& graph, Value state) {
  const auto* items = container_items(graph, state, NodeKind::dict);
  if (items == nullptr) return bad("state is not a dict");
  const auto shape = dict_get(graph, *items, "shape");
  const auto dtype = dict_get(graph, *items, "dtype");
  if (!shape || !dtype) return bad("state lacks shape or dtype");
  const auto* dims = container_items(graph, *shape, NodeKind::tuple);
  if (dims == nullptr) return bad("shape is not a tuple");

  auto facts = numpy_dtype_facts(graph, *dtype);
  if (!facts) return facts.error();
  JoblibArrayLayout layout;
  layout.has_object = names_object(facts.value().descr);
  if (const auto* fields = container_items(graph, facts.value().fields, NodeKind::dict)) {
    // Structured dtype: an object field anywhere makes the whole array a pickle.
    for (std::size_t i = 1; i < fields->size(); i += 2) {
      const auto* entry = container_items(graph, (*fields)[i], NodeKind::tuple);
      if (entry == nullptr || entry->empty()) return bad("structured dtype field is not (dtype, offset)");
      auto field = numpy_dtype_facts(graph, entry->front());
      if (!field) return field.error();
      if (field.value().fields.is_node()) return bad("nested structured dtypes are not supported");
      if (names_object(field.value().descr)) layout.has_object = true;
    }
  }
  if (layout.has_object) return layout;

  std::uint64_t count = 1;
  for (Value dim : *dims) {
    if (dim.kind != ValueKind::integer || dim.integer < 0) return bad("shape holds a negative or non-integer size");
    auto product = checked_mul(count, static_cast<std::uint64_t>(dim.integer));
    if (!product) return bad("shape overflows");
    count = *product;
  }
  auto itemsize = itemsize_of(facts.value());
  if (!itemsize) return itemsize.error();
  auto bytes = checked_mul(count, itemsize.value());
  if (!bytes) return bad("array size overflows");
  layout.bytes = *bytes;
  const auto alignment = dict_get(graph, *items, "numpy_array_alignment_bytes");
  layout.aligned = alignment && alignment->kind == ValueKind::integer;
  return layout;
}

}  // namespace picklewall::detail
