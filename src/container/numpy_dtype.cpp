#include "container/numpy_dtype.hpp"

#include <algorithm>
#include <set>
#include <vector>

namespace picklewall::detail {
namespace {

// What a parent needs of a finished dtype: whether it holds objects, and whether it is an unnamed void (a void
// scalar or a subarray), which descr_to_dtype drops as padding when its field name is ''.
struct Facts {
  bool object = false;
  bool unnamed_void = false;
  // A flexible type without a size ('S', 'U0', 'V', 'void'): in (dt, n) the n is its size, not a shape.
  bool unsized = false;
};

// numpy.dtype((dt, shape)): what the second element makes of the first.
// `odd_tuple` is a tuple holding more than integers: an invalid shape, or the new dtype of an unsized void.
enum class ShapeForm { same, count, subarray, refused, inexact, not_a_shape, odd_tuple };

bool python_space(char32_t c) {  // \s of Python's re for str patterns
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}
bool byte_order_char(char32_t c) { return c == '<' || c == '>' || c == '|' || c == '='; }
bool ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }

ShapeForm shape_form(const Literal& literal, std::uint32_t index) {
  const LiteralNode& node = literal.node(index);
  constexpr std::uint64_t huge = 1ull << 40;  // numpy refuses subarrays past its size limits; not modelled
  if (node.kind == LiteralKind::boolean) return ShapeForm::refused;
  if (node.kind == LiteralKind::integer) {
    if (node.big) return ShapeForm::inexact;
    if (node.integer < 0) return ShapeForm::refused;
    return static_cast<std::uint64_t>(node.integer) > huge ? ShapeForm::inexact : ShapeForm::count;
  }
  if (node.kind != LiteralKind::tuple && node.kind != LiteralKind::list) return ShapeForm::not_a_shape;
  if (node.children.empty()) return ShapeForm::same;
  std::uint64_t product = 1;
  ShapeForm form = ShapeForm::subarray;
  for (std::uint32_t child : node.children) {
    const LiteralNode& dim = literal.node(child);
    if (dim.kind == LiteralKind::integer && dim.big) {
      form = ShapeForm::inexact;
      continue;
    }
    if (dim.kind == LiteralKind::integer) {
      if (dim.integer < 0) return ShapeForm::refused;
      product = std::min<std::uint64_t>(huge + 1, product * std::max<std::uint64_t>(1, static_cast<std::uint64_t>(dim.integer)));
      if (static_cast<std::uint64_t>(dim.integer) > huge) form = ShapeForm::inexact;
      continue;
    }
    if (dim.kind == LiteralKind::boolean) return ShapeForm::refused;
    // A list of anything but integers is a dtype (the new half of an (old, new) pair).
    return node.kind == LiteralKind::tuple ? ShapeForm::odd_tuple : ShapeForm::not_a_shape;
  }
  return product > huge ? ShapeForm::inexact : form;
}

// One field of a structured descr, as descr_to_dtype unpacks it.
struct FieldPlan {
  std::u32string name;
  std::u32string title;
  bool has_title = false;
  bool name_is_text = true;
  bool name_is_pair = false;      // (title, name): never padding, whatever the name
  bool has_shape = false;
  std::uint32_t shape = 0;        // node, when has_shape
  bool shape_is_text = false;     // a three-character string field: its third character is the "shape"
};

struct Task {
  enum class Kind { descr, text, apply_shape, combine_fields, combine_items } kind = Kind::descr;
  std::uint32_t node = 0;
  std::u32string text;
  ShapeForm shape = ShapeForm::same;
  std::vector<FieldPlan> fields;
  std::vector<ShapeForm> item_shapes;
  std::vector<bool> has_repeats;
  bool is_list = false;
  bool check_duplicates = true;
};

Task make_task(Task::Kind kind, std::uint32_t node = 0, std::u32string text = {}) {
  Task task;
  task.kind = kind;
  task.node = node;
  task.text = std::move(text);
  return task;
}

class DescrReader {
 public:
  explicit DescrReader(const Literal& literal) : literal_(literal) {}

  DtypeReading run(std::uint32_t root) {
    reading_.inexact = literal_.inexact;
    tasks_.push_back(make_task(Task::Kind::descr, root));
    // Each task either pushes a result or schedules the tasks its result needs, then a combining task.
    while (!tasks_.empty() && !reading_.refused) {
      Task task = std::move(tasks_.back());
      tasks_.pop_back();
      switch (task.kind) {
        case Task::Kind::descr: descr(task.node); break;
        case Task::Kind::text: text(task.text); break;
        case Task::Kind::apply_shape: apply_shape(task.shape, task.node); break;
        case Task::Kind::combine_fields: combine_fields(task); break;
        case Task::Kind::combine_items: combine_items(task); break;
      }
    }
    if (!reading_.refused) reading_.object = reading_.object || (!results_.empty() && results_.back().object);
    return reading_;
  }

 private:
  void refuse(const std::string& why) {
    if (reading_.refused) return;
    reading_.refused = true;
    reading_.why = why;
  }
  void inexact(const std::string& why) {
    if (!reading_.inexact && reading_.why.empty()) reading_.why = why;
    reading_.inexact = true;
  }

  // descr_to_dtype(descr): a str is numpy.dtype(str); a tuple is (base, shape); anything else is iterated as a
  // list of fields.
  void descr(std::uint32_t index) {
    const LiteralNode& node = literal_.node(index);
    switch (node.kind) {
      case LiteralKind::string:
        tasks_.push_back(make_task(Task::Kind::text, 0, node.text));
        return;
      case LiteralKind::tuple: {
        if (node.children.empty()) return refuse("an empty tuple as a dtype");
        // descr[1] is read after descr[0] is built, but either failing refuses the file all the same.
        if (node.children.size() < 2) return refuse("a one-element tuple as a dtype");
        Task shape = make_task(Task::Kind::apply_shape, node.children[1]);
        shape.shape = shape_form(literal_, node.children[1]);
        tasks_.push_back(std::move(shape));
        tasks_.push_back(make_task(Task::Kind::descr, node.children[0]));
        return;
      }
      case LiteralKind::list:
        return fields(node.children, true);
      case LiteralKind::set:
        return fields(node.children, node.children.size() < 2);
      case LiteralKind::dict: {
        std::vector<std::uint32_t> keys;
        for (std::size_t i = 0; i < node.children.size(); i += 2) keys.push_back(node.children[i]);
        return fields(keys, keys.size() < 2);
      }
      case LiteralKind::bytes:
        // Iterating bytes gives ints, which have no len(); empty bytes iterate to no fields at all.
        if (!node.text.empty()) return refuse("bytes as a dtype");
        return fields({}, true);
      default:
        return refuse("a dtype that is neither a string, a tuple nor a list of fields");
    }
  }

  // Fields of a structured dtype. `exact` is false for dicts and sets: their order and de-duplication of
  // equal items are not followed here, so duplicate names are not held against them.
  void fields(const std::vector<std::uint32_t>& elements, bool exact) {
    if (!exact) inexact("a dict or set of fields");
    Task combine = make_task(Task::Kind::combine_fields);
    combine.check_duplicates = exact;
    std::vector<Task> children;
    for (std::uint32_t element : elements) {
      const LiteralNode& field = literal_.node(element);
      FieldPlan plan;
      if (field.kind == LiteralKind::string) {
        // A string field unpacks into its characters: 'aO' is the field a of dtype 'O'.
        if (field.text.size() != 2 && field.text.size() != 3) return refuse("a field that is not a pair or triple");
        plan.name = field.text.substr(0, 1);
        plan.has_shape = field.text.size() == 3;
        plan.shape_is_text = plan.has_shape;
        children.push_back(make_task(Task::Kind::text, 0, field.text.substr(1, 1)));
        combine.fields.push_back(std::move(plan));
        continue;
      }
      std::vector<std::uint32_t> parts;
      if (field.kind == LiteralKind::tuple || field.kind == LiteralKind::list) {
        parts = field.children;
      } else if (field.kind == LiteralKind::dict || field.kind == LiteralKind::set) {
        inexact("a dict or set as a field");
        for (std::size_t i = 0; i < field.children.size(); i += field.kind == LiteralKind::dict ? 2 : 1)
          parts.push_back(field.children[i]);
        combine.check_duplicates = false;
      } else {
        return refuse("a field that is not a sequence");  // bytes give ints; numbers have no len()
      }
      if (parts.size() != 2 && parts.size() != 3) return refuse("a field that is not a pair or triple");
      const LiteralNode& name = literal_.node(parts[0]);
      if (name.kind == LiteralKind::string) {
        plan.name = name.text;
      } else if (name.kind == LiteralKind::tuple) {
        if (name.children.size() != 2) return refuse("a (title, name) that is not a pair");
        const LiteralNode& title = literal_.node(name.children[0]);
        const LiteralNode& inner = literal_.node(name.children[1]);
        if (inner.kind != LiteralKind::string) return refuse("a field name that is not a string");
        plan.name = inner.text;
        plan.name_is_pair = true;
        if (title.kind == LiteralKind::string) {
          plan.title = title.text;
          plan.has_title = true;
        } else if (title.kind != LiteralKind::none) {
          inexact("a field title that is not a string");
        }
      } else {
        // descr_to_dtype still builds the field's dtype before numpy refuses the name: keep reading it.
        plan.name_is_text = false;
      }
      plan.has_shape = parts.size() == 3;
      if (plan.has_shape) plan.shape = parts[2];
      children.push_back(make_task(Task::Kind::descr, parts[1]));
      combine.fields.push_back(std::move(plan));
    }
    tasks_.push_back(std::move(combine));
    for (auto it = children.rbegin(); it != children.rend(); ++it) tasks_.push_back(std::move(*it));
  }

  Facts with_shape(Facts base, ShapeForm form, bool shape_holds_object) {
    if (form == ShapeForm::odd_tuple) {
      if (!base.unsized) {
        refuse("an invalid shape in a fixed-type tuple");
        return base;
      }
      form = ShapeForm::not_a_shape;
    }
    if (base.unsized && form != ShapeForm::not_a_shape && form != ShapeForm::inexact) {
      if (form != ShapeForm::count) refuse("invalid itemsize in generic type tuple");
      return Facts{false, base.unnamed_void, false};
    }
    switch (form) {
      case ShapeForm::same: return base;
      case ShapeForm::count:
      case ShapeForm::subarray: return Facts{base.object, true};
      case ShapeForm::refused:
      case ShapeForm::odd_tuple: refuse("an invalid subarray shape"); return base;
      case ShapeForm::inexact: inexact("a subarray shape not followed exactly"); return Facts{base.object, true};
      case ShapeForm::not_a_shape:
        // (base, new): the second element is handed to numpy.dtype as it is. An unsized void takes the new
        // dtype's size and fields, objects included: ('V', 'O') is an object dtype. A sized base with objects
        // is refused; the other pairs are not followed, and count as objects when the new part names one.
        inexact("an (old, new) dtype pair");
        if (base.unsized) return Facts{base.unnamed_void && shape_holds_object, base.unnamed_void};
        if (base.object) refuse("(old, new) dtype pairs with objects are refused");
        return Facts{shape_holds_object, false};
    }
    return base;
  }

  Facts pop_result() {
    Facts facts = results_.back();
    results_.pop_back();
    return facts;
  }

  void apply_shape(ShapeForm form, std::uint32_t shape_node) {
    Facts base = pop_result();
    const bool as_dtype = form == ShapeForm::not_a_shape || form == ShapeForm::odd_tuple;
    results_.push_back(with_shape(base, form, as_dtype && mentions_object(shape_node)));
  }

  void combine_fields(const Task& task) {
    std::vector<Facts> facts(task.fields.size());
    for (std::size_t i = task.fields.size(); i-- > 0;) facts[i] = pop_result();
    std::set<std::u32string> used;
    Facts out;
    for (std::size_t i = 0; i < task.fields.size(); ++i) {
      const FieldPlan& plan = task.fields[i];
      Facts dt = facts[i];
      if (plan.has_shape) {
        if (plan.shape_is_text) dt = with_shape(dt, ShapeForm::not_a_shape, false);
        else dt = with_shape(dt, shape_form(literal_, plan.shape), mentions_object(plan.shape));
      }
      if (!plan.name_is_text) return refuse("a field name that is not a string");
      const bool padding = plan.name.empty() && !plan.name_is_pair && dt.unnamed_void;
      if (padding) continue;
      if (task.check_duplicates) {
        if (!used.insert(plan.name).second) return refuse("a field name used twice");
        if (plan.has_title && !used.insert(plan.title).second) return refuse("a field title used twice");
      }
      out.object = out.object || dt.object;
    }
    results_.push_back(out);
  }

  void combine_items(const Task& task) {
    std::vector<Facts> facts(task.item_shapes.size());
    for (std::size_t i = task.item_shapes.size(); i-- > 0;) facts[i] = pop_result();
    Facts out;
    for (std::size_t i = 0; i < facts.size(); ++i) {
      // An item without repeats is the dtype itself; with them it is (dtype, repeats).
      const Facts item = task.has_repeats[i] ? with_shape(facts[i], task.item_shapes[i], false) : facts[i];
      if (!task.is_list) {
        results_.push_back(item);
        return;
      }
      out.object = out.object || item.object;
    }
    results_.push_back(out);
  }

  // Whether the value anywhere holds a string numpy would read as an object dtype (for the pairs numpy refuses).
  bool mentions_object(std::uint32_t index) const {
    std::vector<std::uint32_t> stack{index};
    while (!stack.empty()) {
      const LiteralNode& node = literal_.node(stack.back());
      stack.pop_back();
      if (node.kind == LiteralKind::string && text_may_hold_object(node.text)) return true;
      for (std::uint32_t child : node.children) stack.push_back(child);
    }
    return false;
  }

  static bool text_may_hold_object(const std::u32string& text) {
    for (char32_t c : text)
      if (c == 'O' || c == 'T' || c == unresolved_code_point) return true;
    return text.find(U"object") != std::u32string::npos;
  }

  // numpy.dtype(str). Comma strings and repeat prefixes go through numpy._core._internal._commastring; the rest
  // is a type code with an optional byte order and size, or a type name.
  void text(const std::u32string& s) {
    if (std::find(s.begin(), s.end(), unresolved_code_point) != s.end()) {
      inexact("a \\N{...} name outside the table of ASCII names");
      results_.push_back(Facts{text_may_hold_object(s), false});
      return;
    }
    if (is_comma_string(s)) return comma_string(s);
    results_.push_back(simple_text(s));
  }

  // _check_for_commastring in numpy's descriptor.c.
  static bool is_comma_string(const std::u32string& s) {
    if (s.empty()) return false;
    if (ascii_digit(s[0]) || (s.size() > 1 && byte_order_char(s[0]) && ascii_digit(s[1]))) return true;
    if ((s.size() > 1 && s[0] == '(' && s[1] == ')') ||
        (s.size() > 3 && byte_order_char(s[0]) && s[1] == '(' && s[2] == ')'))
      return true;
    int brackets = 0;
    for (char32_t c : s) {
      if (c == ',' && brackets == 0) return true;
      if (c == '[') ++brackets;
      if (c == ']') --brackets;
    }
    return false;
  }

  // _commastring: format_re = (order1 [<>|=]?)(repeats ' *[(]?[ ,0-9]*[)]? *')(order2 [<>|=]?)
  // (dtype [A-Za-z0-9.?]*(?:\[[a-zA-Z0-9,.]+\])?), items separated by \s*,\s*, ending at \s+$.
  void comma_string(const std::u32string& s) {
    Task combine = make_task(Task::Kind::combine_items);
    std::vector<Task> items;
    std::size_t at = 0;
    while (at < s.size()) {
      std::u32string order1, order2;
      if (byte_order_char(s[at])) order1 = s.substr(at++, 1);
      const std::size_t repeats_start = at;
      while (at < s.size() && s[at] == ' ') ++at;
      if (at < s.size() && s[at] == '(') ++at;
      while (at < s.size() && (s[at] == ' ' || s[at] == ',' || ascii_digit(s[at]))) ++at;
      if (at < s.size() && s[at] == ')') ++at;
      while (at < s.size() && s[at] == ' ') ++at;
      const std::u32string repeats = s.substr(repeats_start, at - repeats_start);
      if (at < s.size() && byte_order_char(s[at])) order2 = s.substr(at++, 1);
      const std::size_t dtype_start = at;
      auto dtype_char = [](char32_t c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || ascii_digit(c) || c == '.' || c == '?';
      };
      while (at < s.size() && dtype_char(s[at])) ++at;
      if (at < s.size() && s[at] == '[') {
        std::size_t end = at + 1;
        while (end < s.size() && (dtype_char(s[end]) || s[end] == ',') && s[end] != '?') ++end;
        if (end > at + 1 && end < s.size() && s[end] == ']') at = end + 1;
      }
      std::u32string dtype = s.substr(dtype_start, at - dtype_start);
      if (at < s.size()) {
        std::size_t rest = at;
        while (rest < s.size() && python_space(s[rest])) ++rest;
        if (rest > at && rest == s.size()) {
          at = s.size();
        } else if (rest < s.size() && s[rest] == ',') {
          at = rest + 1;
          while (at < s.size() && python_space(s[at])) ++at;
          combine.is_list = true;
        } else {
          return refuse("a comma-separated dtype string numpy does not recognise");
        }
      }
      // The byte orders: '=' is the native order ('<' here); two that differ are an error; native ones drop.
      auto native = [](const std::u32string& o) { return o == U"=" ? std::u32string(U"<") : o; };
      std::u32string order = order2.empty() ? order1 : order1.empty() ? order2 : native(order1);
      if (!order1.empty() && !order2.empty() && native(order1) != native(order2))
        return refuse("inconsistent byte orders in a dtype string");
      if (order == U"|" || order == U"=" || order == U"<") order.clear();
      ShapeForm form = ShapeForm::same;
      if (!repeats.empty()) {
        auto value = evaluate_python_literal(repeats, LiteralOptions{});
        if (!value) return refuse("repeats numpy cannot evaluate");
        form = shape_form(value.value(), value.value().root);
        if (form == ShapeForm::not_a_shape) form = ShapeForm::refused;
      }
      combine.item_shapes.push_back(form);
      combine.has_repeats.push_back(!repeats.empty());
      items.push_back(make_task(Task::Kind::text, 0, order + dtype));
    }
    if (items.empty()) return refuse("an empty dtype string");
    tasks_.push_back(std::move(combine));
    for (auto it = items.rbegin(); it != items.rend(); ++it) tasks_.push_back(std::move(*it));
  }

  // A single type: measured against numpy 2.x's numpy.dtype on every byte order, type character and size.
  Facts simple_text(const std::u32string& s) {
    std::string ascii;
    for (char32_t c : s) {
      if (c > 0x7e || c < 0x20) {
        refuse("a dtype string numpy does not understand");
        return {};
      }
      ascii.push_back(static_cast<char>(c));
    }
    if (ascii == "object" || ascii == "object_") return Facts{true, false};
    static const std::set<std::string> names = {
        "bool", "bool_", "byte", "bytes", "bytes_", "cdouble", "clongdouble", "complex", "complex128", "complex256",
        "complex64", "csingle", "double", "float", "float128", "float16", "float32", "float64", "half", "int",
        "int16", "int32", "int64", "int8", "int_", "intc", "intp", "long", "longdouble", "longlong", "short",
        "single", "str", "str_", "ubyte", "uint", "uint16", "uint32", "uint64", "uint8", "uintc", "uintp", "ulong",
        "ulonglong", "unicode", "ushort"};
    if (ascii == "str" || ascii == "str_" || ascii == "bytes" || ascii == "bytes_" || ascii == "unicode")
      return Facts{false, false, true};
    if (names.count(ascii)) return {};
    if (ascii == "void") return Facts{false, true, true};
    std::string_view rest(ascii);
    if (rest.size() > 1 && byte_order_char(static_cast<char32_t>(rest[0]))) rest.remove_prefix(1);
    if (rest.empty()) {
      refuse("an empty dtype string");
      return {};
    }
    // datetime64 / timedelta64, with an optional [unit] (numpy checks the unit; an unknown one is refused).
    for (std::string_view time : {"datetime64", "timedelta64", "M8", "m8", "M", "m"}) {
      if (rest.substr(0, time.size()) != time) continue;
      std::string_view unit = rest.substr(time.size());
      if (unit.empty()) return {};
      if (unit.front() != '[' || unit.back() != ']') continue;
      unit = unit.substr(1, unit.size() - 2);
      while (!unit.empty() && ascii_digit(static_cast<char32_t>(unit.front()))) unit.remove_prefix(1);
      static const std::set<std::string_view> units = {"Y", "M", "W", "D", "h", "m", "s", "ms", "us",
                                                       "ns", "ps", "fs", "as", "generic"};
      if (units.count(unit)) return {};
      refuse("a datetime unit numpy does not know");
      return {};
    }
    const char code = rest[0];
    const std::string_view digits = rest.substr(1);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      refuse("a dtype string numpy does not understand");
      return {};
    }
    // The size's value, as numpy reads it (leading zeros do not matter); capped, since only small ones count.
    std::uint64_t size = 0;
    for (char c : digits) size = std::min<std::uint64_t>(size * 10 + static_cast<std::uint64_t>(c - '0'), 1u << 30);
    const bool sized = !digits.empty();
    auto one_of = [&](std::initializer_list<std::uint64_t> allowed, bool bare) {
      if (!sized) return bare;
      return std::find(allowed.begin(), allowed.end(), size) != allowed.end();
    };
    bool known = false;
    switch (code) {
      case 'O': if (one_of({4, 8}, true)) return Facts{true, false}; break;
      case 'T': if (!sized) return Facts{true, false}; break;  // StringDType: hasobject, so np.load unpickles
      case 'V': return Facts{false, true, size == 0};
      case 'a': case 'S': case 'U': return Facts{false, false, size == 0};
      case 'b': known = one_of({1}, true); break;
      case 'c': known = one_of({8, 16, 32}, true); break;
      case 'f': known = one_of({2, 4, 8, 16}, true); break;
      case 'i': known = one_of({1, 2, 4, 8}, true); break;
      case 'u': known = one_of({1, 2, 4, 8}, false); break;
      case '?': case 'd': case 'e': case 'g': case 'h': case 'l': case 'n': case 'p': case 'q': case 'B':
      case 'D': case 'F': case 'G': case 'H': case 'I': case 'L': case 'N': case 'P': case 'Q':
        known = !sized;
        break;
      default: break;
    }
    if (!known) refuse("a dtype string numpy does not understand");
    return {};
  }

  const Literal& literal_;
  DtypeReading reading_;
  std::vector<Task> tasks_;
  std::vector<Facts> results_;
};

}  // namespace

DtypeReading read_numpy_descr(const Literal& literal, std::uint32_t descr) {
  DtypeReading reading = DescrReader(literal).run(descr);
  if (reading.refused) reading.object = false;
  return reading;
}

}  // namespace picklewall::detail
