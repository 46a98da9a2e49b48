// Legacy (pre-zip) torch files: five consecutive pickles, then the raw storages whose keys and sizes the fourth
// pickle names; the check that the storages tile the rest of the file exactly.
#include <cstdint>
#include <span>

#include "container/torch_legacy.hpp"
#include "fuzz_support.hpp"
#include "pickle/pickle_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  const std::span<const std::uint8_t> input(data, size);
  (void)is_legacy_torch(input);
  const auto stream = fuzz::fuzz_stream(input, 5);
  (void)check_legacy_storages(input, stream);
  return 0;
}
