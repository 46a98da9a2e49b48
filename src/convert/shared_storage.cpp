#include "convert/shared_storage.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace picklewall::detail {
namespace {

bool is_complete(const TensorInfo& tensor, const StorageInfo& storage) {
  return tensor.offset == 0 && tensor.numel() * tensor.dtype.bytes == storage.bytes;
}

}  // namespace

Result<WithoutAliases> remove_shared_aliases(std::vector<TensorInfo> tensors,
                                             const std::map<std::string, StorageInfo>& storages,
                                             const std::set<std::string>& discard) {
  // Group by storage; empty storages share nothing (the reference skips them).
  std::map<std::string, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const StorageInfo& storage = storages.at(tensors[i].storage_key);
    if (storage.bytes == 0) groups["\x01" + tensors[i].name].push_back(i);
    else groups[tensors[i].storage_key].push_back(i);
  }
  std::vector<std::set<std::size_t>> clusters;
  for (auto& [key, members] : groups) {
    if (members.size() < 2) {
      clusters.push_back({members.begin(), members.end()});
      continue;
    }
    // Sorted by (start, stop, name); a tensor starting before the previous one's stop joins its cluster.
    std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string, std::size_t>> areas;
    for (std::size_t index : members)
      areas.emplace_back(tensors[index].first_byte(), tensors[index].end_byte(), tensors[index].name, index);
    std::sort(areas.begin(), areas.end());
    std::uint64_t last_stop = std::get<1>(areas.front());
    clusters.push_back({std::get<3>(areas.front())});
    for (std::size_t i = 1; i < areas.size(); ++i) {
      const auto& [start, stop, name, index] = areas[i];
      if (start >= last_stop) clusters.push_back({index});
      else clusters.back().insert(index);
      last_stop = stop;
    }
  }
  WithoutAliases out;
  std::vector<bool> keep(tensors.size(), true);
  for (const auto& cluster : clusters) {
    std::vector<std::string> complete;
    for (std::size_t index : cluster)
      if (is_complete(tensors[index], storages.at(tensors[index].storage_key))) complete.push_back(tensors[index].name);
    if (complete.empty()) {
      if (cluster.size() == 1) continue;  // a lone view: written contiguously, as the reference clones it
      std::string names;
      for (std::size_t index : cluster) names += (names.empty() ? "" : ", ") + tensors[index].name;
      return Error{ErrorCode::unsupported,
                   "tensors share overlapping storage and none of them covers it whole, so no single tensor can "
                   "stand for the others (as in Hugging Face's converter): " + names};
    }
    std::vector<std::string> preferred;
    for (const std::string& name : complete)
      if (!discard.contains(name)) preferred.push_back(name);
    const auto& choose = preferred.empty() ? complete : preferred;
    const std::string kept = *std::min_element(choose.begin(), choose.end());
    for (std::size_t index : cluster) {
      if (tensors[index].name == kept) continue;
      out.dropped.try_emplace(tensors[index].name, kept);
      keep[index] = false;
    }
  }
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (keep[i]) out.kept.push_back(std::move(tensors[i]));
  return out;
}

}  // namespace picklewall::detail
