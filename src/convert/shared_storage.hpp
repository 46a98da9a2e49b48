// Tensors that share storage, treated exactly as Hugging Face's PyTorch-to-safetensors converter treats them:
// tensors are grouped by storage, each group is split into clusters of overlapping byte ranges, and in each
// cluster the lexicographically first "complete" tensor (starting at the storage start and as large as the
// storage) is kept, names in `discard` (the architecture's tied-weight names) losing to any other; the others
// are dropped and recorded as aliases of it. A cluster with no complete tensor is
// kept when it has one member (its bytes are written contiguously) and is an error otherwise.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "convert/tensor_builder.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

struct WithoutAliases {
  std::vector<TensorInfo> kept;
  std::map<std::string, std::string> dropped;  // dropped name -> kept name (written into the metadata)
};

Result<WithoutAliases> remove_shared_aliases(std::vector<TensorInfo> tensors,
                                             const std::map<std::string, StorageInfo>& storages,
                                             const std::set<std::string>& discard = {});

}  // namespace picklewall::detail
