// Payloads carried as constants: a string or bytes argument of a call (or a BUILD state) that holds Python
// source, a marshalled code object or a whole second pickle, possibly wrapped in base64, hex, zlib or rot13.
// The call that consumes it (exec, marshal.loads, pickle.loads...) is judged by the policy; this says what it
// would run, and hands decoded pickles back to be analysed like any other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/limits.hpp"
#include "pickle/symbolic_machine.hpp"

namespace picklewall::detail {

// A pickle found inside a constant, decoded and owned here: the caller runs and analyses it.
struct EmbeddedPickle {
  std::vector<std::uint8_t> bytes;
  std::string member;  // where it was found, for findings
  int depth = 1;       // 1 for a pickle in a top-level pickle's constant, 2 for one inside that, ...
};

// Looks at every constant argument of every call and every constant BUILD state in `program`. Source and code
// objects become findings; pickles are appended to `pickles` (at `depth`), up to the limits' decompression
// budget in total.
void find_embedded_payloads(const PickleProgram& program, const Limits& limits, const Budget& budget,
                            const std::string& member, int depth,
                            std::vector<Finding>& findings, std::vector<EmbeddedPickle>& pickles);

}  // namespace picklewall::detail
