// The scanning process's sandbox. picklewall never runs what it reads, but it parses hostile bytes in C++; if a
// parser bug ever handed an attacker control of the process, the sandbox leaves them nothing worth having: no
// program can be started, no socket opened, no file created, changed, renamed or removed, except the report's
// own temporary file in its directory. Reading stays allowed, because a directory walk opens its files as it
// goes. A forbidden call is stopped before the kernel runs it and reported on stderr, and the process exits 2.
#pragma once

#include "picklewall/result.hpp"

namespace picklewall {

struct SandboxOptions {
  // An open directory in which entries may still be renamed and removed (where an atomic output waits for its
  // rename): OutputFile::directory_fd(). -1: none.
  int output_directory_fd = -1;
};

// Installs the seccomp filter on every thread of the process. Irreversible. Call it after everything that
// writes has been opened (policy files read, cache opened, output's temporary file created). Linux only; an
// error when the kernel refuses the filter.
Status enter_sandbox(const SandboxOptions& options);

}  // namespace picklewall
