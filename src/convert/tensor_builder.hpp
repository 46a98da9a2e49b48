// The restricted builder: finds the tensors in a pickle's object graph without running anything. It knows the
// data-reconstruction calls torch writes (_rebuild_tensor_v2/v3, _rebuild_parameter[_with_state],
// _rebuild_from_type_v2 for Tensor/Parameter, storages as persistent ids) and the containers around them (dict,
// OrderedDict, list, tuple, and torch.nn.Module state: _parameters, persistent _buffers, _modules), and numpy
// arrays (_reconstruct + BUILD, _frombuffer, joblib's NumpyArrayWrapper). Anything else is a leaf that is
// listed and left out: code is never part of the result.
#pragma once

#include <cstdint>
#include <map>
#include <span>

#include "picklewall/limits.hpp"
#include <string>
#include <vector>

#include "convert/dtypes.hpp"
#include "picklewall/result.hpp"
#include "pickle/symbolic_machine.hpp"

namespace picklewall::detail {

struct StorageInfo {
  std::string key;           // the record name (torch zip: <top>/data/<key>)
  std::uint64_t bytes = 0;   // what the record must hold
  Dtype dtype{};             // element type of typed storages; U8 for untyped ones
  bool untyped = false;
  bool big_endian = false;   // numpy arrays of '>' dtypes
};

struct TensorInfo {
  std::string name;  // dotted path from the root: "encoder.layer.0.weight"
  Dtype dtype{};
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;  // in elements
  std::uint64_t offset = 0;           // in elements, into the storage
  std::string storage_key;
  std::uint64_t numel() const;
  bool contiguous() const;
  std::uint64_t first_byte() const { return offset * dtype.bytes; }
  std::uint64_t end_byte() const;  // one past the last element's last byte (first_byte() when empty)
};

struct BuiltTensors {
  std::vector<TensorInfo> tensors;
  std::map<std::string, StorageInfo> storages;
  std::vector<std::string> skipped;  // "path: what it is" for every non-tensor leaf left out
  std::string root_path;             // "state_dict" when that key was unwrapped, the --key otherwise
  // numpy and joblib arrays carry their bytes inside the pickle: storage key -> those bytes (a view into the
  // pickle's input, or into `owned` for bytes that had to be re-encoded).
  std::map<std::string, std::span<const std::uint8_t>> inline_storages;
  std::vector<std::vector<std::uint8_t>> owned;
};

struct BuildOptions {
  std::string key;  // take this top-level key instead of the whole object ("" = unwrap "state_dict" if present)
  // Also look at objects the pickle built and then dropped (the model under a Sleepy Pickle's patch call):
  // used by --strip-code, where the returned object may be the payload's.
  bool search_dropped_roots = false;
  std::span<const std::uint8_t> input;  // the bytes the program was read from (joblib array data lives there)
  std::uint64_t max_name_bytes = Limits{}.max_tensor_name_bytes;  // deeper parts are skipped, with a note
};

// A numpy array's tensor: C order, or Fortran order expressed as strides (the writer reads it back in C order).
TensorInfo array_tensor(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, bool fortran,
                        std::string storage_key);

// Errors are hostile or unsupported tensor metadata (negative or overflowing sizes, views past their storage,
// conflicting storage declarations, dtypes safetensors cannot hold), each naming the tensor.
Result<BuiltTensors> build_tensors(const PickleProgram& program, const BuildOptions& options);

}  // namespace picklewall::detail
