#include "inspect/decompiler.hpp"

#include <unordered_set>

#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

bool is_identifier(std::string_view text) {
  if (text.empty() || (text.front() >= '0' && text.front() <= '9')) return false;
  for (unsigned char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

class Decompiler {
 public:
  Decompiler(const PickleProgram& program, std::size_t max_line_chars)
      : program_(program), graph_(program.graph), max_chars_(max_line_chars) {}

  std::vector<CodeLine> run() {
    for (const Effect& effect : graph_.effects()) {
      switch (effect.kind) {
        case EffectKind::import_global: import(effect); break;
        case EffectKind::call: bind(effect.target, effect.offset, render(effect.target, true)); break;
        case EffectKind::persistent_load: bind(effect.target, effect.offset, render(effect.target, true)); break;
        case EffectKind::extension:
          bind(effect.target, effect.offset,
               "copyreg._extension_registry[" + std::to_string(effect.argument.integer) + "]  # EXT code");
          break;
        case EffectKind::build:
          emit(effect.offset, render(effect.target) + ".__setstate__(" + render(effect.argument) + ")  # BUILD");
          break;
        case EffectKind::mutate: mutate(effect); break;
        case EffectKind::discard:
          emit(effect.offset, "del " + render(effect.target) + "  # POP: the result is thrown away");
          break;
      }
    }
    finish();
    return std::move(lines_);
  }

 private:
  // Renders a value; `expand` shows a named node's own definition (its call) instead of its name.
  std::string render(Value value, bool expand = false) {
    if (!expand || !value.is_node()) return value_text(graph_, value, max_chars_, &names_);
    auto it = names_.find(value.node);
    if (it == names_.end()) return value_text(graph_, value, max_chars_, &names_);
    std::string name = std::move(it->second);
    names_.erase(it);
    std::string text = value_text(graph_, value, max_chars_, &names_);
    names_[value.node] = std::move(name);
    return text;
  }

  void emit(std::uint64_t offset, std::string text) { lines_.push_back(CodeLine{offset, std::move(text)}); }

  void bind(Value node, std::uint64_t offset, std::string definition) {
    std::string name = "_var" + std::to_string(next_var_++);
    names_[node.node] = name;
    emit(offset, name + " = " + definition);
  }

  void import(const Effect& effect) {
    const GlobalRef& ref = graph_.global(graph_.node(effect.target.node).index);
    std::string alias = ref.name;
    const bool plain = is_identifier(ref.name) && is_identifier_path(ref.module);
    if (!is_identifier(alias) || used_.contains(alias)) alias = "_g" + std::to_string(next_global_++);
    used_.insert(alias);
    names_[effect.target.node] = alias;
    std::string line;
    if (plain) {
      line = "from " + ref.module + " import " + ref.name + (alias == ref.name ? "" : " as " + alias);
    } else {
      // Dotted names walk attributes (protocol 4), and odd names are imported as written.
      line = alias + " = find_class(" + quote_text(ref.module, 120) + ", " + quote_text(ref.name, 120) + ")";
      if (ref.name.find('.') != std::string::npos) line += "  # attribute walk";
    }
    if (ref.original_module != ref.module || ref.original_name != ref.name)
      line += "  # written as " + ref.original_module + "." + ref.original_name;
    emit(effect.offset, std::move(line));
  }

  static bool is_identifier_path(std::string_view path) {
    std::size_t start = 0;
    while (true) {
      const auto dot = path.find('.', start);
      if (!is_identifier(path.substr(start, dot == std::string_view::npos ? path.npos : dot - start))) return false;
      if (dot == std::string_view::npos) return true;
      start = dot + 1;
    }
  }

  void mutate(const Effect& effect) {
    const std::string target = render(effect.target);
    const Opcode opcode = effect.opcode;
    const bool is_dict = opcode == Opcode::SETITEM || opcode == Opcode::SETITEMS;
    const bool is_set = opcode == Opcode::ADDITEMS;
    // GraphDetail::full keeps every item as a tuple; otherwise only the first item is known.
    const Node* items = effect.argument.is_node() ? &graph_.node(effect.argument.node) : nullptr;
    if (items == nullptr || items->kind != NodeKind::tuple || graph_.detail() != GraphDetail::full) {
      emit(effect.offset, target + (is_dict ? ".__setitem__(" : is_set ? ".add(" : ".append(") +
                              render(effect.argument) + ", ...)");
      return;
    }
    const auto& values = graph_.children(items->index);
    for (std::size_t i = 0; i < values.size(); i += is_dict ? 2 : 1) {
      if (is_dict && i + 1 < values.size())
        emit(effect.offset, target + "[" + render(values[i]) + "] = " + render(values[i + 1]));
      else
        emit(effect.offset, target + (is_set ? ".add(" : ".append(") + render(values[i]) + ")");
    }
  }

  void finish() {
    if (program_.stopped && program_.root) {
      emit(program_.end == 0 ? 0 : program_.end - 1, "result = " + render(*program_.root));
      for (std::size_t i = 0; i < program_.leftover_values.size(); ++i)
        emit(program_.end == 0 ? 0 : program_.end - 1,
             "# also left on the stack, under the result: " + render(program_.leftover_values[i]));
    }
    if (program_.failure)
      emit(program_.failure->offset, "# the load raises here: " + program_.failure->message);
  }

  const PickleProgram& program_;
  const ObjectGraph& graph_;
  std::size_t max_chars_;
  NodeNames names_;
  std::unordered_set<std::string> used_;
  std::vector<CodeLine> lines_;
  std::size_t next_var_ = 0;
  std::size_t next_global_ = 0;
};

}  // namespace

std::vector<CodeLine> decompile(const PickleProgram& program, std::size_t max_line_chars) {
  return Decompiler(program, max_line_chars).run();
}

}  // namespace picklewall::detail
