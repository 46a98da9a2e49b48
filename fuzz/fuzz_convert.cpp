// The converter's restricted builder: from a pickle's object graph to tensors and storages, then the steps that
// turn those into a safetensors header (alias removal, writer order, header text). The first input byte picks
// the builder's options, so both the returned object and the dropped roots (--strip-code) are explored.
#include <cstdint>
#include <span>

#include "convert/safetensors_writer.hpp"
#include "convert/shared_storage.hpp"
#include "convert/tensor_builder.hpp"
#include "fuzz_support.hpp"
#include "pickle/pickle_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  if (size < 1) return 0;
  const std::uint8_t selector = data[0];
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  const auto stream = fuzz::fuzz_stream(input, 1, (selector & 4) != 0);
  if (stream.pickles.empty()) return 0;
  BuildOptions options;
  options.input = input;
  options.search_dropped_roots = (selector & 1) != 0;
  if (selector & 2) options.key = "model";
  auto built = build_tensors(stream.pickles.front(), options);
  if (!built) return 0;
  auto without_aliases = remove_shared_aliases(built.value().tensors, built.value().storages);
  if (!without_aliases) return 0;
  (void)safetensors_header(writer_order(without_aliases.value().kept), without_aliases.value().dropped);
  return 0;
}
