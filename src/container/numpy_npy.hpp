// NumPy .npy: magic, version, a header that is the repr of a dict (descr, fortran_order, shape), then data.
// Object arrays store their data as a pickle of the whole array: that pickle is what a load would run.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "picklewall/result.hpp"

namespace picklewall::detail {

struct NpyHeader {
  int major = 0;
  int minor = 0;
  std::string header;           // the dict text
  std::uint64_t data_offset = 0;
  bool has_object_dtype = false;  // data is a pickle
};

Result<NpyHeader> read_npy_header(std::span<const std::uint8_t> bytes);

// The array a plain (not structured, not object) .npy holds: its dtype string, order and shape.
struct NpyArrayLayout {
  std::string descr;  // '<f4', '|b1', '>i8', ...
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};
Result<NpyArrayLayout> read_npy_layout(const NpyHeader& header);

}  // namespace picklewall::detail
