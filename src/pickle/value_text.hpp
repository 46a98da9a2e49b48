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
// A Python string literal for `text`, truncated to `max_chars` characters of content (never inside one).
std::string quote_text(std::string_view text, std::size_t max_chars, bool is_bytes = false);

// `text` itself when it has at most `max_bytes` bytes; otherwise its first part, cut on a character boundary,
// and how long it was: names built to be huge stay readable in a finding.
std::string shorten_name(std::string_view text, std::size_t max_bytes);

// The longest prefix of `text` with at most `max_bytes` bytes that does not end inside a UTF-8 sequence.
std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes);

}  // namespace picklewall::detail
