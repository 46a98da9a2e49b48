#include "convert/dtypes.hpp"

#include <array>
#include <utility>

#include "pickle/joblib_layout.hpp"

namespace picklewall::detail {
namespace {

// safetensors' Dtype enum, in order (formats.md section 1); sizes for the byte-sized ones. F4 and F6 pack
// several values per byte and torch has no storage class for them: they are not listed.
constexpr std::array<Dtype, 18> safetensors_dtypes = {{
    {"BOOL", 1, 0}, {"U8", 1, 4}, {"I8", 1, 5}, {"F8_E5M2", 1, 6}, {"F8_E4M3", 1, 7}, {"F8_E8M0", 1, 8},
    {"F8_E4M3FNUZ", 1, 9}, {"F8_E5M2FNUZ", 1, 10}, {"I16", 2, 11}, {"U16", 2, 12}, {"F16", 2, 13},
    {"BF16", 2, 14}, {"I32", 4, 15}, {"U32", 4, 16}, {"F32", 4, 17}, {"C64", 8, 18}, {"F64", 8, 19},
    {"I64", 8, 20},
}};
constexpr Dtype u64{"U64", 8, 21};

std::optional<Dtype> named(std::string_view name) {
  if (name == u64.name) return u64;
  for (const Dtype& dtype : safetensors_dtypes)
    if (dtype.name == name) return dtype;
  return std::nullopt;
}

constexpr std::pair<std::string_view, std::string_view> storage_classes[] = {
    {"DoubleStorage", "F64"}, {"FloatStorage", "F32"}, {"HalfStorage", "F16"}, {"BFloat16Storage", "BF16"},
    {"LongStorage", "I64"}, {"IntStorage", "I32"}, {"ShortStorage", "I16"}, {"CharStorage", "I8"},
    {"ByteStorage", "U8"}, {"BoolStorage", "BOOL"}, {"ComplexFloatStorage", "C64"},
};

constexpr std::pair<std::string_view, std::string_view> torch_dtypes[] = {
    {"float32", "F32"}, {"float", "F32"}, {"float64", "F64"}, {"double", "F64"}, {"float16", "F16"},
    {"half", "F16"}, {"bfloat16", "BF16"}, {"int64", "I64"}, {"long", "I64"}, {"int32", "I32"}, {"int", "I32"},
    {"int16", "I16"}, {"short", "I16"}, {"int8", "I8"}, {"uint8", "U8"}, {"bool", "BOOL"}, {"uint16", "U16"},
    {"uint32", "U32"}, {"uint64", "U64"}, {"complex64", "C64"}, {"cfloat", "C64"},
    {"float8_e4m3fn", "F8_E4M3"}, {"float8_e5m2", "F8_E5M2"}, {"float8_e4m3fnuz", "F8_E4M3FNUZ"},
    {"float8_e5m2fnuz", "F8_E5M2FNUZ"}, {"float8_e8m0fnu", "F8_E8M0"},
};

std::optional<std::string_view> torch_member(std::string_view qualified) {
  if (!qualified.starts_with("torch.")) return std::nullopt;
  std::string_view name = qualified.substr(6);
  if (name.find('.') != std::string_view::npos) return std::nullopt;
  return name;
}

}  // namespace

std::optional<Dtype> dtype_of_storage_class(std::string_view qualified) {
  const auto name = torch_member(qualified);
  if (!name) return std::nullopt;
  for (const auto& [storage, dtype] : storage_classes)
    if (storage == *name) return named(dtype);
  return std::nullopt;
}

std::optional<Dtype> dtype_of_torch_dtype(std::string_view qualified) {
  const auto name = torch_member(qualified);
  if (!name) return std::nullopt;
  for (const auto& [torch_name, dtype] : torch_dtypes)
    if (torch_name == *name) return named(dtype);
  return std::nullopt;
}

std::optional<Dtype> dtype_of_safetensors_name(std::string_view name) { return named(name); }

std::optional<Dtype> dtype_of_numpy_code(std::string_view code) {
  static constexpr std::pair<std::string_view, std::string_view> codes[] = {
      {"f2", "F16"}, {"f4", "F32"}, {"f8", "F64"}, {"i1", "I8"}, {"i2", "I16"}, {"i4", "I32"}, {"i8", "I64"},
      {"u1", "U8"}, {"u2", "U16"}, {"u4", "U32"}, {"u8", "U64"}, {"b1", "BOOL"}, {"?", "BOOL"}, {"c8", "C64"},
  };
  code = numpy_type_code(code);
  for (const auto& [numpy_code, dtype] : codes)
    if (numpy_code == code) return named(dtype);
  return std::nullopt;
}

bool is_untyped_storage_class(std::string_view qualified) {
  return qualified == "torch.UntypedStorage" || qualified == "torch.storage.UntypedStorage" ||
         qualified == "torch.storage._UntypedStorage";
}

}  // namespace picklewall::detail
