#include "container/numpy_npy.hpp"

#include <cstring>

#include "io/checked.hpp"
#include "pickle/joblib_layout.hpp"

namespace picklewall::detail {
namespace {

// numpy's reader refuses headers longer than this unless max_header_size is raised by the caller.
constexpr std::uint64_t max_header_length = 10000;

// True when a dtype string such as '|O', 'O', '<O8' or a field of a structured dtype names Python objects.
bool names_object_dtype(std::string_view token) {
  token = numpy_type_code(token);
  return !token.empty() && token.front() == 'O' && token.find_first_not_of("O0123456789") == std::string_view::npos;
}

}  // namespace

Result<NpyHeader> read_npy_header(std::span<const std::uint8_t> bytes) {
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
  if (length > max_header_length)
    return Error{ErrorCode::limit_exceeded, ".npy header of " + std::to_string(length) + " bytes exceeds numpy's 10000-byte cap"};
  auto text = checked_subspan(bytes, length_offset + length_width, length);
  if (!text) return Error{ErrorCode::malformed, ".npy header runs past the end of the file"};
  header.header.assign(reinterpret_cast<const char*>(text->data()), text->size());
  header.data_offset = length_offset + length_width + length;
  const auto descr = header.header.find("'descr'");
  if (descr == std::string::npos) return Error{ErrorCode::malformed, ".npy header has no 'descr'"};
  // Inspect every quoted token of the descr value (a string, or a list of fields for structured dtypes). The
  // search starts after the key's closing quote, which a hostile header can share with the next key
  // ("'descr'fortran_order'"): the value is never allowed to end before it begins.
  const std::size_t value_start = descr + 7;
  const auto value_end = header.header.find("'fortran_order'", value_start);
  const auto shape_at = header.header.find("'shape'", value_start);
  const std::size_t end = std::min(value_end == std::string::npos ? header.header.size() : value_end,
                                   shape_at == std::string::npos ? header.header.size() : shape_at);
  std::string_view value(header.header.data() + value_start, end - value_start);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\'' && value[i] != '"') continue;
    const char quote = value[i];
    const auto close = value.find(quote, i + 1);
    if (close == std::string_view::npos) break;
    if (names_object_dtype(value.substr(i + 1, close - i - 1))) header.has_object_dtype = true;
    i = close;
  }
  return header;
}

Result<NpyArrayLayout> read_npy_layout(const NpyHeader& header) {
  // The header is the repr of a dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
  const std::string& text = header.header;
  auto fail = [&](const std::string& why) { return Error{ErrorCode::unsupported, ".npy header: " + why}; };
  NpyArrayLayout layout;
  const auto descr = text.find("'descr':");
  if (descr == std::string::npos) return fail("no 'descr'");
  const auto open = text.find_first_not_of(' ', descr + 8);
  if (open == std::string::npos || text[open] != '\'') return fail("a structured dtype (not one array type)");
  const auto close = text.find('\'', open + 1);
  if (close == std::string::npos) return fail("unterminated 'descr'");
  layout.descr = text.substr(open + 1, close - open - 1);
  const auto order = text.find("'fortran_order':");
  if (order == std::string::npos) return fail("no 'fortran_order'");
  const auto order_value = text.find_first_not_of(' ', order + 16);
  layout.fortran_order = order_value != std::string::npos && text.compare(order_value, 4, "True") == 0;
  const auto shape = text.find("'shape':");
  const auto shape_open = shape == std::string::npos ? std::string::npos : text.find('(', shape);
  const auto shape_close = shape_open == std::string::npos ? std::string::npos : text.find(')', shape_open);
  if (shape_close == std::string::npos) return fail("no 'shape' tuple");
  std::uint64_t value = 0;
  bool digits = false;
  for (std::size_t i = shape_open + 1; i <= shape_close; ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      if (value > (UINT64_MAX - 9) / 10) return fail("a dimension overflows");
      value = value * 10 + static_cast<std::uint64_t>(c - '0');
      digits = true;
    } else if (c == ',' || c == ')') {
      if (digits) layout.shape.push_back(value);
      value = 0;
      digits = false;
    } else if (c != ' ' && c != 'L') {
      return fail("shape is not a tuple of integers");
    }
  }
  return layout;
}

}  // namespace picklewall::detail
