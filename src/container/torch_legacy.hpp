// PyTorch's legacy (non-zip) format after its five pickles: for each storage key of pickle 5, in order, an
// int64 element count and count * element_size raw bytes; element sizes come from the storage types named in
// pickle 4's persistent ids. The section must account for every byte up to the end of the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {

struct LegacyStorageRange {
  std::string key;
  std::uint64_t offset = 0;  // of the raw bytes, after the element count
  std::uint64_t length = 0;
};

struct LegacyStorageCheck {
  bool valid = false;
  std::vector<LegacyStorageRange> ranges;  // where each storage's bytes are (convert streams them from here)
  std::uint64_t storages = 0;
  std::uint64_t problem_offset = 0;
  std::string problem;
};

// torch's legacy format begins with a pickle of its magic number 0x1950a86a20f9469cfc6c (protocol 2, LONG1).
bool is_legacy_torch(std::span<const std::uint8_t> bytes);

// `stream` must have been read with GraphDetail::full (pickle 5 is a list of keys).
LegacyStorageCheck check_legacy_storages(std::span<const std::uint8_t> bytes, const PickleStream& stream);

// torch's oldest format, a tar of `storages`, `tensors` and `pickle`, which torch.load tries on any file that is
// not a zip. `storages` and `tensors` are not one pickle each: torch reads them with one pickle.load after
// another, on an unbuffered file, with raw bytes in between:
//   storages: count; count x (pickle (key, location, StorageType), int64 numel, numel x element size bytes);
//             then a pickle of the storage views.
//   tensors:  count; count x (pickle (key, storage id, tensor type), int32 ndim, 4 bytes, ndim x int64 sizes,
//             ndim x int64 strides, int64 storage offset).
// Every one of those pickles runs when torch.load opens the file.
enum class TorchTarRecord : std::uint8_t { storages, tensors };

struct TorchTarRecordRead {
  PickleStream stream;          // every pickle torch would load from the record, in order
  std::string problem;          // where the record stops being what torch reads (then the rest is unread)
  std::uint64_t problem_offset = 0;
};

TorchTarRecordRead read_torch_tar_record(std::span<const std::uint8_t> bytes, TorchTarRecord record,
                                         const Limits& limits, const Budget& budget, MachineOptions options);

}  // namespace picklewall::detail
