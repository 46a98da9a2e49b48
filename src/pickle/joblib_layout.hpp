// What joblib writes after a NumpyArrayWrapper, read from the wrapper's BUILD state in the object graph:
// whether the array is an object array (a nested pickle follows), whether an alignment pad precedes the data,
// and how many raw bytes the data takes (prod(shape) * itemsize).
#pragma once

#include <cstdint>
#include <optional>

#include "picklewall/result.hpp"
#include "pickle/object_graph.hpp"

namespace picklewall::detail {

struct JoblibArrayLayout {
  bool has_object = false;
  bool aligned = false;
  std::uint64_t bytes = 0;
};

Result<JoblibArrayLayout> joblib_array_layout(const ObjectGraph& graph, Value state);

}  // namespace picklewall::detail
