// find_class's fix_imports step over the generated tables of python2_names.cpp.
#include <unordered_map>

#include "pickle/python2_names.hpp"

namespace picklewall::detail {

namespace {

struct PairHash {
  std::size_t operator()(const std::pair<std::string_view, std::string_view>& key) const {
    return std::hash<std::string_view>()(key.first) * 31 + std::hash<std::string_view>()(key.second);
  }
};

}  // namespace

void remap_python2_name(std::string& module, std::string& name) {
  static const auto globals = [] {
    std::unordered_map<std::pair<std::string_view, std::string_view>, std::pair<std::string_view, std::string_view>,
                       PairHash> table;
    for (const auto& m : python2_global_names()) table[{m.old_module, m.old_name}] = {m.new_module, m.new_name};
    return table;
  }();
  static const auto modules = [] {
    std::unordered_map<std::string_view, std::string_view> table;
    for (const auto& [old_name, new_name] : python2_module_names()) table[old_name] = new_name;
    return table;
  }();
  if (auto it = globals.find({module, name}); it != globals.end()) {
    module = std::string(it->second.first);
    name = std::string(it->second.second);
  } else if (auto found = modules.find(module); found != modules.end()) {
    module = std::string(found->second);
  }
}

}  // namespace picklewall::detail
