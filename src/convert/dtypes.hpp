// Element types as safetensors names them, and how torch names them in pickles (storage classes for typed
// storages, dtype globals for _rebuild_tensor_v3). Types safetensors cannot hold (complex128, quantized,
// complex32, the sub-byte bit types) have no entry: converting them is an error, never a silent cast.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace picklewall::detail {

struct Dtype {
  std::string_view name;  // safetensors: "F32", "BF16", ...
  std::uint32_t bytes;    // element size
  int rank;               // position in safetensors' dtype enum; the writer sorts by it, descending
};

std::optional<Dtype> dtype_of_storage_class(std::string_view qualified);  // "torch.FloatStorage"
std::optional<Dtype> dtype_of_torch_dtype(std::string_view qualified);    // "torch.float8_e4m3fn"
std::optional<Dtype> dtype_of_safetensors_name(std::string_view name);    // "F32"
std::optional<Dtype> dtype_of_numpy_code(std::string_view code);          // "f4", "<f4", "|b1", "?"
bool is_untyped_storage_class(std::string_view qualified);                // torch.UntypedStorage and aliases

}  // namespace picklewall::detail
