#include "container/torch_legacy.hpp"

#include <algorithm>
#include <map>

#include "io/checked.hpp"

namespace picklewall::detail {
namespace {

std::uint64_t element_size(std::string_view storage_type) {
  static const std::map<std::string_view, std::uint64_t> sizes = {
      {"DoubleStorage", 8}, {"FloatStorage", 4}, {"HalfStorage", 2}, {"BFloat16Storage", 2}, {"LongStorage", 8},
      {"IntStorage", 4}, {"ShortStorage", 2}, {"CharStorage", 1}, {"ByteStorage", 1}, {"BoolStorage", 1},
      {"ComplexDoubleStorage", 16}, {"ComplexFloatStorage", 8}, {"QInt8Storage", 1}, {"QUInt8Storage", 1},
      {"QInt32Storage", 4}, {"QUInt4x2Storage", 1}, {"QUInt2x4Storage", 1}, {"UntypedStorage", 1}};
  auto it = sizes.find(storage_type);
  return it == sizes.end() ? 0 : it->second;
}

struct StorageInfo {
  std::uint64_t element_size = 0;
  std::int64_t numel = -1;
};

LegacyStorageCheck problem(std::uint64_t offset, std::string text) {
  LegacyStorageCheck check;
  check.problem_offset = offset;
  check.problem = std::move(text);
  return check;
}

constexpr std::uint8_t legacy_torch_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                               0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

}  // namespace

bool is_legacy_torch(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= sizeof legacy_torch_magic &&
         std::equal(std::begin(legacy_torch_magic), std::end(legacy_torch_magic), bytes.begin());
}

LegacyStorageCheck check_legacy_storages(std::span<const std::uint8_t> bytes, const PickleStream& stream) {
  if (stream.pickles.size() < 5 || !stream.pickles[4].stopped || !stream.pickles[4].root)
    return problem(stream.trailing_offset, "fewer than five complete pickles");
  // Persistent ids of pickle 4: ('storage', StorageType, key, location, numel[, view_metadata]).
  std::map<std::string, StorageInfo, std::less<>> storages;
  const ObjectGraph& graph = stream.pickles[3].graph;
  for (const Effect& effect : graph.effects()) {
    if (effect.kind != EffectKind::persistent_load || !effect.argument.is_node()) continue;
    const Node& pid = graph.node(effect.argument.node);
    if (pid.kind != NodeKind::tuple) continue;
    const auto& fields = graph.children(pid.index);
    const GlobalRef* type = fields.size() >= 5 ? graph.as_global(fields[1]) : nullptr;
    const auto key = fields.size() >= 5 ? graph.text_of(fields[2]) : std::nullopt;
    if (type == nullptr || !key || fields[4].kind != ValueKind::integer) continue;
    storages[std::string(*key)] = StorageInfo{element_size(type->name), fields[4].integer};
  }
  const ObjectGraph& keys_graph = stream.pickles[4].graph;
  const Value root = *stream.pickles[4].root;
  if (!root.is_node() || keys_graph.node(root.node).kind != NodeKind::list)
    return problem(stream.pickles[4].start, "pickle 5 is not the list of storage keys");

  std::uint64_t at = stream.pickles[4].end;
  LegacyStorageCheck check;
  for (Value key_value : keys_graph.children(keys_graph.node(root.node).index)) {
    const auto key = keys_graph.text_of(key_value);
    if (!key) return problem(at, "a storage key is not a string");
    auto info = storages.find(*key);
    if (info == storages.end() || info->second.element_size == 0)
      return problem(at, "storage '" + std::string(*key) + "' has no persistent id of a known storage type");
    if (!range_fits(at, 8, bytes.size())) return problem(at, "storage section ends early");
    const std::uint64_t numel = load_le(bytes.data() + at, 8);
    if (static_cast<std::int64_t>(numel) != info->second.numel)
      return problem(at, "storage '" + std::string(*key) + "' holds " + std::to_string(numel) +
                             " elements but its persistent id says " + std::to_string(info->second.numel));
    const auto length = checked_mul(numel, info->second.element_size);
    if (!length || !range_fits(at + 8, *length, bytes.size()))
      return problem(at, "storage '" + std::string(*key) + "' runs past the end of the file");
    check.ranges.push_back(LegacyStorageRange{std::string(*key), at + 8, *length});
    at += 8 + *length;
    ++check.storages;
  }
  if (at != bytes.size())
    return problem(at, std::to_string(bytes.size() - at) + " byte(s) after the last storage that torch never reads");
  check.valid = true;
  return check;
}

}  // namespace picklewall::detail
