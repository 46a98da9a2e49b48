// Turns a pickle's effects into "how is each global used": referenced, called, built into, mutated. The
// policy judges a global by its use (design.md), and effects that no global explains (calling an object made
// during the load, BUILD on an imported class) become structural findings here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/policy.hpp"
#include "pickle/symbolic_machine.hpp"

namespace picklewall::detail {

struct GlobalUse {
  NodeId node = 0;
  std::uint8_t uses = 0;             // bit per SymbolUse
  std::uint64_t offset[5] = {};      // first opcode offset per use
  Value first_call;                  // the first call node with this global as callee (for messages)
  bool has_call = false;
  std::string via;                   // why it counts as called when no REDUCE calls it (a helper calls its argument)
  bool has(SymbolUse use) const { return uses & (1u << static_cast<unsigned>(use)); }
};

std::vector<GlobalUse> collect_symbol_uses(const PickleProgram& program, const Policy& policy, const std::string& member,
                                           std::vector<Finding>& findings);

}  // namespace picklewall::detail
