// What joblib writes after a NumpyArrayWrapper, read from the wrapper's BUILD state in the object graph:
// whether the array is an object array (a nested pickle follows), whether an alignment pad precedes the data,
// and how many raw bytes the data takes (prod(shape) * itemsize).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "picklewall/result.hpp"
#include "pickle/object_graph.hpp"

namespace picklewall::detail {

struct JoblibArrayLayout {
  bool has_object = false;
  bool aligned = false;
  std::uint64_t bytes = 0;
};

Result<JoblibArrayLayout> joblib_array_layout(const ObjectGraph& graph, Value state);

// A numpy dtype in a pickle: REDUCE numpy.dtype(descr, False, True), then BUILD (3, order, subarray, names,
// fields, elsize, alignment, flags).
struct NumpyDtypeFacts {
  std::string descr;          // e.g. "f8", "U10", "V16", "O8"
  std::int64_t elsize = -1;   // from the dtype's BUILD state, when numpy recorded one
  Value fields;               // the fields dict of a structured dtype, or None
  char byte_order = '|';      // '<', '>', '|' (not applicable) or '=' (native), from the BUILD state
};
Result<NumpyDtypeFacts> numpy_dtype_facts(const ObjectGraph& graph, Value dtype);

// A numpy type string without its byte-order prefix: "<f4" -> "f4", "|b1" -> "b1".
std::string_view numpy_type_code(std::string_view descr);

}  // namespace picklewall::detail
