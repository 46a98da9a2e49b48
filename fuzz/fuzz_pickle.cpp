// The pickle decoder and symbolic machine alone, with the full object graph kept, and what is built from their
// output for a person to read: the decompiled view, the opcode listing and the text of every value returned.
#include <cstdint>
#include <span>

#include "fuzz_support.hpp"
#include "inspect/decompiler.hpp"
#include "inspect/disassembler.hpp"
#include "pickle/pickle_stream.hpp"
#include "pickle/value_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  const std::span<const std::uint8_t> input(data, size);
  const auto stream = fuzz::fuzz_stream(input, 4);
  for (const auto& program : stream.pickles) {
    (void)looks_like_pickle(program, input);
    (void)imports_a_module(program);
    (void)decompile(program);
    (void)disassemble(input, program.start, program.end, fuzz::fuzz_limits());
    if (program.root) (void)value_text(program.graph, *program.root);
    for (const Value& value : program.dropped_root_values) (void)value_text(program.graph, value);
  }
  return 0;
}
