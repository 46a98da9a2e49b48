// PyTorch's legacy (non-zip) format after its five pickles: for each storage key of pickle 5, in order, an
// int64 element count and count * element_size raw bytes; element sizes come from the storage types named in
// pickle 4's persistent ids. The section must account for every byte up to the end of the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {

struct LegacyStorageCheck {
  bool valid = false;
  std::uint64_t storages = 0;
  std::uint64_t problem_offset = 0;
  std::string problem;
};

// `stream` must have been read with GraphDetail::full (pickle 5 is a list of keys).
LegacyStorageCheck check_legacy_storages(std::span<const std::uint8_t> bytes, const PickleStream& stream);

}  // namespace picklewall::detail
