#include "pickle/value_text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <vector>

namespace picklewall::detail {
namespace {

constexpr int max_depth = 12;

struct Task {
  bool literal;
  std::string text;  // literal text
  Value value;
  int depth = 0;
};

// The shortest text that reads back as the same double (as Python's repr: 0.9, not 0.90000000000000002).
std::string number_text(double real) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, real);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".eni") == std::string::npos) text += ".0";  // 2.0, not 2: it is a float
  return text;
}

}  // namespace

std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  std::size_t end = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the character that straddles the cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return end;
}

std::string shorten_name(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return std::string(text.substr(0, utf8_prefix_length(text, max_bytes))) + "... (" + std::to_string(text.size()) +
         " bytes)";
}

std::string quote_text(std::string_view text, std::size_t max_chars, bool is_bytes) {
  std::string out = is_bytes ? "b'" : "'";
  std::size_t shown = 0;
  for (unsigned char c : text) {
    // Characters are counted at their first byte, so a str is never cut inside a multi-byte character.
    const bool starts_character = is_bytes || (c & 0xC0) != 0x80;
    if (starts_character && shown++ >= max_chars) {
      out += "...";
      break;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f || (is_bytes && c >= 0x80)) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\x%02x", c);
          out += escape;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "'";
  if (text.size() > max_chars) out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string value_text(const ObjectGraph& graph, Value root, std::size_t max_chars, const NodeNames* names) {
  const bool contents_kept = graph.detail() == GraphDetail::full;
  std::string out;
  std::vector<Task> tasks;
  tasks.push_back(Task{false, {}, root, 0});
  auto push_literal = [&](std::string text) { tasks.push_back(Task{true, std::move(text), Value(), 0}); };
  auto push_sequence = [&](const std::vector<Value>& items, int depth, const char* open, const char* close,
                           bool pairs, bool trailing_comma_for_one) {
    push_literal(close);
    if (trailing_comma_for_one && items.size() == 1) push_literal(",");
    // Every item prints as two characters at least (itself and a separator): items past what the output budget
    // could show are not queued, so a million-item tuple costs what it shows, not a million tasks.
    const std::size_t room = max_chars > out.size() ? max_chars - out.size() : 0;
    const std::size_t shown = std::min(items.size(), room / 2 + 1);
    if (shown < items.size()) push_literal(", ...");
    for (std::size_t i = shown; i-- > 0;) {
      tasks.push_back(Task{false, {}, items[i], depth + 1});
      if (i > 0) push_literal(pairs && i % 2 == 1 ? ": " : ", ");
    }
    push_literal(open);
  };
  while (!tasks.empty() && out.size() < max_chars) {
    Task task = std::move(tasks.back());
    tasks.pop_back();
    if (task.literal) {
      out += task.text;
      continue;
    }
    const Value v = task.value;
    switch (v.kind) {
      case ValueKind::none: out += "None"; continue;
      case ValueKind::boolean: out += v.integer ? "True" : "False"; continue;
      case ValueKind::integer: out += std::to_string(v.integer); continue;
      case ValueKind::big_integer: out += "<big int>"; continue;
      case ValueKind::real: out += number_text(v.real); continue;
      case ValueKind::node: break;
      case ValueKind::unset: out += "<unset>"; continue;
      case ValueKind::text: out += quote_text({v.chars, v.length}, 60); continue;
      case ValueKind::bytes: out += quote_text({v.chars, v.length}, 24, true); continue;
    }
    if (names != nullptr) {
      if (auto it = names->find(v.node); it != names->end()) {
        out += it->second;
        continue;
      }
    }
    if (task.depth > max_depth) {
      out += "...";
      continue;
    }
    const Node& node = graph.node(v.node);
    switch (node.kind) {
      case NodeKind::text: out += quote_text(graph.string(node.index), 60); break;
      case NodeKind::bytes: out += quote_text(graph.string(node.index), 24, true); break;
      case NodeKind::bytearray: out += "bytearray(" + quote_text(graph.string(node.index), 24, true) + ")"; break;
      case NodeKind::tuple: push_sequence(graph.children(node.index), task.depth, "(", ")", false, true); break;
      case NodeKind::list:
      case NodeKind::dict:
      case NodeKind::set:
      case NodeKind::frozenset: {
        const bool is_list = node.kind == NodeKind::list, is_frozen = node.kind == NodeKind::frozenset;
        const char* open = is_list ? "[" : is_frozen ? "frozenset({" : "{";
        const char* close = is_list ? "]" : is_frozen ? "})" : "}";
        if (contents_kept)
          push_sequence(graph.children(node.index), task.depth, open, close, node.kind == NodeKind::dict, false);
        else
          out.append(open).append("...").append(close);  // GraphDetail::effects keeps no items of these
        break;
      }
      case NodeKind::global: out += shorten_name(graph.global(node.index).qualified(), max_chars); break;
      case NodeKind::extension: out += "<extension code " + std::to_string(node.index) + ">"; break;
      case NodeKind::buffer: out += "<out-of-band buffer>"; break;
      case NodeKind::readonly:
        push_literal(")");
        tasks.push_back(Task{false, {}, graph.value_slot(node.index), task.depth + 1});
        push_literal("memoryview(");
        break;
      case NodeKind::persistent:
        push_literal(")");
        tasks.push_back(Task{false, {}, graph.value_slot(node.index), task.depth + 1});
        push_literal("persistent_load(");
        break;
      case NodeKind::call: {
        const CallRecord& call = graph.call(node.index);
        // Arguments print without their tuple parentheses: f(a, b), not f((a, b)).
        push_literal(")");
        if (call.kwargs.is_node()) {
          tasks.push_back(Task{false, {}, call.kwargs, task.depth + 1});
          push_literal(", **");
        }
        if (call.args.is_node() && graph.node(call.args.node).kind == NodeKind::tuple) {
          const auto& items = graph.children(graph.node(call.args.node).index);
          const std::size_t room = max_chars > out.size() ? max_chars - out.size() : 0;
          const std::size_t shown = std::min(items.size(), room / 2 + 1);
          if (shown < items.size()) push_literal(", ...");
          for (std::size_t i = shown; i-- > 0;) {
            tasks.push_back(Task{false, {}, items[i], task.depth + 1});
            if (i > 0) push_literal(", ");
          }
        } else {
          tasks.push_back(Task{false, {}, call.args, task.depth + 1});
          push_literal("*");
        }
        push_literal("(");
        tasks.push_back(Task{false, {}, call.callee, task.depth + 1});
        if (call.opcode == Opcode::NEWOBJ || call.opcode == Opcode::NEWOBJ_EX) push_literal("new ");
        break;
      }
    }
  }
  if (!tasks.empty() || out.size() > max_chars) {
    out.resize(utf8_prefix_length(out, max_chars));
    out += "...";
  }
  return out;
}

}  // namespace picklewall::detail
