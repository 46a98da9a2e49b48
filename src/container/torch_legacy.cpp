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
  if (bytes.size() >= sizeof legacy_torch_magic &&
      std::equal(std::begin(legacy_torch_magic), std::end(legacy_torch_magic), bytes.begin()))
    return true;
  // torch.save(..., pickle_protocol=4 or 5): PROTO, a FRAME of 13 bytes, then the same LONG1 and STOP.
  constexpr std::uint8_t framed_prefix[] = {0x95, 0x0d, 0, 0, 0, 0, 0, 0, 0};
  constexpr std::size_t number = 2;  // LONG1 starts at legacy_torch_magic[2]
  if (bytes.size() < 2 + sizeof framed_prefix + sizeof legacy_torch_magic - number || bytes[0] != 0x80 ||
      (bytes[1] != 4 && bytes[1] != 5))
    return false;
  return std::equal(std::begin(framed_prefix), std::end(framed_prefix), bytes.begin() + 2) &&
         std::equal(std::begin(legacy_torch_magic) + number, std::end(legacy_torch_magic),
                    bytes.begin() + 2 + sizeof framed_prefix);
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

TorchTarRecordRead read_torch_tar_record(std::span<const std::uint8_t> bytes, TorchTarRecord record,
                                         const Limits& limits, const Budget& budget, MachineOptions options) {
  TorchTarRecordRead read;
  std::uint64_t at = 0;
  auto stop = [&](std::uint64_t offset, std::string text) -> TorchTarRecordRead {
    read.problem = std::move(text);
    read.problem_offset = offset;
    return std::move(read);
  };
  // One pickle.load at `at`: false when it does not reach STOP. torch reads on where its unbuffered file
  // reading ended, which is the memory reading's end unless the readings disagree (reported either way).
  auto load_one = [&]() -> bool {
    if (read.stream.pickles.size() >= limits.max_pickles_per_stream) {
      read.stream.pickle_limit_reached = true;
      return false;
    }
    PickleStream one = read_pickle_stream(bytes, at, limits, budget, 1, options);
    if (one.pickles.empty()) return false;
    PickleProgram& program = one.pickles.front();
    options.memory_in_use += program.memory_bytes;
    const bool stopped = program.stopped;
    std::uint64_t end = program.end;
    for (const PickleProgram& other : program.other_readings)
      if (other.reading == Reading::file && other.stopped) end = other.end;
    read.stream.pickles.push_back(std::move(program));
    if (!stopped) return false;
    at = end;
    return true;
  };
  auto count_of = [&](const char* what, std::uint64_t& count) -> bool {
    const auto& root = read.stream.pickles.back().root;
    if (!root || root->kind != ValueKind::integer || root->integer < 0 ||
        static_cast<std::uint64_t>(root->integer) > bytes.size()) {
      read.problem = std::string("the ") + what + " count is not a small non-negative integer";
      read.problem_offset = read.stream.pickles.back().start;
      return false;
    }
    count = static_cast<std::uint64_t>(root->integer);
    return true;
  };

  const std::uint64_t first = at;
  if (!load_one()) return stop(first, "the first pickle (the count) does not load");
  std::uint64_t count = 0;
  if (!count_of(record == TorchTarRecord::storages ? "storage" : "tensor", count)) return read;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t entry = at;
    if (!load_one()) return stop(entry, "entry " + std::to_string(i + 1) + "'s pickle does not load");
    const PickleProgram& args = read.stream.pickles.back();
    if (record == TorchTarRecord::storages) {
      // (key, location, storage_type): storage_type._dtype gives the element size of the raw bytes.
      const GlobalRef* type = nullptr;
      if (args.root && args.root->is_node() && args.graph.node(args.root->node).kind == NodeKind::tuple) {
        const auto& fields = args.graph.children(args.graph.node(args.root->node).index);
        if (fields.size() == 3) type = args.graph.as_global(fields[2]);
      }
      const std::uint64_t size = type != nullptr ? element_size(type->name) : 0;
      if (size == 0) return stop(at, "storage " + std::to_string(i + 1) + " does not name a torch storage type");
      if (!range_fits(at, 8, bytes.size())) return stop(at, "storage " + std::to_string(i + 1) + " ends early");
      const auto length = checked_mul(load_le(bytes.data() + at, 8), size);
      if (!length || !range_fits(at + 8, *length, bytes.size()))
        return stop(at, "storage " + std::to_string(i + 1) + " runs past the end of the record");
      at += 8 + *length;
    } else {
      if (!range_fits(at, 8, bytes.size())) return stop(at, "tensor " + std::to_string(i + 1) + " ends early");
      const std::uint32_t ndim = static_cast<std::uint32_t>(load_le(bytes.data() + at, 4));
      const std::uint64_t length = 8 + 16ull * ndim + 8;
      if (ndim > 64 || !range_fits(at, length, bytes.size()))
        return stop(at, "tensor " + std::to_string(i + 1) + "'s shape is not one torch reads");
      at += length;
    }
  }
  if (record == TorchTarRecord::storages) {
    const std::uint64_t views = at;
    if (!load_one()) return stop(views, "the storage views pickle does not load");
  }
  if (at != bytes.size())
    return stop(at, std::to_string(bytes.size() - at) + " byte(s) after what torch reads");
  return read;
}

}  // namespace picklewall::detail
