// picklewall-worker: the worker program the Python package ships beside its extension module. It does what
// `picklewall __worker` does, and nothing else: the package starts it for every sandboxed worker it needs.
#include <string_view>

#include "isolation/worker_protocol.hpp"

int main(int argc, char** argv) {
  if (argc != 2 || std::string_view(argv[1]) != picklewall::detail::worker_argument) return 2;
  return picklewall::detail::run_worker();
}
