#include "picklewall/scan.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>

#include "analysis/analyzer.hpp"
#include "container/archive_reader.hpp"
#include "container/gguf_header.hpp"
#include "container/keras_model.hpp"
#include "container/numpy_npy.hpp"
#include "container/safetensors_header.hpp"
#include "container/torch_legacy.hpp"
#include "container/torch_zip.hpp"
#include "container/zip_archive.hpp"
#include "io/mapped_file.hpp"
#include "io/page_release.hpp"
#include "io/sha256.hpp"
#include "pickle/pickle_stream.hpp"
#include "scan/file_walker.hpp"
#include "sniff/sniff.hpp"

namespace picklewall {
namespace {

using detail::ContentKind;

struct WorkItem {
  std::span<const std::uint8_t> bytes;
  std::string member;   // "" for the file itself
  std::uint64_t depth;  // archives entered to reach it
  bool tensor_record;   // a torch storage record: raw tensor bytes unless it is unmistakably a pickle
  bool unpickled_by_loader = false;  // the loader unpickles this member (torch's data.pkl, constants.pkl)
  std::optional<detail::TorchTarRecord> torch_tar_record;  // `storages` or `tensors` of a torch tar checkpoint
};

// joblib up to 0.9 wrote each array to a file beside the pickle, named by an NDArrayWrapper's `filename`;
// joblib.load reads it with numpy.load(allow_pickle=True) at os.path.join(the pickle's folder, filename).
bool is_old_joblib_wrapper(const detail::GlobalRef& ref) {
  return (ref.name == "NDArrayWrapper" || ref.name == "ZNDArrayWrapper") &&
         (ref.module == "joblib.numpy_pickle" || ref.module == "joblib.numpy_pickle_compat" ||
          ref.module == "sklearn.externals.joblib.numpy_pickle");
}

// The `filename` of every old joblib wrapper BUILD (built by NEWOBJ or by copyreg._reconstructor(cls, ...)).
std::vector<std::pair<std::string, std::uint64_t>> old_joblib_array_files(const detail::ObjectGraph& graph) {
  using namespace detail;
  std::vector<std::pair<std::string, std::uint64_t>> files;
  for (const Effect& effect : graph.effects()) {
    if (effect.kind != EffectKind::build || !effect.target.is_node()) continue;
    const Node& target = graph.node(effect.target.node);
    if (target.kind != NodeKind::call) continue;
    const CallRecord& call = graph.call(target.index);
    const GlobalRef* cls = graph.as_global(call.callee);
    if (cls != nullptr && cls->module == "copyreg" && cls->name == "_reconstructor" && call.args.is_node() &&
        graph.node(call.args.node).kind == NodeKind::tuple) {
      const auto& args = graph.children(graph.node(call.args.node).index);
      cls = args.empty() ? nullptr : graph.as_global(args[0]);
    }
    if (cls == nullptr || !is_old_joblib_wrapper(*cls)) continue;
    if (!effect.argument.is_node() || graph.node(effect.argument.node).kind != NodeKind::dict) {
      files.emplace_back(std::string("<state that is not a dict>"), effect.offset);
      continue;
    }
    const auto& pairs = graph.children(graph.node(effect.argument.node).index);
    std::optional<std::string> filename;
    for (std::size_t i = 0; i + 1 < pairs.size(); i += 2)
      if (graph.text_of(pairs[i]) == std::optional<std::string_view>("filename")) {
        auto text = graph.text_of(pairs[i + 1]);
        filename = text ? std::string(*text) : std::string("<not a string>");
      }
    files.emplace_back(filename.value_or("<no filename>"), effect.offset);
  }
  return files;
}

// A name joblib joins to the pickle's folder that stays in it: no separator, not absolute, not "." or "..".
bool is_plain_sibling_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find_first_of("/\\:") == std::string_view::npos &&
         name.front() != '<';
}

// joblib pickles name joblib.numpy_pickle.NumpyArrayWrapper before every array's raw bytes.
bool names_joblib_wrapper(const detail::PickleStream& stream) {
  for (const auto& program : stream.pickles)
    for (std::size_t i = 0; i < program.graph.global_count(); ++i) {
      const auto& ref = program.graph.global(i);
      if (ref.module == "joblib.numpy_pickle" && ref.name == "NumpyArrayWrapper") return true;
      if (is_old_joblib_wrapper(ref)) return true;
    }
  return false;
}

// Scans one file's bytes: a queue of members instead of recursion, so nested archives cost no stack.
class FileScan {
 public:
  FileScan(const ScanOptions& options, const Policy& policy, const Scanner::PickleVisitor* visitor,
           std::span<const std::uint8_t> mapped)
      : options_(options), policy_(policy), visitor_(visitor), mapped_(mapped),
        budget_(options.limits, options.cancel) {}

  std::string run(std::span<const std::uint8_t> bytes, std::vector<Finding>& findings,
                  std::vector<std::string>& globals) {
    findings_ = &findings;
    globals_ = &globals;
    queue_.push_back(WorkItem{bytes, {}, 0, false});
    std::string root_format;
    while (!queue_.empty()) {
      if (budget_.expired()) {
        add("limit.max_seconds_per_file", Severity::suspicious, queue_.front().member, 0,
            std::to_string(queue_.size()) + " member(s) or stream(s) were not scanned: the file's time budget ran out");
        break;
      }
      WorkItem item = std::move(queue_.front());
      queue_.pop_front();
      std::string format = process(item);
      if (root_format.empty()) root_format = format;
    }
    return root_format;
  }

  // Whether anything in the file was a model format (a pickle, tensors, a model graph): a file that is only
  // text, or an archive of text, is "not a model file" rather than safe.
  bool holds_model_content() const { return model_content_; }

 private:
  void add(const char* rule, Severity severity, const std::string& member, std::uint64_t offset, std::string message) {
    findings_->push_back(Finding{rule, severity, std::move(message), member, offset, {}});
  }

  // `bytes` lie in the file's own read-only mapping (scan_file), so their pages can be released.
  bool file_mapped(std::span<const std::uint8_t> bytes) const {
    return !mapped_.empty() && bytes.data() >= mapped_.data() && bytes.data() + bytes.size() <= mapped_.data() + mapped_.size();
  }

  std::string process(const WorkItem& item) {
    const ContentKind kind = detail::sniff(item.bytes);
    std::string format = process_as(item, kind);
    if (!item.tensor_record) read_as_plain_pickle(item, kind, format);
    if (!is_container_or_text(format)) model_content_ = true;
    return format;
  }

  static bool is_container_or_text(std::string_view format) {
    for (std::string_view name : {"unknown", "empty", "zip", "tar", "7z", "gzip", "bzip2", "xz", "lzma", "zstd",
                                  "lz4", "zlib"})
      if (format == name) return true;
    return false;
  }

  // pickle.loads ignores magic numbers, and so do joblib.load, numpy.load(allow_pickle=True) and torch.load on
  // a file that is not a zip: any bytes they would unpickle are a pickle, whatever else they are. A file of
  // another format whose bytes from the start also run as a pickle that imports something is a polyglot, and
  // that reading is judged too (the worst reading wins). Those loaders have no persistent_load, so a
  // persistent id ends the reading there, as it ends theirs.
  void read_as_plain_pickle(const WorkItem& item, ContentKind kind, const std::string& format) {
    if (kind == ContentKind::pickle_with_proto || kind == ContentKind::other || kind == ContentKind::empty) return;
    detail::MachineOptions options = machine_options(item);
    options.persistent_load_fails = true;
    auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 0, options);
    const bool live = std::any_of(stream.pickles.begin(), stream.pickles.end(),
                                  [](const detail::PickleProgram& program) { return detail::imports_a_module(program); });
    if (!live) return;
    add("polyglot.pickle", Severity::suspicious, item.member, 0,
        "this " + format + " file is also a pickle: pickle.loads, joblib.load, numpy.load(allow_pickle=True) and "
        "torch.load of a non-zip file ignore the format's magic bytes and run it; that reading is judged below");
    analyze(stream, item.bytes, (item.member.empty() ? "" : item.member + " ") + "[read as a pickle]", {});
  }

  // A torch tar checkpoint's `storages` or `tensors`: every pickle torch loads from it, read as torch reads it.
  std::string scan_torch_tar_record(const WorkItem& item) {
    auto read = detail::read_torch_tar_record(item.bytes, *item.torch_tar_record, options_.limits, budget_,
                                              machine_options(item, detail::GraphDetail::full));
    if (!read.stream.pickles.empty()) {
      detail::analyze_stream(read.stream, {policy_, options_.limits, budget_, options_.strict, &judgements_},
                             item.member, {read.stream.pickles.size(), true}, *findings_);
      detail::list_globals(read.stream, *globals_);
    }
    if (!read.problem.empty()) {
      add("torch.tar-record-layout", Severity::suspicious, item.member, read.problem_offset,
          "torch.load reads this record as pickles and raw bytes in turn, and here it stops being that: " +
              read.problem + ". The rest was searched for pickles.");
      if (read.problem_offset < item.bytes.size()) {
        WorkItem rest = item;
        rest.bytes = item.bytes.subspan(read.problem_offset);
        rest.torch_tar_record.reset();
        scan_embedded_pickles(rest);
      }
    }
    return "pytorch-tar-record";
  }

  std::string process_as(const WorkItem& item, ContentKind kind) {
    if (item.torch_tar_record) return scan_torch_tar_record(item);
    if (item.member.empty() && kind != ContentKind::zip) check_zip_polyglot(item.bytes);
    if (!item.tensor_record && could_be_safetensors_length(kind) && detail::looks_like_safetensors(item.bytes)) {
      if (auto check = detail::check_safetensors(item.bytes); check.valid) return scan_safetensors_lookalike(item, kind, check);
    }
    if (item.tensor_record) {
      // Sniffing a record of a cached checkpoint maps a whole large folio: release them now and then, so memory
      // does not grow with the number of records.
      if (file_mapped(item.bytes) && ++records_sniffed_ % 4 == 0) detail::release_mapped_pages(mapped_);
      // Storage records are raw tensor bytes that torch never unpickles. Only a complete pickle is worth a word.
      if (kind != ContentKind::pickle_with_proto) return "tensor-data";
      auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 1);
      if (stream.pickles.empty() || !stream.pickles.front().stopped) return "tensor-data";
      add("zip.pickle-in-tensor-record", Severity::suspicious, item.member, 0,
          "a tensor storage record holds a complete pickle; torch does not load it, but nothing legitimate puts one here");
      analyze(stream, item.bytes, item.member, {});
      return "pickle";
    }
    switch (kind) {
      case ContentKind::empty:
        if (item.member.empty()) add("format.empty", Severity::info, item.member, 0, "empty file");
        return "empty";
      case ContentKind::pickle_with_proto:
        if (detail::is_legacy_torch(item.bytes)) return scan_legacy_torch(item);
        return scan_pickle(item, {});
      case ContentKind::numpy_npy:
        return scan_npy(item);
      case ContentKind::zip:
        return scan_zip(item);
      case ContentKind::other: {
        // Protocol 0/1 pickles have no magic: try, and call it a pickle only on evidence.
        auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 0, machine_options(item));
        if (!stream.pickles.empty() && detail::looks_like_pickle(stream.pickles.front(), item.bytes)) {
          analyze(stream, item.bytes, item.member, {});
          return "pickle";
        }
        // Members in no known format (torch's version and byteorder records, text files) are unremarkable;
        // a top-level file is always reported so nothing is silently skipped.
        if (item.member.empty())
          add("format.unknown", Severity::info, item.member, 0,
              "not a format picklewall recognises and not a pickle; nothing here would be unpickled");
        if (item.unpickled_by_loader)
          add("torch.pickle-record-unreadable", Severity::suspicious, item.member, 0,
              "the record torch unpickles is not a pickle: torch.load fails on it, and nothing legitimate writes it");
        return "unknown";
      }
      case ContentKind::gzip: case ContentKind::bzip2: case ContentKind::xz: case ContentKind::lzma:
      case ContentKind::zstd: case ContentKind::lz4: case ContentKind::zlib:
        return scan_compressed(item, kind);
      case ContentKind::tar: case ContentKind::seven_zip:
        return scan_archive(item, kind);
      case ContentKind::safetensors:
        report_safetensors(item, detail::check_safetensors(item.bytes));
        return "safetensors";
      case ContentKind::onnx:
        add("format.data-only", Severity::info, item.member, 0,
            "ONNX model: an operator graph and tensors, no pickles and no Python code");
        return "onnx";
      case ContentKind::gguf: {
        const auto check = detail::check_gguf(item.bytes);
        if (check.valid)
          add("format.data-only", Severity::info, item.member, 0,
              "GGUF v" + std::to_string(check.version) + " with " + std::to_string(check.tensors) +
                  " tensor(s); holds tensors and metadata only, loading it runs no code");
        else
          add("gguf.invalid-header", Severity::suspicious, item.member, 0, "GGUF header is not sane: " + check.problem);
        return "gguf";
      }
      case ContentKind::hdf5: {
        const std::string_view text(reinterpret_cast<const char*>(item.bytes.data()), item.bytes.size());
        if (detail::keras_config_has_lambda(text)) add_keras_lambda(item.member);
        const std::size_t embedded = scan_embedded_pickles(item);
        if (embedded == 0)
          add("format.data-only", Severity::info, item.member, 0,
              "HDF5 file with no Lambda layer in a Keras model config and no embedded pickle that imports anything");
        return "hdf5";
      }
      default:
        add("format.not-analysed", Severity::suspicious, item.member, 0,
            std::string(detail::to_string(kind)) +
                " content is not unpacked by this version, so pickles inside it could not be checked");
        return std::string(detail::to_string(kind));
    }
  }

  void report_safetensors(const WorkItem& item, const detail::SafetensorsCheck& check) {
    if (check.valid)
      add("format.data-only", Severity::info, item.member, 0,
          "safetensors with " + std::to_string(check.tensors) + " tensor(s), valid by the reference reader's rules; loading it runs no code");
    else
      add("safetensors.invalid", Severity::suspicious, item.member, 0,
          "safetensors that the reference reader refuses (" + check.error_name + "): " + check.message);
  }

  // A safetensors file starts with its header length, 8 little-endian bytes: lengths such as 128 (80 00) or 376
  // (78 01) read as a pickle's PROTO or a zlib header.
  static bool could_be_safetensors_length(ContentKind kind) {
    return kind == ContentKind::pickle_with_proto || kind == ContentKind::zlib || kind == ContentKind::gzip ||
           kind == ContentKind::lzma;
  }

  // A file the reference safetensors reader accepts whose first bytes also look like a pickle or a compressed
  // stream. Usually that is the length's coincidence, and the other reading dies within the length field. When
  // it does not (a pickle that runs past the first 8 bytes, a stream that inflates), the file is a polyglot:
  // safetensors to one loader, code to another, and that other reading is scanned too.
  std::string scan_safetensors_lookalike(const WorkItem& item, ContentKind kind, const detail::SafetensorsCheck& check) {
    report_safetensors(item, check);
    constexpr std::uint64_t length_field = 8;
    if (kind == ContentKind::pickle_with_proto) {
      auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 1);
      const auto& first = stream.pickles.front();
      const std::uint64_t reached = first.stopped ? first.end : (first.failure ? first.failure->offset : 0);
      if (reached <= length_field) return "safetensors";
      add("polyglot.safetensors-pickle", Severity::suspicious, item.member, 0,
          "valid safetensors that is also read as a pickle past its length field: renamed to a pickle file, it runs "
          "what is scanned below; nothing legitimate writes this");
      analyze(stream, item.bytes, item.member, {});
      return "safetensors";
    }
    Limits limits;
    if (!decompression_budget(item.member, limits)) return "safetensors";
    auto contents = kind == ContentKind::zlib ? detail::decompress_zlib(item.bytes, limits, budget_)
                                              : detail::decompress_stream(item.bytes, limits, budget_);
    if (!contents || !contents.value().error.empty() || contents.value().members.empty() ||
        contents.value().members.front().data.empty())
      return "safetensors";
    add("polyglot.safetensors-compressed", Severity::suspicious, item.member, 0,
        "valid safetensors that also decompresses as " + std::string(detail::to_string(kind)) +
            " (as joblib.load would): its contents are scanned below; nothing legitimate writes this");
    queue_contents(item, std::move(contents.value()), std::string(detail::to_string(kind)));
    return "safetensors";
  }

  void analyze(const detail::PickleStream& stream, std::span<const std::uint8_t> bytes, const std::string& member,
               const detail::StreamExpectations& expected, bool joblib_arrays = false) {
    if (visitor_ != nullptr && *visitor_ && !stream.pickles.empty())
      (*visitor_)(PickleStreamView{member, bytes, stream.pickles.front().start, stream.pickles.size(), joblib_arrays});
    detail::analyze_stream(stream, {policy_, options_.limits, budget_, options_.strict, &judgements_}, member,
                           expected, *findings_);
    detail::list_globals(stream, *globals_);
  }

  // Scan-mode machine options for bytes of this item: consumed pages released when they are the file's mapping.
  detail::MachineOptions machine_options(const WorkItem& item, detail::GraphDetail detail = detail::GraphDetail::effects,
                                         bool joblib_arrays = false) const {
    detail::MachineOptions options{detail, joblib_arrays};
    options.release_consumed_input = file_mapped(item.bytes);
    return options;
  }

  std::string scan_pickle(const WorkItem& item, const detail::StreamExpectations& expected) {
    auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 0, machine_options(item));
    // A joblib file reads as a pickle up to its first raw array; seeing the wrapper class, read it again the
    // way joblib.load does. (Searching the bytes for the name instead would touch every page of a big file.)
    if (names_joblib_wrapper(stream)) return scan_joblib(item);
    analyze(stream, item.bytes, item.member, expected);
    return "pickle";
  }

  // Five pickles (magic, protocol, system info, the object, storage keys), then the raw storage section.
  std::string scan_legacy_torch(const WorkItem& item) {
    const detail::MachineOptions options{detail::GraphDetail::full, false};
    auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 5, options);
    analyze(stream, item.bytes, item.member, detail::StreamExpectations{5, true});
    const auto storages = detail::check_legacy_storages(item.bytes, stream);
    if (!storages.valid)
      add("torch.legacy-storage-section", Severity::suspicious, item.member, storages.problem_offset,
          "the storage section after the five pickles is not what torch writes: " + storages.problem);
    return "pytorch-legacy";
  }

  std::string scan_joblib(const WorkItem& item) {
    // Full graph: the wrapper's BUILD state says how many raw array bytes follow it in the stream.
    const detail::MachineOptions options = machine_options(item, detail::GraphDetail::full, true);
    const auto stream = detail::read_pickle_stream(item.bytes, 0, options_.limits, budget_, 0, options);
    analyze(stream, item.bytes, item.member, {}, true);
    for (const auto& program : stream.pickles)
      for (const auto& [filename, offset] : old_joblib_array_files(program.graph)) {
        if (is_plain_sibling_name(filename)) {
          add("joblib.external-array", Severity::info, item.member, offset,
              "an array is kept in '" + filename + "' beside this file (joblib 0.9 and older); joblib.load reads it "
              "with numpy.load(allow_pickle=True), so scan that file too");
        } else {
          add("joblib.external-array-path", Severity::suspicious, item.member, offset,
              "joblib.load reads an array from '" + filename + "' with numpy.load(allow_pickle=True), and that name "
              "does not stay in this file's folder: the load would read, and unpickle, whatever file is there");
        }
      }
    return "joblib";
  }

  std::string scan_npy(const WorkItem& item) {
    auto read = detail::read_npy_header(item.bytes, options_.limits);
    if (!read) {
      add("numpy.malformed-header", Severity::suspicious, item.member, 0,
          "starts like a .npy file but its header cannot be read: " + read.error().message);
      return "numpy";
    }
    const detail::NpyHeader& header = read.value();
    const std::uint64_t offset = header.data_offset;
    if (!header.refusal.empty()) {
      if (header.refusal_is_limit)
        add("limit.max_npy_header_bytes", Severity::suspicious, item.member, 0, header.refusal);
      else
        add("numpy.malformed-header", Severity::suspicious, item.member, 0,
            "numpy.load refuses this header: " + header.refusal);
      // Another numpy or Python release may read the header otherwise: a pickle after it is judged all the same.
      if (offset + 1 < item.bytes.size() && item.bytes[offset] == 0x80 && item.bytes[offset + 1] >= 2 &&
          item.bytes[offset + 1] <= 5)
        analyze(detail::read_pickle_stream(item.bytes, offset, options_.limits, budget_), item.bytes, item.member, {});
      return "numpy";
    }
    if (header.beyond_numpy_cap)
      add("numpy.long-header", Severity::suspicious, item.member, 0,
          "the header is longer than the 10,000 characters numpy.load accepts, except under allow_pickle=True "
          "(the mode that also unpickles object arrays); numpy's writer never makes one");
    if (header.inexact)
      add("numpy.inexact-header", Severity::suspicious, item.member, 0,
          "the header uses a form whose dtype is not worked out exactly as numpy would (" + header.inexact_why +
              "); its data is scanned as a pickle whenever it could be one");
    if (!header.has_object_dtype) return "numpy";
    // numpy.load(allow_pickle=True) unpickles everything after the header.
    auto stream = detail::read_pickle_stream(item.bytes, offset, options_.limits, budget_);
    add("numpy.object-array", Severity::info, item.member, offset,
        "object array: its data is a pickle that numpy.load(allow_pickle=True) runs; it was scanned");
    analyze(stream, item.bytes, item.member, {});
    return "numpy";
  }

  // A file (not a zip at its start) that ends in a zip end record is two formats at once: zip tools and
  // torch's own zip check (which looks at the first bytes) see different files.
  void check_zip_polyglot(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 22) return;
    const std::uint64_t window = std::min<std::uint64_t>(bytes.size(), 65535 + 22);
    const std::string_view tail(reinterpret_cast<const char*>(bytes.data() + bytes.size() - window), window);
    const auto at = tail.rfind(std::string_view("PK\x05\x06", 4));
    if (at == std::string_view::npos) return;
    add("polyglot.zip", Severity::suspicious, {}, bytes.size() - window + at,
        "this file also ends like a zip archive: zip tools open the archive part while pickle loaders (and "
        "torch.load, which checks the first bytes) read the start, so scanners and loaders disagree on what it is");
  }

  // Opaque binary formats (HDF5: PyTables and pandas pickle Python objects into attributes) can carry pickles
  // anywhere. Every PROTO 2-5 is tried; only a pickle that imports something is reported, which random data
  // practically never forms (it needs GLOBAL or STACK_GLOBAL with well-formed names).
  std::size_t scan_embedded_pickles(const WorkItem& item) {
    std::size_t found = 0;
    const auto bytes = item.bytes;
    Limits limits = options_.limits;
    limits.max_opcodes = 1'000'000;
    for (std::size_t at = 0; at + 2 < bytes.size(); ++at) {
      const void* hit = std::memchr(bytes.data() + at, 0x80, bytes.size() - at - 2);
      if (hit == nullptr) break;
      at = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - bytes.data());
      if (bytes[at + 1] < 2 || bytes[at + 1] > 5) continue;
      auto program = detail::run_pickle(bytes, at, limits, budget_);
      if (program.graph.global_count() == 0) continue;
      ++found;
      const std::string member = (item.member.empty() ? "" : item.member + " ") + "<pickle at " + std::to_string(at) + ">";
      add("embedded.pickle", Severity::info, member, at,
          "a pickle is embedded in this file and was scanned; whatever unpickles it (pandas.read_hdf, PyTables) runs it");
      detail::PickleStream stream;
      stream.pickles.push_back(std::move(program));
      analyze(stream, item.bytes, member, {});
      if (found >= 64) break;
    }
    return found;
  }

  // torch writes "little" or "big" (absent means little); anything else makes torch.load fail.
  void check_byteorder_record(const WorkItem& item, const detail::TorchZipLayout& layout) {
    if (layout.byteorder == nullptr) return;
    const std::string prefix = item.member.empty() ? "" : item.member + "/";
    std::vector<std::uint8_t> storage;
    auto data = detail::read_zip_entry(item.bytes, *layout.byteorder, options_.limits, budget_, storage);
    if (!data) return;
    const std::string_view order(reinterpret_cast<const char*>(data.value().data()), data.value().size());
    if (order == "big")
      add("torch.big-endian", Severity::info, prefix + layout.byteorder->name, 0, "storages are big-endian");
    else if (order != "little")
      add("torch.bad-byteorder", Severity::suspicious, prefix + layout.byteorder->name, 0,
          "byteorder record is neither 'little' nor 'big'; torch.load refuses it, nothing legitimate writes it");
  }

  void add_keras_lambda(const std::string& member) {
    add("keras.lambda-layer", Severity::suspicious, member, 0,
        "Keras model with a Lambda layer: its function is marshalled Python bytecode that Keras runs on load "
        "(Keras 2 always, Keras 3 with safe_mode=False). It cannot be judged as data; review or rebuild the layer");
  }

  // Limits for the next decompression: the per-member budget, capped by what is left of the per-file budget.
  // Nothing left: reports it once and says no.
  bool decompression_budget(const std::string& member, Limits& limits) {
    limits = options_.limits;
    const std::uint64_t left = options_.limits.max_total_decompressed_bytes -
                               std::min(options_.limits.max_total_decompressed_bytes, decompressed_total_);
    if (left == 0) {
      if (!total_budget_reported_)
        add("limit.max_total_decompressed_bytes", Severity::suspicious, member, 0,
            "this file inflates beyond the per-file decompression budget; the remaining members were not scanned");
      total_budget_reported_ = true;
      return false;
    }
    limits.max_decompressed_bytes = std::min(limits.max_decompressed_bytes, left);
    return true;
  }

  bool out_of_time() const { return budget_.expired(); }

  bool nesting_allowed(const WorkItem& item) {
    if (item.depth < options_.limits.max_archive_depth) return true;
    add("limit.max_archive_depth", Severity::suspicious, item.member, 0,
        "archive or compressed stream nested deeper than max_archive_depth; its contents were not scanned");
    return false;
  }

  // Queues what an archive or a compressed stream held, reporting what could not be read.
  void queue_contents(const WorkItem& item, detail::ArchiveContents&& contents, const std::string& kind) {
    const std::string prefix = item.member.empty() ? "" : item.member + "/";
    for (auto& member : contents.members) {
      const std::string name = member.name.empty() || kind != "archive" ? prefix + "<" + kind + ">" : prefix + member.name;
      if (member.encrypted) {
        add("archive.encrypted-member", Severity::suspicious, name, 0,
            "member is encrypted, so it could not be scanned; an encrypted model file hides whatever it holds");
        continue;
      }
      if (member.truncated_by_limit)
        add("limit.max_decompressed_bytes", Severity::suspicious, name, 0,
            "inflates beyond the decompression budget (bytes or ratio); only the first part was scanned");
      if (member.truncated_by_time)
        add("limit.max_seconds_per_file", Severity::suspicious, name, 0,
            "decompressing it outlasted the file's time budget; only the first part was scanned");
      decompressed_total_ += member.data.size();
      owned_.push_back(std::move(member.data));
      queue_.push_back(WorkItem{owned_.back(), name, item.depth + 1, false});
    }
    if (!contents.error.empty())
      add("archive.corrupt", Severity::suspicious, item.member, 0,
          "the compressed data breaks part-way (" + contents.error + "); what came before it was scanned");
    if (contents.member_limit_reached)
      add("limit.max_archive_members", Severity::suspicious, item.member, 0,
          "more members than max_archive_members; the rest were not scanned");
  }

  std::string scan_compressed(const WorkItem& item, ContentKind kind) {
    const std::string format(detail::to_string(kind));
    Limits limits;
    if (!nesting_allowed(item) || !decompression_budget(item.member, limits)) return format;
    auto contents = kind == ContentKind::zlib ? detail::decompress_zlib(item.bytes, limits, budget_)
                                              : detail::decompress_stream(item.bytes, limits, budget_);
    if (!contents) {
      add("archive.corrupt", Severity::suspicious, item.member, 0,
          "starts like " + format + " data but cannot be decompressed: " + contents.error().message);
      return format;
    }
    queue_contents(item, std::move(contents.value()), format);
    return format;
  }

  std::string scan_archive(const WorkItem& item, ContentKind kind) {
    const std::string format(detail::to_string(kind));
    Limits limits;
    if (!nesting_allowed(item) || !decompression_budget(item.member, limits)) return format;
    auto contents = detail::read_archive(item.bytes, limits, budget_);
    if (!contents) {
      add("archive.corrupt", Severity::suspicious, item.member, 0,
          "starts like a " + format + " archive but cannot be read: " + contents.error().message);
      return format;
    }
    // torch's oldest format: a tar of `storages`, `tensors` and `pickle` (weights_only refuses it).
    const auto& members = contents.value().members;
    const auto has = [&](std::string_view name) {
      return std::any_of(members.begin(), members.end(), [&](const auto& m) { return m.name == name; });
    };
    const bool torch_tar = kind == ContentKind::tar && has("storages") && has("tensors") && has("pickle");
    const std::size_t queued_before = queue_.size();
    queue_contents(item, std::move(contents.value()), "archive");
    if (torch_tar) {
      const std::string prefix = item.member.empty() ? "" : item.member + "/";
      for (std::size_t i = queued_before; i < queue_.size(); ++i) {
        if (queue_[i].member == prefix + "storages") queue_[i].torch_tar_record = detail::TorchTarRecord::storages;
        if (queue_[i].member == prefix + "tensors") queue_[i].torch_tar_record = detail::TorchTarRecord::tensors;
      }
    }
    return torch_tar ? "pytorch-tar" : format;
  }

  std::string scan_zip(const WorkItem& item) {
    const std::string prefix = item.member.empty() ? "" : item.member + "/";
    if (!nesting_allowed(item)) return "zip";
    auto archive = detail::read_zip(item.bytes, options_.limits, budget_, prefix, *findings_, file_mapped(item.bytes));
    if (!archive) {
      add("zip.malformed", Severity::suspicious, item.member, 0,
          "starts like a zip archive but cannot be read as one: " + archive.error().message);
      return "zip";
    }
    const auto& entries = archive.value().entries;
    std::string format = "zip";
    // torch's rule: every record sits under the first entry's top folder; data.pkl is the pickle it loads.
    const detail::TorchZipLayout layout = detail::torch_zip_layout(entries);
    const std::string& top_folder = layout.top_folder;
    const bool torch = layout.is_torch();
    // Keras v3: config.json (the model, Lambda code included), metadata.json and model.weights.h5 at the top.
    const auto keras_config = std::find_if(entries.begin(), entries.end(),
                                           [](const detail::ZipEntry& e) { return e.name == "config.json"; });
    const bool keras = keras_config != entries.end() &&
                       std::any_of(entries.begin(), entries.end(), [](const detail::ZipEntry& e) { return e.name == "metadata.json"; });
    if (keras) {
      format = "keras";
      std::vector<std::uint8_t> storage;
      auto config = detail::read_zip_entry(item.bytes, *keras_config, options_.limits, budget_, storage);
      if (config && detail::keras_config_has_lambda(std::string_view(
                        reinterpret_cast<const char*>(config.value().data()), config.value().size())))
        add_keras_lambda(prefix + "config.json");
    }
    if (torch) {
      format = layout.has_code ? "torchscript" : "pytorch-zip";
      if (!layout.single_top_folder)
        add("torch.several-top-folders", Severity::suspicious, item.member, 0,
            "records sit under more than one top folder; torch reads only those under '" + top_folder +
                "', so other tools and torch see different files");
      if (!layout.has_version)
        add("torch.no-version-record", Severity::info, item.member, 0,
            "no version record: torch.load refuses this archive, though its pickles are scanned anyway");
      check_byteorder_record(item, layout);
      if (layout.has_code)
        add("torch.torchscript-code", Severity::suspicious, item.member, 0,
            "TorchScript archive: code/ holds Python source that torch.jit.load compiles and runs; it needs review "
            "as code, not as data");
    }
    for (const auto& entry : entries) {
      if (!entry.readable || entry.name.ends_with("/")) continue;
      Limits limits;
      if (entry.method != 0 && !decompression_budget(prefix + entry.name, limits)) continue;
      owned_.emplace_back();
      auto data = detail::read_zip_entry(item.bytes, entry, entry.method != 0 ? limits : options_.limits, budget_,
                                           owned_.back());
      // Inflating costs the budget whether or not it succeeded; a failed member's buffer is freed at once.
      decompressed_total_ += entry.method != 0 ? owned_.back().size() : 0;
      if (!data) {
        owned_.pop_back();
        const bool limit = data.error().code == ErrorCode::limit_exceeded;
        add(!limit ? "zip.unreadable-member" : out_of_time() ? "limit.max_seconds_per_file" : "limit.max_decompressed_bytes",
            Severity::suspicious, prefix + entry.name, entry.local_header_offset,
            "member could not be read: " + data.error().message);
        continue;
      }
      const bool tensor_record = torch && layout.is_storage_record(entry.name);
      const bool unpickled = torch && (detail::iequals(entry.name, top_folder + "/data.pkl") ||
                                       detail::iequals(entry.name, top_folder + "/constants.pkl"));
      if (!tensor_record && !detail::zip_crc_matches(entry, data.value()))
        add("zip.crc-mismatch", Severity::suspicious, prefix + entry.name, entry.local_header_offset,
            "CRC-32 does not match the member's bytes; torch ignores CRCs while Python's zipfile refuses the member, "
            "a known way to blind other scanners");
      queue_.push_back(WorkItem{data.value(), prefix + entry.name, item.depth + 1, tensor_record, unpickled});
    }
    return format;
  }

  const ScanOptions& options_;
  const Policy& policy_;
  const Scanner::PickleVisitor* visitor_;
  std::span<const std::uint8_t> mapped_;  // the file's mapping, when scanning a file (empty for scan_bytes)
  std::uint64_t records_sniffed_ = 0;
  detail::Budget budget_;
  detail::JudgementMemo judgements_;  // one judgement per name and use for the whole file
  std::vector<Finding>* findings_ = nullptr;
  std::vector<std::string>* globals_ = nullptr;
  std::deque<WorkItem> queue_;
  std::deque<std::vector<std::uint8_t>> owned_;  // inflated members; a deque keeps spans into them valid
  std::uint64_t decompressed_total_ = 0;          // bytes inflated so far for this file
  bool total_budget_reported_ = false;
  bool model_content_ = false;
};

// A file that changed while it was mapped was not read as one version: its report cannot be trusted to be
// whole.
void note_if_changed(const detail::MappedFile& file, FileReport& report) {
  if (!file.changed()) return;
  report.findings.insert(report.findings.begin(),
                         Finding{"io.file-changed", Severity::suspicious,
                                 "the file changed while it was scanned (another process truncated or rewrote it): "
                                 "what was read is not one version of the file, so it was not analysed as a whole; "
                                 "scan it again once it is complete",
                                 {}, std::nullopt, {}});
  // Whatever malicious was seen is real; anything less proves nothing about a file that was not read whole.
  if (report.verdict != Verdict::malicious) report.verdict = Verdict::error;
}

void order_findings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    if (a.member != b.member) return a.member < b.member;
    return a.offset.value_or(0) < b.offset.value_or(0);
  });
}

}  // namespace

Result<Scanner> Scanner::create(ScanOptions options) {
  if (!options.policy) {
    auto policy = Policy::builtin();
    if (!policy) return policy.error();
    options.policy = policy.value();
  }
  return Scanner(std::move(options));
}

FileReport Scanner::scan_bytes(std::span<const std::uint8_t> bytes, const std::string& display_name) const {
  return scan_content(bytes, display_name, options_.hash_files ? detail::sha256_hex(bytes) : std::string());
}

FileReport Scanner::scan_content(std::span<const std::uint8_t> bytes, const std::string& display_name,
                                 std::string sha256, const PickleVisitor* visitor, bool file_mapped) const {
  FileReport report;
  report.path = display_name;
  report.size = bytes.size();
  report.sha256 = std::move(sha256);
  FileScan scan(options_, *options_.policy, visitor, file_mapped ? bytes : std::span<const std::uint8_t>());
  report.format = scan.run(bytes, report.findings, report.globals);
  std::sort(report.globals.begin(), report.globals.end());
  report.globals.erase(std::unique(report.globals.begin(), report.globals.end()), report.globals.end());
  order_findings(report.findings);
  report.verdict = verdict_of(report.findings);
  // "safe" means analysed as a model and found to be data; a text file is neither.
  if (report.verdict == Verdict::safe && !scan.holds_model_content()) report.verdict = Verdict::not_a_model;
  return report;
}

FileReport Scanner::scan_file(const std::string& path) const { return scan_file_visiting(path, {}); }

FileReport Scanner::scan_file_visiting(const std::string& path, const PickleVisitor& visit) const {
  return scan_mapped(path, options_.hash_files ? std::optional<std::string>() : std::string(), &visit);
}

FileReport Scanner::scan_file_hashed(const std::string& path, std::string sha256) const {
  return scan_mapped(path, std::move(sha256), nullptr);
}

FileReport Scanner::scan_mapped(const std::string& path, std::optional<std::string> sha256,
                                const PickleVisitor* visit) const {
  auto file = detail::MappedFile::open(path);
  if (!file) return unreadable_report(path, file.error().message);
  return scan_open_file(file.value(), path, std::move(sha256), visit);
}

FileReport Scanner::scan_descriptor(int fd, const std::string& display_name, std::optional<std::string> sha256,
                                    const PickleVisitor* visit) const {
  auto file = detail::MappedFile::from_descriptor(fd, display_name);
  if (!file) return unreadable_report(display_name, file.error().message);
  return scan_open_file(file.value(), display_name, std::move(sha256), visit);
}

FileReport Scanner::scan_open_file(const detail::MappedFile& file, const std::string& display_name,
                                   std::optional<std::string> sha256, const PickleVisitor* visit) const {
  if (!sha256) sha256 = options_.hash_files ? detail::sha256_fd_hex(file.descriptor()) : std::string();
  FileReport report = scan_content(file.bytes(), display_name, std::move(*sha256), visit, true);
  note_if_changed(file, report);
  return report;
}


FileReport unreadable_report(const std::string& path, const std::string& message, const std::string& rule) {
  FileReport report;
  report.path = path;
  report.format = "unreadable";
  report.verdict = Verdict::error;
  report.findings.push_back(Finding{rule, Severity::suspicious, message, {}, std::nullopt, {}});
  return report;
}

std::vector<FileReport> Scanner::scan_paths(const std::vector<std::string>& paths) const {
  std::vector<FileReport> reports;
  for (const auto& walked : detail::walk_paths(paths, options_.limits.max_files))
    reports.push_back(walked.error.empty() ? scan_file(walked.path)
                                           : unreadable_report(walked.path, walked.path + ": " + walked.error,
                                                               walked.limit ? "limit.max_files" : "io.error"));
  return reports;
}

}  // namespace picklewall
