// numpy .npy headers: magic, version, header length, and the header's Python-literal dict (descr, fortran_order,
// shape).
#include <cstdint>
#include <span>

#include "container/numpy_npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall::detail;
  auto header = read_npy_header(std::span<const std::uint8_t>(data, size));
  if (header) (void)read_npy_layout(header.value());
  return 0;
}
