// Where torch finds its records in a torch.save zip: every record under the FIRST entry's top folder (never a
// hard-coded "archive/"), looked up case-insensitively as torch's miniz reader does. The scanner and the
// converter both read archives through this one rule.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "container/zip_archive.hpp"

namespace picklewall::detail {

struct TorchZipLayout {
  std::string top_folder;
  const ZipEntry* data_pickle = nullptr;  // <top>/data.pkl (the last entry so named, as a lookup would find)
  const ZipEntry* constants = nullptr;    // <top>/constants.pkl (TorchScript)
  const ZipEntry* byteorder = nullptr;    // <top>/byteorder
  bool has_version = false;               // <top>/version or <top>/.data/version
  bool has_code = false;                  // <top>/code/... (TorchScript source)
  bool single_top_folder = true;

  bool is_torch() const { return data_pickle != nullptr || constants != nullptr; }
  // <top>/data/<key>: a storage record, and its key.
  bool is_storage_record(std::string_view name) const;
  std::string storage_key(std::string_view name) const;
};

// `entries` must outlive the layout (it points into them).
TorchZipLayout torch_zip_layout(const std::vector<ZipEntry>& entries);

bool iequals(std::string_view a, std::string_view b);

}  // namespace picklewall::detail
