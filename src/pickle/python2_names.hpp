// CPython's fix_imports tables (_compat_pickle): with protocol < 3 the unpickler renames Python 2 modules and
// globals before importing them, so `__builtin__ eval` is `builtins.eval`. Generated; see the script.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace picklewall::detail {

struct Python2NameMapping {
  std::string_view old_module, old_name, new_module, new_name;
};

const std::vector<std::pair<std::string_view, std::string_view>>& python2_module_names();
const std::vector<Python2NameMapping>& python2_global_names();

// find_class's fix_imports step: protocol < 3 renames Python 2 names before importing.
void remap_python2_name(std::string& module, std::string& name);

}  // namespace picklewall::detail
