#include "container/numpy_npy.hpp"

#include <cstring>

#include "container/numpy_dtype.hpp"
#include "container/python_literal.hpp"
#include "io/checked.hpp"

namespace picklewall::detail {
namespace {

// numpy's reader refuses headers longer than this many characters unless allow_pickle=True lifts the cap.
constexpr std::uint64_t numpy_header_cap = 10000;

// Python's strict UTF-8 decoder (3.0 headers): no overlong forms, no surrogates, nothing past U+10FFFF.
bool decode_utf8(std::span<const std::uint8_t> bytes, std::u32string& out) {
  for (std::size_t i = 0; i < bytes.size();) {
    const std::uint8_t lead = bytes[i];
    int extra;
    char32_t code;
    if (lead < 0x80) { out.push_back(lead); ++i; continue; }
    if (lead >= 0xC2 && lead <= 0xDF) { extra = 1; code = lead & 0x1F; }
    else if (lead >= 0xE0 && lead <= 0xEF) { extra = 2; code = lead & 0x0F; }
    else if (lead >= 0xF0 && lead <= 0xF4) { extra = 3; code = lead & 0x07; }
    else return false;
    if (i + static_cast<std::size_t>(extra) >= bytes.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const std::uint8_t next = bytes[i + static_cast<std::size_t>(k)];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF)))
      return false;
    out.push_back(code);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// _read_array_header after the text is decoded: literal_eval (retried through _filter_header for 1.0 and
// 2.0), a dict with exactly the three keys, a tuple of ints for shape, a bool for fortran_order, then the dtype.
void judge_header(NpyHeader& header, const std::u32string& text) {
  LiteralOptions options;
  options.max_nodes = text.size() + 16;  // every value takes at least one character
  auto literal = evaluate_python_literal(text, options);
  if (!literal && literal.error().code == ErrorCode::malformed && header.major <= 2) {
    options.drop_long_suffix = true;
    literal = evaluate_python_literal(text, options);
  }
  if (!literal) {
    header.refusal = "the header is " + literal.error().message;
    return;
  }
  const Literal& value = literal.value();
  header.inexact = value.inexact;
  const LiteralNode& root = value.node(value.root);
  if (root.kind != LiteralKind::dict) {
    header.refusal = "the header is not a dict";
    return;
  }
  // Later duplicates win, as in a dict display; the keys must be exactly numpy's three.
  std::uint32_t descr = 0, order = 0, shape = 0;
  bool seen_descr = false, seen_order = false, seen_shape = false;
  for (std::size_t i = 0; i + 1 < root.children.size(); i += 2) {
    const LiteralNode& key = value.node(root.children[i]);
    const std::uint32_t item = root.children[i + 1];
    if (key.kind == LiteralKind::string && literal_text_is(key.text, "descr")) { descr = item; seen_descr = true; }
    else if (key.kind == LiteralKind::string && literal_text_is(key.text, "fortran_order")) { order = item; seen_order = true; }
    else if (key.kind == LiteralKind::string && literal_text_is(key.text, "shape")) { shape = item; seen_shape = true; }
    else {
      header.refusal = "the header has a key other than descr, fortran_order and shape";
      return;
    }
  }
  if (!seen_descr || !seen_order || !seen_shape) {
    header.refusal = "the header lacks one of descr, fortran_order and shape";
    return;
  }
  const LiteralNode& shape_node = value.node(shape);
  if (shape_node.kind != LiteralKind::tuple) {
    header.refusal = "shape is not a tuple";
    return;
  }
  for (std::uint32_t child : shape_node.children) {
    const LiteralNode& dim = value.node(child);
    if (dim.kind == LiteralKind::boolean) {  // bool is an int to isinstance
      header.shape.push_back(dim.boolean ? 1 : 0);
    } else if (dim.kind == LiteralKind::integer) {
      // numpy.multiply.reduce(shape, dtype=int64) runs before the data is read; past int64 it raises.
      if (dim.big) {
        header.inexact = true;
        header.inexact_why = "a dimension beyond 64 bits";
      }
      header.shape.push_back(dim.integer);
    } else {
      header.refusal = "shape is not a tuple of integers";
      return;
    }
  }
  const LiteralNode& order_node = value.node(order);
  if (order_node.kind != LiteralKind::boolean) {
    header.refusal = "fortran_order is not a bool";
    return;
  }
  header.fortran_order = order_node.boolean;
  const DtypeReading dtype = read_numpy_descr(value, descr);
  if (dtype.refused) {
    header.refusal = "descr is not a dtype numpy builds: " + dtype.why;
    return;
  }
  header.has_object_dtype = dtype.object;
  if (dtype.inexact) {
    header.inexact = true;
    header.inexact_why = dtype.why;
  }
  if (header.inexact && header.inexact_why.empty()) header.inexact_why = "a \\N{...} name outside the table of ASCII names";
  const LiteralNode& descr_node = value.node(descr);
  if (descr_node.kind == LiteralKind::string) {
    header.descr_is_text = true;
    for (char32_t c : descr_node.text) append_utf8(header.descr, c);
  }
  // A plain array with a negative dimension fails to read (numpy.ndarray or the size check); an object array
  // does not care, its pickle is loaded first.
  if (!header.has_object_dtype)
    for (std::int64_t dim : header.shape)
      if (dim < 0) header.refusal = "shape has a negative dimension";
}

}  // namespace

Result<NpyHeader> read_npy_header(std::span<const std::uint8_t> bytes, const Limits& limits) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    return Error{ErrorCode::malformed, "not a .npy file"};
  NpyHeader header;
  header.major = bytes[6];
  header.minor = bytes[7];
  std::uint64_t length_offset = 8, length_width;
  if (header.major == 1) length_width = 2;
  else if (header.major == 2 || header.major == 3) length_width = 4;
  else return Error{ErrorCode::malformed, ".npy format version " + std::to_string(header.major) + " is unknown"};
  if (!range_fits(length_offset, length_width, bytes.size())) return Error{ErrorCode::malformed, ".npy header truncated"};
  const std::uint64_t length = load_le(bytes.data() + length_offset, static_cast<int>(length_width));
  if (length > limits.max_npy_header_bytes) {
    header.refusal = ".npy header of " + std::to_string(length) + " bytes exceeds max_npy_header_bytes (" +
                     std::to_string(limits.max_npy_header_bytes) + ")";
    header.refusal_is_limit = true;
  }
  auto text = checked_subspan(bytes, length_offset + length_width, length);
  if (!text) return Error{ErrorCode::malformed, ".npy header runs past the end of the file"};
  header.data_offset = length_offset + length_width + length;
  if (header.refusal_is_limit) return header;
  header.header.assign(reinterpret_cast<const char*>(text->data()), text->size());
  if (header.minor != 0) {  // numpy knows (1, 0), (2, 0) and (3, 0) only
    header.refusal = ".npy format version " + std::to_string(header.major) + "." + std::to_string(header.minor) +
                     " is not one numpy reads";
    return header;
  }
  // 1.0 and 2.0 headers are latin-1 (every byte is a character), 3.0 headers UTF-8.
  std::u32string decoded;
  decoded.reserve(text->size());
  if (header.major == 3) {
    if (!decode_utf8(*text, decoded)) {
      header.refusal = "the 3.0 header is not UTF-8";
      return header;
    }
  } else {
    for (std::uint8_t byte : *text) decoded.push_back(byte);
  }
  header.beyond_numpy_cap = decoded.size() > numpy_header_cap;
  judge_header(header, decoded);
  return header;
}

Result<NpyArrayLayout> read_npy_layout(const NpyHeader& header) {
  auto fail = [&](const std::string& why) { return Error{ErrorCode::unsupported, ".npy header: " + why}; };
  if (!header.refusal.empty()) return Error{ErrorCode::malformed, ".npy header: " + header.refusal};
  if (header.inexact) return fail("a header not read exactly (" + header.inexact_why + ")");
  if (!header.descr_is_text) return fail("a structured dtype (not one array type)");
  NpyArrayLayout layout;
  layout.descr = header.descr;
  layout.fortran_order = header.fortran_order;
  for (std::int64_t dim : header.shape) {
    if (dim < 0) return fail("a negative dimension");
    layout.shape.push_back(static_cast<std::uint64_t>(dim));
  }
  return layout;
}

}  // namespace picklewall::detail
