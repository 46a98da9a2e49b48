// NumPy .npy: magic, version, a header that is the repr of a dict (descr, fortran_order, shape), then data.
// Object arrays store their data as a pickle of the whole array: that pickle is what a load would run.
//
// numpy.load evaluates the header with ast.literal_eval and builds the dtype with descr_to_dtype, so the header
// is read here the same way (python_literal, numpy_dtype): any spelling numpy accepts is the one that counts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

struct NpyHeader {
  int major = 0;
  int minor = 0;
  std::string header;           // the dict text, as stored
  std::uint64_t data_offset = 0;
  // numpy.load(allow_pickle=True) unpickles the data: the dtype holds objects, or could under a reading this
  // reader does not follow exactly (`inexact`).
  bool has_object_dtype = false;
  bool inexact = false;
  std::string inexact_why;
  // numpy refuses headers longer than 10,000 characters unless allow_pickle=True.
  bool beyond_numpy_cap = false;
  // Why numpy.load would refuse the header (empty when it accepts it), and whether that is a limit of ours.
  std::string refusal;
  bool refusal_is_limit = false;
  // The evaluated values. `descr` is set only when the dtype is one string (not structured).
  bool descr_is_text = false;
  std::string descr;  // UTF-8
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Errors: malformed when the framing is unreadable (not .npy, truncated, unknown version). A header numpy
// would refuse is returned with `refusal` set: what was stored is still there to judge.
Result<NpyHeader> read_npy_header(std::span<const std::uint8_t> bytes, const Limits& limits = Limits{});

// The array a plain (not structured, not object) .npy holds: its dtype string, order and shape.
struct NpyArrayLayout {
  std::string descr;  // '<f4', '|b1', '>i8', ...
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};
Result<NpyArrayLayout> read_npy_layout(const NpyHeader& header);

}  // namespace picklewall::detail
