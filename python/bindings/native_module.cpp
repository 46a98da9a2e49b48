// picklewall._native: the C++ engine for the Python package. Thin on purpose: every function here converts
// arguments, releases the GIL, calls the engine and converts the result; errors become the package's exception
// classes (picklewall.errors). The friendly API lives in python/picklewall/.
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "picklewall/batch_scan.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/inspect.hpp"
#include "picklewall/load.hpp"
#include "picklewall/report.hpp"
#include "picklewall/scan.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

const char* code_name(picklewall::ErrorCode code) {
  switch (code) {
    case picklewall::ErrorCode::io: return "io";
    case picklewall::ErrorCode::not_found: return "not_found";
    case picklewall::ErrorCode::invalid_argument: return "invalid_argument";
    case picklewall::ErrorCode::invalid_policy: return "invalid_policy";
    case picklewall::ErrorCode::malformed: return "malformed";
    case picklewall::ErrorCode::limit_exceeded: return "limit_exceeded";
    case picklewall::ErrorCode::unsupported: return "unsupported";
    case picklewall::ErrorCode::refused: return "refused";
  }
  return "io";
}

// An engine error on its way to Python: thrown with the GIL released, translated with it held.
struct EngineFailure : std::runtime_error {
  EngineFailure(const picklewall::Error& error) : std::runtime_error(error.message), code(code_name(error.code)) {}
  std::string code;
};

template <class T>
T unwrap(picklewall::Result<T>&& result) {
  if (!result) throw EngineFailure(result.error());
  return std::move(result).value();
}

// The built-in policy with the caller's trust policies and files, and what a scan is asked to do. Built once and reused: the
// package's guard keeps one for every load it checks.
class Engine {
 public:
  Engine(const std::vector<std::string>& policy_files, const std::vector<std::string>& trust, bool strict,
         bool hash_files) {
    policy_ = unwrap(picklewall::Policy::with_files(policy_files, trust));
    picklewall::ScanOptions options;
    options.policy = policy_;
    options.strict = strict;
    options.hash_files = hash_files;
    scanner_ = std::make_unique<picklewall::Scanner>(unwrap(picklewall::Scanner::create(options)));
  }

  std::vector<picklewall::FileReport> scan_paths(const std::vector<std::string>& paths, unsigned jobs,
                                                 const std::string& cache) const {
    for (const std::string& path : paths) {
      std::error_code error;
      if (!std::filesystem::exists(path, error))
        throw EngineFailure({picklewall::ErrorCode::not_found, path + ": no such file or directory"});
    }
    picklewall::BatchOptions options;
    options.jobs = jobs;
    options.cache_path = cache;
    return unwrap(picklewall::scan_batch(*scanner_, paths, options)).reports;
  }

  picklewall::FileReport scan_bytes(std::span<const std::uint8_t> bytes, const std::string& name) const {
    return scanner_->scan_bytes(bytes, name);
  }

  std::string inspect(const std::string& path, bool disassemble, std::size_t max_lines) const {
    picklewall::InspectOptions options;
    options.scan = scanner_->options();
    options.scan.hash_files = false;
    options.view = disassemble ? picklewall::InspectView::disassembly : picklewall::InspectView::decompiled;
    options.max_lines = max_lines;
    return picklewall::render_inspect_text(unwrap(picklewall::inspect_file(path, options)), false);
  }

  std::vector<picklewall::ConvertReport> convert(const std::string& input, const std::string& output, bool strip_code,
                                                 bool verify, const std::string& key) const {
    picklewall::ConvertOptions options;
    options.policy = policy_;
    options.strip_code = strip_code;
    options.verify = verify;
    options.key = key;
    return unwrap(picklewall::convert_path(input, output, options));
  }

  picklewall::TensorReader open_tensors(const std::string& path, bool strip_code, const std::string& key) const {
    picklewall::LoadOptions options;
    options.policy = policy_;
    options.strip_code = strip_code;
    options.key = key;
    return unwrap(picklewall::TensorReader::open(path, options));
  }

 private:
  std::shared_ptr<picklewall::Policy> policy_;
  std::unique_ptr<picklewall::Scanner> scanner_;
};

std::string render(const std::vector<picklewall::FileReport>& reports, const std::string& format, bool show_info) {
  if (format == "json") return picklewall::render_json(reports);
  if (format == "sarif") return picklewall::render_sarif(reports);
  if (format == "text") return picklewall::render_text(reports, {false, show_info});
  throw EngineFailure({picklewall::ErrorCode::invalid_argument, "unknown report format '" + format + "'"});
}

using ByteBuffer = nb::ndarray<std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

}  // namespace

NB_MODULE(_native, m) {
  m.doc() = "The picklewall C++ engine. Use the picklewall package, not this module.";

  nb::register_exception_translator([](const std::exception_ptr& thrown, void*) {
    try {
      std::rethrow_exception(thrown);
    } catch (const EngineFailure& failure) {
      nb::object error = nb::module_::import_("picklewall.errors").attr("from_engine")(failure.code, failure.what());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
    }
  });

  nb::class_<picklewall::Finding>(m, "Finding")
      .def_ro("rule", &picklewall::Finding::rule)
      .def_prop_ro("severity", [](const picklewall::Finding& f) { return std::string(picklewall::to_string(f.severity)); })
      .def_ro("message", &picklewall::Finding::message)
      .def_ro("member", &picklewall::Finding::member)
      .def_ro("offset", &picklewall::Finding::offset)
      .def_ro("symbol", &picklewall::Finding::symbol);

  nb::class_<picklewall::FileReport>(m, "FileReport")
      .def_ro("path", &picklewall::FileReport::path)
      .def_ro("format", &picklewall::FileReport::format)
      .def_prop_ro("verdict", [](const picklewall::FileReport& r) { return std::string(picklewall::to_string(r.verdict)); })
      .def_ro("sha256", &picklewall::FileReport::sha256)
      .def_ro("size", &picklewall::FileReport::size)
      .def_ro("findings", &picklewall::FileReport::findings)
      .def_ro("globals", &picklewall::FileReport::globals);

  nb::class_<picklewall::ConvertedTensor>(m, "ConvertedTensor")
      .def_ro("name", &picklewall::ConvertedTensor::name)
      .def_ro("dtype", &picklewall::ConvertedTensor::dtype)
      .def_ro("shape", &picklewall::ConvertedTensor::shape);

  nb::class_<picklewall::ConvertReport>(m, "ConvertReport")
      .def_ro("input", &picklewall::ConvertReport::input)
      .def_ro("output", &picklewall::ConvertReport::output)
      .def_ro("scan", &picklewall::ConvertReport::scan)
      .def_ro("tensors", &picklewall::ConvertReport::tensors)
      .def_ro("dropped", &picklewall::ConvertReport::dropped)
      .def_ro("skipped", &picklewall::ConvertReport::skipped)
      .def_ro("bytes_written", &picklewall::ConvertReport::bytes_written)
      .def_ro("verified", &picklewall::ConvertReport::verified);

  nb::class_<picklewall::TensorSpec>(m, "TensorSpec")
      .def_ro("name", &picklewall::TensorSpec::name)
      .def_ro("dtype", &picklewall::TensorSpec::dtype)
      .def_ro("shape", &picklewall::TensorSpec::shape)
      .def_ro("nbytes", &picklewall::TensorSpec::bytes);

  nb::class_<picklewall::TensorReader>(m, "TensorReader")
      .def_prop_ro("scan", &picklewall::TensorReader::scan)
      .def_prop_ro("tensors", &picklewall::TensorReader::tensors)
      .def_prop_ro("skipped", &picklewall::TensorReader::skipped)
      .def(
          "read_into",
          [](const picklewall::TensorReader& reader, std::size_t index, ByteBuffer buffer) {
            std::span<std::uint8_t> into(buffer.data(), buffer.shape(0));
            nb::gil_scoped_release released;
            if (picklewall::Status status = reader.read(index, into); !status) throw EngineFailure(status.error());
          },
          "index"_a, "buffer"_a, "Fills `buffer` (uint8, C-contiguous, exactly the tensor's nbytes) with tensor `index`.");

  nb::class_<Engine>(m, "Engine")
      .def(nb::init<const std::vector<std::string>&, const std::vector<std::string>&, bool, bool>(),
           "policy_files"_a, "trust"_a, "strict"_a, "hash_files"_a, nb::call_guard<nb::gil_scoped_release>())
      .def("scan_paths", &Engine::scan_paths, "paths"_a, "jobs"_a = 1, "cache"_a = "",
           nb::call_guard<nb::gil_scoped_release>())
      .def(
          "scan_bytes",
          [](const Engine& engine, nb::bytes data, const std::string& name) {
            std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()), data.size());
            nb::gil_scoped_release released;  // `data` is immutable and the caller holds it for the call
            return engine.scan_bytes(bytes, name);
          },
          "data"_a, "name"_a)
      .def("inspect", &Engine::inspect, "path"_a, "disassemble"_a, "max_lines"_a, nb::call_guard<nb::gil_scoped_release>())
      .def("convert", &Engine::convert, "input"_a, "output"_a, "strip_code"_a, "verify"_a, "key"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def("open_tensors", &Engine::open_tensors, "path"_a, "strip_code"_a, "key"_a,
           nb::call_guard<nb::gil_scoped_release>());

  m.def("render", &render, "reports"_a, "format"_a, "show_info"_a, nb::call_guard<nb::gil_scoped_release>());
  m.def("write_atomically", [](const std::string& path, const std::string& content) {
    nb::gil_scoped_release released;
    if (picklewall::Status status = picklewall::write_file_atomically(path, content); !status)
      throw EngineFailure(status.error());
  }, "path"_a, "content"_a);
  m.def("trust_policy_names", &picklewall::Policy::trust_policy_names);
  m.attr("__version__") = picklewall::version();
}
