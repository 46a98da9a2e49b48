// joblib streams: the machine in joblib mode, where each NumpyArrayWrapper's BUILD is followed by raw array bytes
// that are skipped exactly (or, for object arrays, read as a nested pickle), then the restricted builder that
// turns the arrays into tensors.
#include <cstdint>
#include <span>

#include "convert/tensor_builder.hpp"
#include "fuzz_support.hpp"
#include "pickle/pickle_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  const std::span<const std::uint8_t> input(data, size);
  const auto stream = fuzz::fuzz_stream(input, 1, true);
  for (const auto& program : stream.pickles) {
    if (!program.stopped) continue;
    BuildOptions options;
    options.input = input;
    (void)build_tensors(program, options);
  }
  return 0;
}
