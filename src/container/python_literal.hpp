// Python literals evaluated the way ast.literal_eval (CPython 3.11) evaluates them, for headers that a loader reads
// with it (numpy's .npy header). Only the result matters to a scanner, so the evaluator is exact about what
// literal_eval accepts and refuses: a reading that differs from the loader's is where an attacker hides.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "picklewall/result.hpp"

namespace picklewall::detail {

enum class LiteralKind : std::uint8_t {
  none,
  boolean,
  integer,
  floating,
  complex_number,
  ellipsis,
  string,
  bytes,
  tuple,
  list,
  set,
  dict,
};

// A code point the evaluator could not resolve (a \N{...} name outside its table of ASCII names). It is never
// an ASCII character: Python's names for those are all in the table, or are aliases of control characters.
inline constexpr char32_t unresolved_code_point = 0x110000;

struct LiteralNode {
  LiteralKind kind = LiteralKind::none;
  bool boolean = false;
  // integer: the value when it fits in int64; `big` when it does not (then `integer` holds only its sign).
  std::int64_t integer = 0;  // floats and complex numbers keep no value: no reader needs one
  bool big = false;
  std::u32string text;                  // string: code points; bytes: one element per byte
  std::vector<std::uint32_t> children;  // tuple, list, set: items; dict: key, value, key, value, ... in order
};

struct Literal {
  std::vector<LiteralNode> nodes;
  std::uint32_t root = 0;
  // Set when some part was accepted without being resolved exactly (unresolved \N names).
  bool inexact = false;

  const LiteralNode& node(std::uint32_t index) const { return nodes[index]; }
};

struct LiteralOptions {
  // numpy retries a header that does not parse after dropping every `L` name that follows a number
  // (_filter_header, for files written by Python 2): `2L` reads as `2`.
  bool drop_long_suffix = false;
  std::uint64_t max_nodes = 1'000'000;
};

// Evaluates `source` as ast.literal_eval(source) does. Errors: malformed when Python refuses the text (a syntax
// error, a node literal_eval does not accept, an unhashable key); limit_exceeded when max_nodes is reached.
Result<Literal> evaluate_python_literal(std::u32string_view source, const LiteralOptions& options);

// True when `text` (code points) equals the ASCII string `ascii`.
bool literal_text_is(const std::u32string& text, std::string_view ascii);

}  // namespace picklewall::detail
