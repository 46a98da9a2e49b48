// Renders a graph value as Python-like text (`builtins.exec('import os...')`) for findings and `inspect`.
// Iterative with a depth cap and an output budget: cyclic and deeply nested graphs print in bounded time.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "pickle/object_graph.hpp"

namespace picklewall::detail {

// Lists, dicts and sets whose contents were not kept (GraphDetail::effects) print as `[...]`, `{...}`.
// `names` (inspect's decompiler): nodes already bound to a variable print as that name, not their contents.
using NodeNames = std::unordered_map<NodeId, std::string>;
std::string value_text(const ObjectGraph& graph, Value value, std::size_t max_chars = 160,
                       const NodeNames* names = nullptr);
// A Python string literal for `text`, truncated to `max_chars` characters of content.
std::string quote_text(std::string_view text, std::size_t max_chars, bool is_bytes = false);

}  // namespace picklewall::detail
