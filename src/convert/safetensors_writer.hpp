// Writes a safetensors file in the reference writer's exact layout (tensors sorted by dtype, descending in the
// format's enum order, then by name; compact JSON header with __metadata__ first and fields in the order dtype,
// shape, data_offsets; space padding to a multiple of 8), so the bytes equal safetensors.torch.save_file's for
// the same tensors and metadata. Tensor bytes are streamed from their source: contiguous little-endian ones are
// copied by the kernel (copy_file_range), others gathered and byte-swapped through a bounded buffer. Where the
// file is made, and that it appears whole, is the caller's (convert/output_staging.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "convert/tensor_builder.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

// Where one storage's bytes are.
struct StorageSource {
  std::span<const std::uint8_t> bytes;  // always readable (a mapped file range or an inflated buffer)
  int fd = -1;                          // >= 0 when `bytes` is a range of this open file, at `file_offset`
  std::uint64_t file_offset = 0;
  bool mapped = false;                  // `bytes` is file-backed: pages can be released after use
  bool big_endian = false;              // elements must be byte-swapped
};

using StorageSources = std::map<std::string, StorageSource>;

// Sorted as the reference writer sorts; the header; the total size. Exposed for tests and verification.
std::vector<const TensorInfo*> writer_order(const std::vector<TensorInfo>& tensors);
Result<std::string> safetensors_header(const std::vector<const TensorInfo*>& ordered,
                                       const std::map<std::string, std::string>& metadata);

// Writes the file into `fd` (a new, empty file; `name` is what errors call it). Returns its size.
Result<std::uint64_t> write_safetensors(int fd, const std::string& name, const std::vector<TensorInfo>& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const StorageSources& sources);

// Calls `sink` with the tensor's bytes as they belong in the output (C order, little-endian), in chunks of a
// bounded buffer. Used by the writer and by --verify.
using ChunkSink = std::function<Status(std::span<const std::uint8_t>)>;
Status stream_tensor_bytes(const TensorInfo& tensor, const StorageSource& source, const ChunkSink& sink);

}  // namespace picklewall::detail
