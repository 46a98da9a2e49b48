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

#include "picklewall/isolation.hpp"
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
  // The same, with everything that reads the file done in a sandboxed worker of `pool` (whose policy and limits
  // apply): the worker writes the tensors' bytes into a shared memory file it hands back, and read() copies
  // from there. Nothing of the file is parsed in this process. The tensors may take at most
  // max_tensor_bytes_per_input_byte times the file's size (plus 1 GiB): more is refused as a memory bomb.
  static Result<TensorReader> open_in_worker(WorkerPool& pool, const std::string& path, bool strip_code,
                                             const std::string& key, const WorkerPool::StopRequested& stop = {});
  TensorReader(TensorReader&&) noexcept;
  TensorReader& operator=(TensorReader&&) noexcept;
  ~TensorReader();

  const FileReport& scan() const;
  const std::vector<TensorSpec>& tensors() const;
  const std::vector<std::string>& skipped() const;  // non-tensor leaves left out ("path: what")
  // Writes tensor `index` in C order, little-endian, into `into`, which must be exactly tensors()[index].bytes.
  Status read(std::size_t index, std::span<std::uint8_t> into) const;
  // Bytes of every tensor laid one after another at 64-byte-aligned offsets, as a worker packs them for
  // open_in_worker.
  static constexpr std::uint64_t alignment = 64;
  std::uint64_t packed_bytes() const;

  struct State;

 private:
  explicit TensorReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace picklewall
