#include "container/safetensors_header.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checked.hpp"
#include "pickle/text_arguments.hpp"

namespace picklewall::detail {
namespace {

constexpr std::uint64_t max_header_length = 100'000'000;

const std::map<std::string, std::uint64_t, std::less<>>& dtype_bits() {
  static const std::map<std::string, std::uint64_t, std::less<>> bits = {
      {"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8},
      {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16}, {"U16", 16},
      {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32}, {"C64", 64}, {"F64", 64}, {"I64", 64},
      {"U64", 64}};
  return bits;
}

SafetensorsCheck fail(const char* name, std::string message) {
  SafetensorsCheck check;
  check.error_name = name;
  check.message = std::move(message);
  return check;
}

struct TensorEntry {
  std::string name;
  std::uint64_t begin, end, nbits;
};

}  // namespace

SafetensorsCheck check_safetensors(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) return fail("HeaderTooSmall", "file is shorter than the 8-byte header length");
  const std::uint64_t n = load_le(bytes.data(), 8);
  if (n > max_header_length) return fail("HeaderTooLarge", "declared header of " + std::to_string(n) + " bytes");
  if (!range_fits(8, n, bytes.size())) return fail("InvalidHeaderLength", "header runs past the end of the file");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), n);
  if (!is_valid_utf8(text, false)) return fail("InvalidHeader", "header is not UTF-8");

  // Duplicate keys are refused by the reference reader; nlohmann keeps the last, so watch the parse.
  bool duplicate = false;
  std::vector<std::set<std::string>> keys_at_depth;
  auto watch = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using event_t = nlohmann::json::parse_event_t;
    if (event == event_t::object_start) {
      keys_at_depth.resize(static_cast<std::size_t>(depth) + 1);
      keys_at_depth[static_cast<std::size_t>(depth)].clear();
    } else if (event == event_t::key && depth >= 1 && static_cast<std::size_t>(depth) <= keys_at_depth.size()) {
      if (!keys_at_depth[static_cast<std::size_t>(depth) - 1].insert(parsed.get<std::string>()).second) duplicate = true;
    }
    return true;
  };
  nlohmann::json header = nlohmann::json::parse(text, watch, false);
  if (header.is_discarded() || !header.is_object())
    return fail("InvalidHeaderDeserialization", "header is not a JSON object");
  if (duplicate) return fail("InvalidHeaderDeserialization", "header repeats a key");

  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return fail("InvalidHeaderDeserialization", "__metadata__ is not an object");
      for (const auto& [key, item] : value.items())
        if (!item.is_string()) return fail("InvalidHeaderDeserialization", "__metadata__['" + key + "'] is not a string");
      continue;
    }
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
      return fail("InvalidHeaderDeserialization", "tensor '" + name + "' lacks dtype, shape or data_offsets");
    const auto& dtype = value["dtype"];
    const auto& shape = value["shape"];
    const auto& offsets = value["data_offsets"];
    if (!dtype.is_string() || !dtype_bits().contains(dtype.get<std::string>()))
      return fail("InvalidHeaderDeserialization", "tensor '" + name + "' has an unknown dtype");
    if (!shape.is_array() || !offsets.is_array() || offsets.size() != 2)
      return fail("InvalidHeaderDeserialization", "tensor '" + name + "' has a malformed shape or data_offsets");
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned()) return fail("InvalidHeaderDeserialization", "tensor '" + name + "' has a negative or non-integer dimension");
      auto product = checked_mul(numel, dim.get<std::uint64_t>());
      if (!product) overflow = true; else numel = *product;
    }
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return fail("InvalidHeaderDeserialization", "tensor '" + name + "' has negative data_offsets");
    auto nbits = checked_mul(numel, dtype_bits().at(dtype.get<std::string>()));
    if (overflow || !nbits) return fail("ValidationOverflow", "tensor '" + name + "' size overflows");
    entries.push_back({name, offsets[0].get<std::uint64_t>(), offsets[1].get<std::uint64_t>(), *nbits});
  }
  std::sort(entries.begin(), entries.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  std::uint64_t previous_end = 0;
  for (const TensorEntry& entry : entries) {
    if (entry.begin != previous_end || entry.end < entry.begin)
      return fail("InvalidOffset", "tensor '" + entry.name + "' does not start where the previous one ends (holes or overlap)");
    if (entry.nbits % 8 != 0) return fail("MisalignedSlice", "tensor '" + entry.name + "' is not a whole number of bytes");
    if (entry.end - entry.begin != entry.nbits / 8)
      return fail("TensorInvalidInfo", "tensor '" + entry.name + "' byte range does not match dtype and shape");
    previous_end = entry.end;
  }
  if (previous_end + 8 + n != bytes.size())
    return fail("MetadataIncompleteBuffer", std::to_string(bytes.size() - std::min<std::uint64_t>(bytes.size(), previous_end + 8 + n)) +
                                                " byte(s) outside the indexed tensor data (trailing bytes or a polyglot)");
  SafetensorsCheck check;
  check.valid = true;
  check.tensors = entries.size();
  return check;
}

}  // namespace picklewall::detail
