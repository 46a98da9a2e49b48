// The scanning process's sandbox. picklewall never runs what it reads, but it parses hostile bytes in C++; if a
// parser bug ever handed an attacker control of the process, the sandbox leaves them nothing worth having: no
// program can be started, no socket opened, no file created, changed, renamed or removed. Reading stays allowed,
// because a directory walk opens its files as it goes. A forbidden call is stopped before the kernel runs it and
// reported on stderr, and the process exits 2.
//
// There are no exceptions by directory: seccomp sees a path argument only as a pointer, so a rule such as "rename
// only inside the report's directory" would still let an absolute path through. An output file that must be
// renamed into place is therefore committed by an unsandboxed parent after the sandboxed child wrote it (the
// command does this for --output).
#pragma once

#include "picklewall/result.hpp"

namespace picklewall {

// Installs the seccomp filter on every thread of the process. Irreversible. Call it after everything that
// writes has been opened (cache opened, output's temporary file created). Linux only; an error when the kernel
// refuses the filter.
Status enter_sandbox();

}  // namespace picklewall
