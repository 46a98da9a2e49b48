// Text for terminals, shared by the scan report and inspect: ANSI colours per verdict and severity, and
// escaping, so hostile member names and messages cannot drive the terminal.
#pragma once

#include <string>
#include <string_view>

#include "picklewall/finding.hpp"

namespace picklewall::detail {

const char* color_of(Verdict verdict);
const char* color_of(Severity severity);
// Control bytes as \xNN.
std::string printable(std::string_view text);

}  // namespace picklewall::detail
