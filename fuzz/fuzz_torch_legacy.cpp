// Legacy (pre-zip) torch files: five consecutive pickles, then the raw storages whose keys and sizes the fourth
// pickle names; the check that the storages tile the rest of the file exactly.
#include <cstdint>
#include <span>

#include "container/torch_legacy.hpp"
#include "fuzz_limits.hpp"
#include "pickle/pickle_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  const std::span<const std::uint8_t> input(data, size);
  (void)is_legacy_torch(input);
  const Limits limits = fuzz::fuzz_limits();
  const auto stream = read_pickle_stream(input, 0, limits, fuzz::fuzz_deadline(limits), 5,
                                         MachineOptions{GraphDetail::full, false});
  (void)check_legacy_storages(input, stream);
  return 0;
}
