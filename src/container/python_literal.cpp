#include "container/python_literal.hpp"

#include <array>
#include <optional>

namespace picklewall::detail {
namespace {

// CPython's tokenizer refuses brackets nested deeper than this ("too many nested parentheses", MAXLEVEL in
// Parser/tokenizer.h). It is Python's rule, not a budget of ours: a deeper header is one numpy refuses.
constexpr int python_max_bracket_depth = 200;

Error refused(const std::string& why) { return Error{ErrorCode::malformed, "not a Python literal: " + why}; }

bool is_identifier_char(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c > 0x7f;
}
bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
int hex_value(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}
char32_t ascii_upper(char32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

// \N{...} resolves names case-insensitively. Every printable ASCII character is here under its Unicode name;
// a name outside the table resolves to something that is not a printable ASCII character (or is invalid), which
// the caller is told about through `unresolved_code_point`.
std::optional<char32_t> ascii_for_name(const std::u32string& raw_name) {
  std::string name;
  for (char32_t c : raw_name) {
    if (c > 0x7f) return std::nullopt;
    name.push_back(static_cast<char>(ascii_upper(c)));
  }
  static constexpr std::array<const char*, 10> digits = {"ZERO", "ONE", "TWO", "THREE", "FOUR",
                                                         "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"};
  for (int d = 0; d < 10; ++d)
    if (name == std::string("DIGIT ") + digits[d]) return static_cast<char32_t>('0' + d);
  for (const char* prefix : {"LATIN CAPITAL LETTER ", "LATIN SMALL LETTER "}) {
    const std::string_view p(prefix);
    if (name.size() == p.size() + 1 && name.compare(0, p.size(), p) == 0 && name.back() >= 'A' && name.back() <= 'Z')
      return static_cast<char32_t>(p[6] == 'C' ? name.back() : name.back() + 32);
  }
  struct Named { const char* name; char32_t code; };
  static constexpr Named punctuation[] = {
      {"SPACE", 0x20}, {"EXCLAMATION MARK", 0x21}, {"QUOTATION MARK", 0x22}, {"NUMBER SIGN", 0x23},
      {"DOLLAR SIGN", 0x24}, {"PERCENT SIGN", 0x25}, {"AMPERSAND", 0x26}, {"APOSTROPHE", 0x27},
      {"LEFT PARENTHESIS", 0x28}, {"RIGHT PARENTHESIS", 0x29}, {"ASTERISK", 0x2A}, {"PLUS SIGN", 0x2B},
      {"COMMA", 0x2C}, {"HYPHEN-MINUS", 0x2D}, {"FULL STOP", 0x2E}, {"SOLIDUS", 0x2F}, {"COLON", 0x3A},
      {"SEMICOLON", 0x3B}, {"LESS-THAN SIGN", 0x3C}, {"EQUALS SIGN", 0x3D}, {"GREATER-THAN SIGN", 0x3E},
      {"QUESTION MARK", 0x3F}, {"COMMERCIAL AT", 0x40}, {"LEFT SQUARE BRACKET", 0x5B}, {"REVERSE SOLIDUS", 0x5C},
      {"RIGHT SQUARE BRACKET", 0x5D}, {"CIRCUMFLEX ACCENT", 0x5E}, {"LOW LINE", 0x5F}, {"GRAVE ACCENT", 0x60},
      {"LEFT CURLY BRACKET", 0x7B}, {"VERTICAL LINE", 0x7C}, {"RIGHT CURLY BRACKET", 0x7D}, {"TILDE", 0x7E},
      // Aliases (NameAliases.txt) of characters a dtype string or key could be built from.
      {"SP", 0x20}, {"NULL", 0x00}, {"NUL", 0x00}, {"CHARACTER TABULATION", 0x09}, {"TAB", 0x09},
      {"LINE FEED", 0x0A}, {"NEW LINE", 0x0A}, {"LF", 0x0A}, {"NL", 0x0A}, {"EOL", 0x0A},
      {"CARRIAGE RETURN", 0x0D}, {"CR", 0x0D}, {"FORM FEED", 0x0C}, {"FF", 0x0C},
      {"LINE TABULATION", 0x0B}, {"VT", 0x0B},
  };
  for (const auto& entry : punctuation)
    if (name == entry.name) return entry.code;
  return std::nullopt;
}

enum class TokenKind { string, number, name, op, newline, end };
enum class NumberKind { integer, floating, imaginary };

struct Token {
  TokenKind kind = TokenKind::end;
  char32_t op = 0;  // ( ) [ ] { } , : + -, or '.' for "..."
  // string
  std::u32string text;
  bool is_bytes = false;
  // number
  NumberKind number = NumberKind::integer;
  std::uint64_t magnitude = 0;
  bool overflow = false;  // the integer does not fit in 64 bits
  // name
  std::u32string name;
};

// Splits Python source into the tokens a literal can contain. Anything else is refused here: it is either a
// syntax error or a node literal_eval would refuse, and numpy refuses the header either way.
class Lexer {
 public:
  Lexer(std::u32string_view source, bool drop_long_suffix) : src_(source), drop_long_suffix_(drop_long_suffix) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    bool line_start = true;
    bool emitted_line = false;  // a logical line with tokens has ended: eval input takes exactly one
    bool continued = false;
    while (true) {
      if (line_start && depth_ == 0) {
        // Indentation: literal_eval strips leading spaces and tabs of the first line only; any other line that
        // holds a token and starts indented is an IndentationError. A form feed resets the column.
        std::uint64_t column = 0;
        while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\f')) {
          column = src_[pos_] == '\f' ? 0 : column + 1;
          ++pos_;
        }
        if (pos_ < src_.size() && src_[pos_] == '#') skip_comment();
        if (pos_ < src_.size() && src_[pos_] == '\n') { ++pos_; continue; }
        if (pos_ >= src_.size()) break;
        if (column != 0 && !continued) return refused("unexpected indent");
        if (emitted_line) return refused("more than one expression");
        line_start = false;
      }
      if (pos_ >= src_.size()) break;
      const char32_t c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\f') { ++pos_; continue; }
      if (c == '#') { skip_comment(); continue; }
      if (c == '\\') {
        if (pos_ + 1 >= src_.size() || src_[pos_ + 1] != '\n') return refused("a backslash outside a string");
        pos_ += 2;
        continued = true;
        continue;
      }
      if (c == '\n') {
        ++pos_;
        if (depth_ > 0) continue;
        if (!tokens.empty() && tokens.back().kind != TokenKind::newline) {
          Token newline;
          newline.kind = TokenKind::newline;
          tokens.push_back(newline);
          emitted_line = true;
        }
        line_start = true;
        continued = false;
        continue;
      }
      continued = false;
      auto token = next_token();
      if (!token) return token.error();
      tokens.push_back(std::move(token.value()));
    }
    if (continued) return refused("unexpected end of input after a line continuation");
    if (depth_ != 0) return refused("unclosed bracket");
    Token end;
    end.kind = TokenKind::end;
    tokens.push_back(end);
    return tokens;
  }

 private:
  void skip_comment() {
    while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
  }

  Result<Token> next_token() {
    const char32_t c = src_[pos_];
    Token token;
    if (c == '(' || c == '[' || c == '{') {
      if (depth_ >= python_max_bracket_depth) return refused("too many nested parentheses");
      brackets_[static_cast<std::size_t>(depth_++)] = c;
      token.kind = TokenKind::op;
      token.op = c;
      ++pos_;
      return token;
    }
    if (c == ')' || c == ']' || c == '}') {
      const char32_t open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (depth_ == 0 || brackets_[static_cast<std::size_t>(depth_ - 1)] != open) return refused("unmatched bracket");
      --depth_;
      token.kind = TokenKind::op;
      token.op = c;
      ++pos_;
      return token;
    }
    if (c == ',' || c == ':' || c == '+' || c == '-') {
      token.kind = TokenKind::op;
      token.op = c;
      ++pos_;
      return token;
    }
    if (c == '.') {
      if (pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])) return number();
      if (pos_ + 2 < src_.size() && src_[pos_ + 1] == '.' && src_[pos_ + 2] == '.') {
        pos_ += 3;
        token.kind = TokenKind::op;
        token.op = '.';
        return token;
      }
      return refused("attribute access");
    }
    if (c == '\'' || c == '"') return string(U"");
    if (is_digit(c)) return number();
    if (is_identifier_char(c) && !is_digit(c)) {
      const std::size_t start = pos_;
      while (pos_ < src_.size() && is_identifier_char(src_[pos_])) ++pos_;
      std::u32string word(src_.substr(start, pos_ - start));
      if (pos_ < src_.size() && (src_[pos_] == '\'' || src_[pos_] == '"') && word.size() <= 2) return string(word);
      for (char32_t w : word)
        if (w > 0x7f) return refused("a name that is not a literal");
      token.kind = TokenKind::name;
      token.name = std::move(word);
      return token;
    }
    return refused("a character that cannot appear in a literal");
  }

  // Decimal, hex, octal and binary integers, floats and imaginary numbers, with Python 3's underscore rules.
  Result<Token> number() {
    Token token;
    token.kind = TokenKind::number;
    auto digits = [&](int base, bool& any) -> bool {  // false on a misplaced underscore
      bool last_underscore = false;
      while (pos_ < src_.size()) {
        const char32_t c = src_[pos_];
        if (c == '_') {
          if (!any || last_underscore) return false;
          last_underscore = true;
          ++pos_;
          continue;
        }
        const int v = hex_value(c);
        if (v < 0 || v >= base) break;
        if (token.magnitude > (UINT64_MAX - static_cast<std::uint64_t>(v)) / static_cast<std::uint64_t>(base))
          token.overflow = true;
        token.magnitude = token.magnitude * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(v);
        any = true;
        last_underscore = false;
        ++pos_;
      }
      return !last_underscore;
    };
    const char32_t first = src_[pos_];
    const char32_t second = pos_ + 1 < src_.size() ? ascii_upper(src_[pos_ + 1]) : 0;
    if (first == '0' && (second == 'X' || second == 'O' || second == 'B')) {
      const int base = second == 'X' ? 16 : second == 'O' ? 8 : 2;
      pos_ += 2;
      if (pos_ < src_.size() && src_[pos_] == '_') ++pos_;  // 0x_1 is allowed
      bool any = false;
      if (!digits(base, any) || !any) return refused("an invalid integer literal");
      const bool glued = pos_ < src_.size() && is_identifier_char(src_[pos_]);
      if (!drop_suffix() && glued) return refused("an invalid integer literal");
      return token;
    }
    bool any = false;
    const std::size_t start = pos_;
    if (!digits(10, any)) return refused("an invalid decimal literal");
    bool is_float = false;
    if (pos_ < src_.size() && src_[pos_] == '.') {
      ++pos_;
      is_float = true;
      bool fraction = false;
      if (pos_ < src_.size() && is_digit(src_[pos_]) && !digits(10, fraction)) return refused("an invalid decimal literal");
    }
    if (pos_ < src_.size() && ascii_upper(src_[pos_]) == 'E') {
      std::size_t at = pos_ + 1;
      if (at < src_.size() && (src_[at] == '+' || src_[at] == '-')) ++at;
      if (at < src_.size() && is_digit(src_[at])) {
        pos_ = at;
        bool exponent = false;
        const auto saved = token.magnitude;
        if (!digits(10, exponent)) return refused("an invalid decimal literal");
        token.magnitude = saved;
        is_float = true;
      }
    }
    token.number = is_float ? NumberKind::floating : NumberKind::integer;
    if (pos_ < src_.size() && ascii_upper(src_[pos_]) == 'J') {
      ++pos_;
      token.number = NumberKind::imaginary;
    }
    if (token.number == NumberKind::integer && src_[start] == '0') {
      for (std::size_t i = start; i < pos_; ++i)
        if (src_[i] != '0' && src_[i] != '_') return refused("leading zeros in a decimal integer");
    }
    const bool glued = pos_ < src_.size() && is_identifier_char(src_[pos_]);
    if (!drop_suffix() && glued) return refused("an invalid decimal literal");
    return token;
  }

  // numpy's _filter_header drops a NAME token `L` that follows a NUMBER token, with only blanks or line
  // continuations between them (a newline or a comment is a token of its own and breaks the pair).
  bool drop_suffix() {
    if (!drop_long_suffix_) return false;
    std::size_t at = pos_;
    while (at < src_.size()) {
      if (src_[at] == ' ' || src_[at] == '\t' || src_[at] == '\f') ++at;
      else if (src_[at] == '\\' && at + 1 < src_.size() && src_[at + 1] == '\n') at += 2;
      else break;
    }
    if (at < src_.size() && src_[at] == 'L' && (at + 1 >= src_.size() || !is_identifier_char(src_[at + 1]))) {
      pos_ = at + 1;
      return true;
    }
    return false;
  }

 private:
  Result<Token> string(const std::u32string& prefix) {
    bool raw = false, bytes = false, formatted = false, unicode = false;
    for (char32_t p : prefix) {
      const char32_t u = ascii_upper(p);
      if (u == 'R' && !raw) raw = true;
      else if (u == 'B' && !bytes) bytes = true;
      else if (u == 'F' && !formatted) formatted = true;
      else if (u == 'U' && !unicode) unicode = true;
      else return refused("a string prefix Python does not have");
    }
    if ((unicode && (raw || bytes || formatted)) || (bytes && formatted))
      return refused("a string prefix Python does not have");
    // An f-string is a JoinedStr node, which literal_eval refuses wherever it stands.
    if (formatted) return refused("an f-string");
    const char32_t quote = src_[pos_];
    const bool triple = pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote;
    pos_ += triple ? 3 : 1;
    Token token;
    token.kind = TokenKind::string;
    token.is_bytes = bytes;
    std::u32string& out = token.text;
    while (true) {
      if (pos_ >= src_.size()) return refused("an unterminated string");
      const char32_t c = src_[pos_];
      if (c == quote) {
        if (!triple) { ++pos_; break; }
        if (pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote) { pos_ += 3; break; }
      }
      if (c == '\n' && !triple) return refused("an unterminated string");
      if (bytes && c > 0x7f) return refused("a non-ASCII character in a bytes literal");
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) return refused("an unterminated string");
      const char32_t e = src_[pos_ + 1];
      if (raw) {  // the backslash stays; it only keeps the next character from ending the string
        if (bytes && e > 0x7f) return refused("a non-ASCII character in a bytes literal");
        out.push_back('\\');
        out.push_back(e);
        pos_ += 2;
        continue;
      }
      pos_ += 2;
      switch (e) {
        case '\n': break;
        case '\\': case '\'': case '"': out.push_back(e); break;
        case 'a': out.push_back(7); break;
        case 'b': out.push_back(8); break;
        case 'f': out.push_back(12); break;
        case 'n': out.push_back(10); break;
        case 'r': out.push_back(13); break;
        case 't': out.push_back(9); break;
        case 'v': out.push_back(11); break;
        case 'x': {
          if (pos_ + 2 > src_.size() || hex_value(src_[pos_]) < 0 || hex_value(src_[pos_ + 1]) < 0)
            return refused("a truncated \\x escape");
          out.push_back(static_cast<char32_t>(hex_value(src_[pos_]) * 16 + hex_value(src_[pos_ + 1])));
          pos_ += 2;
          break;
        }
        case 'u': case 'U': case 'N': {
          if (bytes) {  // bytes literals have no such escapes: both characters stay
            out.push_back('\\');
            out.push_back(e);
            break;
          }
          if (e == 'N') {
            if (pos_ >= src_.size() || src_[pos_] != '{') return refused("a malformed \\N escape");
            const std::size_t close = src_.find(U'}', pos_);
            if (close == std::u32string_view::npos || close == pos_ + 1) return refused("a malformed \\N escape");
            const std::u32string name(src_.substr(pos_ + 1, close - pos_ - 1));
            const auto code = ascii_for_name(name);
            out.push_back(code ? *code : unresolved_code_point);
            if (!code) unresolved_ = true;
            pos_ = close + 1;
            break;
          }
          const std::size_t width = e == 'u' ? 4 : 8;
          if (pos_ + width > src_.size()) return refused("a truncated unicode escape");
          std::uint32_t value = 0;
          for (std::size_t i = 0; i < width; ++i) {
            const int v = hex_value(src_[pos_ + i]);
            if (v < 0) return refused("a truncated unicode escape");
            value = value * 16 + static_cast<std::uint32_t>(v);
          }
          if (value > 0x10FFFF) return refused("an escape beyond U+10FFFF");
          out.push_back(value);
          pos_ += width;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t value = e - '0';
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i)
              value = value * 8 + (src_[pos_++] - '0');
            out.push_back(bytes ? (value & 0xFF) : value);
          } else {
            // An unknown escape keeps its backslash (a DeprecationWarning, not an error, in 3.11).
            if (bytes && e > 0x7f) return refused("a non-ASCII character in a bytes literal");
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    return token;
  }

 public:
  bool unresolved() const { return unresolved_; }

 private:
  std::u32string_view src_;
  bool drop_long_suffix_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::array<char32_t, python_max_bracket_depth> brackets_{};
  bool unresolved_ = false;
};

// How a value was written: literal_eval applies unary minus only to a number constant, and accepts a sum only
// of a (signed) real constant and a complex constant.
enum class Origin { constant, signed_constant, sum, other, set_name };

struct Value {
  std::uint32_t node = 0;
  Origin origin = Origin::other;
};

enum class Pending { none, negate, sum_right };

// One open bracket (or the top level, which is an unbracketed tuple when it has a comma).
struct Frame {
  char32_t closer = 0;  // ')' ']' '}', or 0 for the top level
  std::vector<std::uint32_t> items;
  std::vector<Origin> origins;
  bool saw_comma = false;
  int brace_mode = 0;       // '{': 0 undecided, 1 dict, 2 set
  bool expecting_value_after_colon = false;
  Pending pending = Pending::none;   // an operator applied to this bracket's value once it closes
  bool negate = false;
};

class Parser {
 public:
  Parser(std::vector<Token>& tokens, Literal& out, std::uint64_t max_nodes)
      : tokens_(tokens), out_(out), max_nodes_(max_nodes) {}

  Status run() {
    frames_.push_back(Frame{});
    while (!finished_) {
      // Expecting a value, perhaps under a unary sign or as the right side of a sum.
      Pending pending = Pending::none;
      bool negative = false;
      Token& first = tokens_[at_];
      if (pending_sum_) {
        pending_sum_ = false;
        if (first.kind == TokenKind::op && first.op == '(') {
          pending = Pending::sum_right;
        } else if (first.kind == TokenKind::number && first.number == NumberKind::imaginary) {
          ++at_;
          auto node = add_node(LiteralKind::complex_number);
          if (!node) return node.error();
          if (Status done = after_value(Value{node.value(), Origin::sum}); !done) return done;
          continue;
        } else {
          return refused("a sum that is not a real plus an imaginary number");
        }
      } else if (first.kind == TokenKind::op && (first.op == '+' || first.op == '-')) {
        negative = first.op == '-';
        ++at_;
        Token& operand = tokens_[at_];
        if (operand.kind == TokenKind::op && operand.op == '(') {
          pending = Pending::negate;
        } else if (operand.kind == TokenKind::number) {
          ++at_;
          auto value = number_value(operand, negative);
          if (!value) return value.error();
          value.value().origin = Origin::signed_constant;
          if (Status done = after_value(value.value()); !done) return done;
          continue;
        } else {
          return refused("an operator applied to something other than a number");
        }
      }
      Token& current = tokens_[at_];
      if (current.kind == TokenKind::op && (current.op == '(' || current.op == '[' || current.op == '{')) {
        ++at_;
        Frame frame;
        frame.closer = current.op == '(' ? ')' : current.op == '[' ? ']' : '}';
        frame.pending = pending;
        frame.negate = negative;
        frames_.push_back(std::move(frame));
        Token& next = tokens_[at_];
        if (next.kind == TokenKind::op && next.op == frames_.back().closer) {  // an empty container
          ++at_;
          auto closed = close_frame();
          if (!closed) return closed.error();
          if (Status done = after_value(closed.value()); !done) return done;
        }
        continue;
      }
      auto value = scalar(current);
      if (!value) return value.error();
      if (Status done = after_value(value.value()); !done) return done;
    }
    return Ok{};
  }

 private:
  Result<std::uint32_t> add_node(LiteralKind kind) {
    if (out_.nodes.size() >= max_nodes_) return Error{ErrorCode::limit_exceeded, "the literal has too many values"};
    LiteralNode node;
    node.kind = kind;
    out_.nodes.push_back(std::move(node));
    hashable_.push_back(kind != LiteralKind::list && kind != LiteralKind::dict && kind != LiteralKind::set);
    return static_cast<std::uint32_t>(out_.nodes.size() - 1);
  }

  Result<Value> number_value(const Token& token, bool negative) {
    const LiteralKind kind = token.number == NumberKind::integer   ? LiteralKind::integer
                             : token.number == NumberKind::floating ? LiteralKind::floating
                                                                     : LiteralKind::complex_number;
    auto node = add_node(kind);
    if (!node) return node.error();
    LiteralNode& n = out_.nodes[node.value()];
    if (kind == LiteralKind::integer) set_integer(n, token.magnitude, token.overflow, negative);
    return Value{node.value(), Origin::constant};
  }

  static void set_integer(LiteralNode& n, std::uint64_t magnitude, bool overflow, bool negative) {
    if (overflow || magnitude > (negative ? (1ull << 63) : (1ull << 63) - 1)) {
      n.big = true;
      n.integer = negative ? -1 : 1;
      return;
    }
    n.integer = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  }

  Result<Value> scalar(Token& token) {
    if (token.kind == TokenKind::string) {
      // Adjacent strings are one constant; bytes and str do not mix.
      const bool is_bytes = token.is_bytes;
      auto node = add_node(is_bytes ? LiteralKind::bytes : LiteralKind::string);
      if (!node) return node.error();
      std::u32string text;
      while (tokens_[at_].kind == TokenKind::string) {
        if (tokens_[at_].is_bytes != is_bytes) return refused("bytes and str literals mixed");
        text += tokens_[at_].text;
        ++at_;
      }
      out_.nodes[node.value()].text = std::move(text);
      return Value{node.value(), Origin::constant};
    }
    if (token.kind == TokenKind::number) {
      ++at_;
      return number_value(token, false);
    }
    if (token.kind == TokenKind::op && token.op == '.') {
      ++at_;
      auto node = add_node(LiteralKind::ellipsis);
      if (!node) return node.error();
      return Value{node.value(), Origin::constant};
    }
    if (token.kind == TokenKind::name) {
      ++at_;
      LiteralKind kind;
      bool truth = false;
      if (literal_text_is(token.name, "True")) { kind = LiteralKind::boolean; truth = true; }
      else if (literal_text_is(token.name, "False")) kind = LiteralKind::boolean;
      else if (literal_text_is(token.name, "None")) kind = LiteralKind::none;
      else if (literal_text_is(token.name, "set")) {
        // Only the call set() is a literal; the name may sit in brackets: (set)().
        auto node = add_node(LiteralKind::set);
        if (!node) return node.error();
        return Value{node.value(), Origin::set_name};
      } else {
        return refused("a name that is not True, False or None");
      }
      auto node = add_node(kind);
      if (!node) return node.error();
      out_.nodes[node.value()].boolean = truth;
      return Value{node.value(), Origin::constant};
    }
    return refused("a token where a value belongs");
  }

  // A value is complete: look at what follows it (a call of set, a sum, a separator, a closer).
  Status after_value(Value value) {
    while (true) {
      Token& next = tokens_[at_];
      // `(set)` keeps the name for the call that follows its closing bracket.
      const bool grouped = next.kind == TokenKind::op && next.op == ')' && frames_.back().closer == ')' &&
                           frames_.back().items.empty() && !frames_.back().saw_comma;
      if (value.origin == Origin::set_name && !grouped) {
        if (!(next.kind == TokenKind::op && next.op == '(' && tokens_[at_ + 1].kind == TokenKind::op &&
              tokens_[at_ + 1].op == ')'))
          return refused("the name set outside the call set()");
        at_ += 2;
        value.origin = Origin::other;
        continue;
      }
      if (next.kind == TokenKind::op && (next.op == '+' || next.op == '-')) {
        const LiteralKind kind = out_.nodes[value.node].kind;
        if (!((value.origin == Origin::constant || value.origin == Origin::signed_constant) &&
              (kind == LiteralKind::integer || kind == LiteralKind::floating)))
          return refused("an operator literal_eval does not evaluate");
        ++at_;
        pending_sum_ = true;
        return Ok{};
      }
      Frame& frame = frames_.back();
      // In a dict, the value just read is a key when a colon follows.
      if (frame.closer == '}' && next.kind == TokenKind::op && next.op == ':') {
        if (frame.brace_mode == 2 || frame.expecting_value_after_colon || frame.items.size() % 2 != 0)
          return refused("a colon out of place");
        if (frame.brace_mode == 0 && !frame.items.empty()) return refused("a colon out of place");
        frame.brace_mode = 1;
        if (!hashable_[value.node]) return refused("an unhashable dict key");
        frame.items.push_back(value.node);
        frame.origins.push_back(value.origin);
        frame.expecting_value_after_colon = true;
        ++at_;
        return Ok{};
      }
      if (frame.closer == '}') {
        if (frame.brace_mode == 1 && !frame.expecting_value_after_colon) return refused("a dict key without a value");
        if (frame.brace_mode == 0) frame.brace_mode = 2;
        if (frame.brace_mode == 2 && !hashable_[value.node]) return refused("an unhashable set item");
        frame.expecting_value_after_colon = false;
      }
      frame.items.push_back(value.node);
      frame.origins.push_back(value.origin);
      if (next.kind == TokenKind::op && next.op == ',') {
        frame.saw_comma = true;
        ++at_;
        Token& after = tokens_[at_];
        // A trailing comma before the closer.
        if (frame.closer != 0 && after.kind == TokenKind::op && after.op == frame.closer) {
          ++at_;
          auto closed = close_frame();
          if (!closed) return closed.error();
          value = closed.value();
          continue;
        }
        if (frame.closer == 0 && (after.kind == TokenKind::newline || after.kind == TokenKind::end)) {
          return finish();
        }
        return Ok{};
      }
      if (frame.closer != 0 && next.kind == TokenKind::op && next.op == frame.closer) {
        ++at_;
        auto closed = close_frame();
        if (!closed) return closed.error();
        value = closed.value();
        continue;
      }
      if (frame.closer == 0 && (next.kind == TokenKind::newline || next.kind == TokenKind::end)) return finish();
      return refused("two values without a separator");
    }
  }

  Status finish() {
    while (tokens_[at_].kind == TokenKind::newline) ++at_;
    if (tokens_[at_].kind != TokenKind::end) return refused("text after the expression");
    auto closed = close_frame();
    if (!closed) return closed.error();
    out_.root = closed.value().node;
    finished_ = true;
    return Ok{};
  }

  Result<Value> close_frame() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    Value result;
    if (frame.closer == '}' && frame.expecting_value_after_colon) return refused("a dict key without a value");
    if ((frame.closer == ')' || frame.closer == 0) && frame.items.size() == 1 && !frame.saw_comma) {
      result = Value{frame.items.front(), frame.origins.front()};  // brackets around one value are only grouping
    } else {
      if (frame.closer == 0 && frame.items.empty()) return refused("no expression");
      const LiteralKind kind = frame.closer == ']'   ? LiteralKind::list
                               : frame.closer == '}' ? (frame.brace_mode == 2 ? LiteralKind::set : LiteralKind::dict)
                                                     : LiteralKind::tuple;
      auto node = add_node(kind);
      if (!node) return node.error();
      bool hashable = kind == LiteralKind::tuple;
      if (hashable)
        for (std::uint32_t item : frame.items) hashable = hashable && hashable_[item];
      hashable_[node.value()] = hashable;
      out_.nodes[node.value()].children = std::move(frame.items);
      result = Value{node.value(), Origin::other};
    }
    if (frame.pending == Pending::negate) {
      LiteralNode& n = out_.nodes[result.node];
      if (result.origin != Origin::constant ||
          !(n.kind == LiteralKind::integer || n.kind == LiteralKind::floating || n.kind == LiteralKind::complex_number))
        return refused("an operator applied to something other than a number");
      if (n.kind == LiteralKind::integer && frame.negate) {
        if (n.big) n.integer = -n.integer;
        else if (n.integer == INT64_MIN) { n.big = true; n.integer = 1; }
        else n.integer = -n.integer;
      }
      result.origin = Origin::signed_constant;
    } else if (frame.pending == Pending::sum_right) {
      if (result.origin != Origin::constant || out_.nodes[result.node].kind != LiteralKind::complex_number)
        return refused("a sum that is not a real plus an imaginary number");
      auto node = add_node(LiteralKind::complex_number);
      if (!node) return node.error();
      result = Value{node.value(), Origin::sum};
    }
    return result;
  }

  std::vector<Token>& tokens_;
  Literal& out_;
  std::uint64_t max_nodes_;
  std::vector<Frame> frames_;
  std::vector<bool> hashable_;
  std::size_t at_ = 0;
  bool finished_ = false;
  bool pending_sum_ = false;  // a real and a '+' or '-' were read: the imaginary part comes next
};

}  // namespace

bool literal_text_is(const std::u32string& text, std::string_view ascii) {
  if (text.size() != ascii.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] != static_cast<unsigned char>(ascii[i])) return false;
  return true;
}

Result<Literal> evaluate_python_literal(std::u32string_view source, const LiteralOptions& options) {
  // compile() reads \r\n and a lone \r as \n, inside strings too; it refuses NUL anywhere.
  std::u32string text;
  text.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    const char32_t c = source[i];
    if (c == 0) return refused("a NUL character");
    if (c == '\r') {
      text.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      text.push_back(c);
    }
  }
  // literal_eval strips leading spaces and tabs (only those) before parsing.
  const std::size_t first = text.find_first_not_of(U" \t");
  const std::u32string_view body = first == std::u32string::npos ? std::u32string_view() : std::u32string_view(text).substr(first);
  Lexer lexer(body, options.drop_long_suffix);
  auto tokens = lexer.run();
  if (!tokens) return tokens.error();
  Literal literal;
  Parser parser(tokens.value(), literal, options.max_nodes);
  auto parsed = parser.run();
  if (!parsed) return parsed.error();
  literal.inexact = lexer.unresolved();
  return literal;
}

}  // namespace picklewall::detail
