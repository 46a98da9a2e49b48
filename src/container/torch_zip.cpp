#include "container/torch_zip.hpp"

#include <algorithm>
#include <cctype>

namespace picklewall::detail {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool TorchZipLayout::is_storage_record(std::string_view name) const {
  return name.size() > top_folder.size() + 6 && name.starts_with(top_folder + "/data/");
}

std::string TorchZipLayout::storage_key(std::string_view name) const {
  return std::string(name.substr(top_folder.size() + 6));
}

TorchZipLayout torch_zip_layout(const std::vector<ZipEntry>& entries) {
  TorchZipLayout layout;
  if (entries.empty()) return layout;
  layout.top_folder = entries.front().name.substr(0, entries.front().name.find('/'));
  const std::string& top = layout.top_folder;
  for (const ZipEntry& entry : entries) {
    const std::string_view name = entry.name;
    if (name.substr(0, name.find('/')) != top) layout.single_top_folder = false;
    if (iequals(name, top + "/data.pkl")) layout.data_pickle = &entry;
    if (iequals(name, top + "/constants.pkl")) layout.constants = &entry;
    if (iequals(name, top + "/byteorder")) layout.byteorder = &entry;
    if (iequals(name, top + "/version") || iequals(name, top + "/.data/version")) layout.has_version = true;
    if (name.starts_with(top + "/code/")) layout.has_code = true;
  }
  return layout;
}

}  // namespace picklewall::detail
