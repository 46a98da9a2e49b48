// Loading a model's tensors into memory without running its pickle: the same restricted builder as `convert`,
// with the bytes read into buffers the caller owns (the Python package allocates torch tensors or numpy arrays
// and has them filled with the GIL released). A stricter torch.load(weights_only=True): the file is scanned
// first and nothing but tensor reconstruction is ever interpreted.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "picklewall/policy.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

struct LoadOptions {
  Limits limits;
  std::shared_ptr<const Policy> policy;  // null: the built-in policy
  // Read the tensors of a file whose verdict is not safe (the payload is never run; only tensors come out).
  bool strip_code = false;
  std::string key;  // as ConvertOptions::key
};

struct TensorSpec {
  std::string name;                  // dotted path from the root, as safetensors names it
  std::string dtype;                 // safetensors dtype name: "F32", "BF16", "I64", ...
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes = 0;           // size of the tensor's contiguous little-endian bytes
};

class TensorReader {
 public:
  // Scans `path`, refuses it unless safe (or strip_code), and reads its tensor table. Every name the pickle
  // holds is kept, tied weights included (each gets its own bytes). Errors as convert_file's.
  static Result<TensorReader> open(const std::string& path, const LoadOptions& options);
  TensorReader(TensorReader&&) noexcept;
  TensorReader& operator=(TensorReader&&) noexcept;
  ~TensorReader();

  const FileReport& scan() const;
  const std::vector<TensorSpec>& tensors() const;
  const std::vector<std::string>& skipped() const;  // non-tensor leaves left out ("path: what")
  // Writes tensor `index` in C order, little-endian, into `into`, which must be exactly tensors()[index].bytes.
  Status read(std::size_t index, std::span<std::uint8_t> into) const;

  struct State;

 private:
  explicit TensorReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace picklewall
