// picklewall._native: the C++ engine for the Python package. Thin on purpose: every function here converts
// arguments, releases the GIL, calls the engine and converts the result; errors become the package's exception
// classes (picklewall.errors). The friendly API lives in python/picklewall/.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
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
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "picklewall/batch_scan.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/inspect.hpp"
#include "picklewall/isolation.hpp"
#include "picklewall/limits.hpp"
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
    case picklewall::ErrorCode::cancelled: return "cancelled";
  }
  return "io";
}

// A descriptor closed on scope exit.
class UniqueDescriptor {
 public:
  explicit UniqueDescriptor(int fd) : fd_(fd) {}
  UniqueDescriptor(UniqueDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueDescriptor& operator=(UniqueDescriptor&&) = delete;
  ~UniqueDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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

// Strings that quote hostile files need not be UTF-8. Paths and member names come back as os.fsdecode would
// have made them (surrogateescape: os.fsencode gives the bytes back); messages and symbols with
// backslashreplace, so they print. No string ever raises UnicodeDecodeError on its way out.
nb::str decoded(const std::string& text, const char* errors) {
  PyObject* string = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), errors);
  if (string == nullptr) throw nb::python_error();
  return nb::steal<nb::str>(string);
}
nb::str as_path(const std::string& text) { return decoded(text, "surrogateescape"); }
nb::str as_text(const std::string& text) { return decoded(text, "backslashreplace"); }

// Ctrl-C while the engine works with the GIL released: the supervisor asks every 100 ms; this takes the GIL,
// lets Python run its signal handlers, and keeps the exception they raised (KeyboardInterrupt) to raise it
// once the engine has stopped its workers.
class SignalWatch {
 public:
  bool operator()() {
    nb::gil_scoped_acquire held;
    if (PyErr_CheckSignals() == 0) return false;
    raised_ = std::make_unique<nb::python_error>();
    return true;
  }
  // With the GIL held again: re-raises what a signal handler raised, if one did.
  void raise_if_interrupted() {
    if (raised_) {
      nb::python_error error = std::move(*raised_);
      raised_.reset();
      throw error;
    }
  }

 private:
  std::unique_ptr<nb::python_error> raised_;
};

// Runs `work` on a helper thread while this one (GIL released) watches for signals: the in-process engine has
// no supervisor loop of its own, so a stop reaches its scans through their budget's cancel flag instead.
template <class Work>
auto run_watched(Work&& work, SignalWatch& watch, std::atomic<bool>& cancel) {
  using Out = decltype(work());
  std::optional<Out> out;
  std::exception_ptr failure;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  std::thread helper([&] {
    try {
      out.emplace(work());
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard lock(mutex);
    done = true;
    finished.notify_all();
  });
  {
    std::unique_lock lock(mutex);
    while (!done) {
      finished.wait_for(lock, std::chrono::milliseconds(100));
      if (done) break;
      lock.unlock();
      if (!cancel.load() && watch()) cancel.store(true);
      lock.lock();
    }
  }
  helper.join();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

picklewall::Limits limits_from(const std::map<std::string, double>& given) {
  picklewall::Limits limits;
  for (const auto& [name, value] : given) {
    const auto table = picklewall::limit_table();
    const auto it = std::find_if(table.begin(), table.end(), [&](const auto& limit) { return limit.name == name; });
    if (it == table.end())
      throw EngineFailure({picklewall::ErrorCode::invalid_argument, "no limit named '" + name + "'"});
    if (it->integer != nullptr) {
      if (!(value >= 0) || value != std::floor(value) || value > 1.8e19)
        throw EngineFailure({picklewall::ErrorCode::invalid_argument, name + " takes a whole number of at least 0"});
      limits.*it->integer = static_cast<std::uint64_t>(value);
    } else {
      if (!(value > 0)) throw EngineFailure({picklewall::ErrorCode::invalid_argument, name + " takes seconds above 0"});
      limits.*it->seconds = value;
    }
  }
  return limits;
}

// The built-in policy with the caller's trust policies and files, and what a scan is asked to do. Built once and
// reused: the package keeps one per set of options, and its guard keeps one for every load it checks. By
// default every input is parsed in sandboxed worker processes (started on first use and kept), never in the
// caller's interpreter.
class Engine {
 public:
  Engine(const std::vector<std::string>& policy_files, const std::vector<std::string>& trust, bool strict,
         bool hash_files, const std::map<std::string, double>& limits, bool in_process, const std::string& worker) {
    policy_ = unwrap(picklewall::Policy::with_files(policy_files, trust));
    picklewall::ScanOptions options;
    options.policy = policy_;
    options.strict = strict;
    options.hash_files = hash_files;
    options.limits = limits_from(limits);
    scanner_ = std::make_unique<picklewall::Scanner>(unwrap(picklewall::Scanner::create(options)));
    in_process_ = in_process;
    worker_.program = worker;
  }

  bool in_process() const { return in_process_; }

  std::vector<picklewall::FileReport> scan_paths(const std::vector<std::string>& paths, unsigned jobs,
                                                 const std::string& cache) {
    for (const std::string& path : paths) {
      std::error_code error;
      if (!std::filesystem::exists(path, error) && !std::filesystem::is_symlink(path, error))
        throw EngineFailure({picklewall::ErrorCode::not_found, path + ": no such file or directory"});
    }
    SignalWatch watch;
    auto result = [&] {
      nb::gil_scoped_release released;
      picklewall::BatchOptions options;
      options.jobs = jobs;
      options.cache_path = cache;
      options.should_stop = std::ref(watch);
      if (in_process_) {
        options.isolation = picklewall::Isolation::in_process;
      } else {
        options.workers = pool();
      }
      return picklewall::scan_batch(*scanner_, paths, options);
    }();
    watch.raise_if_interrupted();
    return unwrap(std::move(result)).reports;
  }

  picklewall::FileReport scan_bytes(nb::bytes data, const std::string& name) {
    std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()), data.size());
    SignalWatch watch;
    auto result = [&]() -> picklewall::Result<picklewall::FileReport> {
      nb::gil_scoped_release released;  // `data` is immutable and the caller holds it for the call
      if (in_process_) {
        std::atomic<bool> cancel{false};
        picklewall::ScanOptions options = scanner_->options();
        options.cancel = &cancel;
        auto scanner = picklewall::Scanner::create(options);
        if (!scanner) return scanner.error();
        auto report = run_watched([&] { return scanner.value().scan_bytes(bytes, name); }, watch, cancel);
        if (cancel.load()) return picklewall::Error{picklewall::ErrorCode::cancelled, "the scan was stopped"};
        return report;
      }
      // The bytes go to the worker as a sealed memfd: a descriptor like any file's, and no copy it could change.
      auto memfd = bytes_in_memfd(bytes);
      if (!memfd) return memfd.error();
      return pool()->scan(memfd.value().get(), name, std::ref(watch));
    }();
    watch.raise_if_interrupted();
    return unwrap(std::move(result));
  }

  std::string inspect(const std::string& path, bool disassemble, std::size_t max_lines) {
    SignalWatch watch;
    auto result = [&]() -> picklewall::Result<std::string> {
      nb::gil_scoped_release released;
      if (in_process_) {
        picklewall::InspectOptions options;
        options.scan = scanner_->options();
        options.scan.hash_files = false;
        options.view = disassemble ? picklewall::InspectView::disassembly : picklewall::InspectView::decompiled;
        options.max_lines = max_lines;
        auto report = picklewall::inspect_file(path, options);
        if (!report) return report.error();
        return picklewall::render_inspect_text(report.value(), false);
      }
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      if (fd < 0)
        return picklewall::Error{errno == ENOENT ? picklewall::ErrorCode::not_found : picklewall::ErrorCode::io,
                                 "cannot open " + path + ": " + std::strerror(errno)};
      auto text = pool()->inspect(fd, path, disassemble, max_lines, false, std::ref(watch));
      ::close(fd);
      return text;
    }();
    watch.raise_if_interrupted();
    return unwrap(std::move(result));
  }

  picklewall::ConvertResult convert(const std::string& input, const std::string& output, bool strip_code, bool verify,
                                    const std::string& key) {
    SignalWatch watch;
    auto result = [&] {
      nb::gil_scoped_release released;
      picklewall::ConvertOptions options;
      options.policy = policy_;
      options.limits = scanner_->options().limits;
      options.strip_code = strip_code;
      options.verify = verify;
      options.key = key;
      options.isolation = in_process_ ? picklewall::Isolation::in_process : picklewall::Isolation::worker_processes;
      options.worker_settings = worker_;
      options.should_stop = std::ref(watch);
      return picklewall::convert_path(input, output, options);
    }();
    watch.raise_if_interrupted();
    return unwrap(std::move(result));
  }

  // load(): by default the file is read in a worker, which hands back the tensors' bytes in a shared memory file.
  picklewall::TensorReader open_tensors(const std::string& path, bool strip_code, const std::string& key) {
    SignalWatch watch;
    auto result = [&]() -> picklewall::Result<picklewall::TensorReader> {
      nb::gil_scoped_release released;
      if (!in_process_) return picklewall::TensorReader::open_in_worker(*pool(), path, strip_code, key, std::ref(watch));
      picklewall::LoadOptions options;
      options.policy = policy_;
      options.limits = scanner_->options().limits;
      options.strip_code = strip_code;
      options.key = key;
      return picklewall::TensorReader::open(path, options);
    }();
    watch.raise_if_interrupted();
    return unwrap(std::move(result));
  }

  // The guard's audit hook asks this for every global an unpickler resolves: the most permissive judgement over
  // the uses a load can make of it (the hook cannot know which), the judgement if it is called (the usual use
  // of what a payload imports), and the reason.
  std::tuple<std::string, std::string, std::string, std::string> judge_global(const std::string& written_module,
                                                                              const std::string& written_name) const {
    // The hook sees names as written; below protocol 3 the unpickler imports their Python 3 names (a Python 2
    // name is no module in Python 3, so judging the renamed one is never more lenient).
    const auto [module, name] = picklewall::python3_name(written_module, written_name);
    picklewall::SymbolJudgement best{picklewall::Severity::malicious, "", "", ""};
    for (auto use : {picklewall::SymbolUse::reference, picklewall::SymbolUse::call, picklewall::SymbolUse::build,
                     picklewall::SymbolUse::mutate, picklewall::SymbolUse::persistent_id}) {
      picklewall::SymbolJudgement judged = policy_->judge(module, name, use);
      if (judged.severity < best.severity || best.rule.empty()) best = std::move(judged);
    }
    if (scanner_->options().strict && best.rule == "global.trusted") best.severity = picklewall::Severity::suspicious;
    const picklewall::SymbolJudgement called = policy_->judge(module, name, picklewall::SymbolUse::call);
    return {std::string(picklewall::to_string(best.severity)), std::string(picklewall::to_string(called.severity)),
            best.rule, called.reason.empty() ? best.reason : called.reason};
  }

 private:
  std::shared_ptr<picklewall::WorkerPool> pool() {
    std::lock_guard lock(pool_mutex_);
    if (!pool_) pool_ = unwrap(picklewall::WorkerPool::create(scanner_->options(), worker_));
    return pool_;
  }

  static picklewall::Result<UniqueDescriptor> bytes_in_memfd(std::span<const std::uint8_t> bytes) {
    UniqueDescriptor fd(::memfd_create("picklewall-bytes", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd.get() < 0) return picklewall::Error{picklewall::ErrorCode::io, std::string("memfd: ") + std::strerror(errno)};
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return picklewall::Error{picklewall::ErrorCode::io, std::string("memfd: ") + std::strerror(errno)};
      written += static_cast<std::size_t>(n);
    }
    ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
  }

  std::shared_ptr<picklewall::Policy> policy_;
  std::unique_ptr<picklewall::Scanner> scanner_;
  bool in_process_ = false;
  picklewall::WorkerSettings worker_;
  std::mutex pool_mutex_;
  std::shared_ptr<picklewall::WorkerPool> pool_;
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

  // Every failure of the engine reaches Python as a PicklewallError (or one of its subclasses): its own errors
  // with their codes, and anything else the C++ side raised (out of memory, a bug) with code "io".
  nb::register_exception_translator([](const std::exception_ptr& thrown, void*) {
    const auto raise = [](const std::string& code, const std::string& message) {
      nb::object error = nb::module_::import_("picklewall.errors").attr("from_engine")(code, as_text(message));
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
    };
    try {
      std::rethrow_exception(thrown);
    } catch (const EngineFailure& failure) {
      raise(failure.code, failure.what());
    } catch (const nb::python_error&) {
      throw;  // already a Python exception (KeyboardInterrupt from a watched call)
    } catch (const nb::builtin_exception&) {
      throw;  // nanobind's own argument errors: TypeError and friends
    } catch (const std::bad_alloc&) {
      raise("limit_exceeded", "the engine ran out of memory");
    } catch (const std::exception& error) {
      raise("io", std::string("the engine failed: ") + error.what());
    }
  });

  nb::class_<picklewall::Finding>(m, "Finding")
      .def_prop_ro("rule", [](const picklewall::Finding& f) { return as_text(f.rule); })
      .def_prop_ro("severity", [](const picklewall::Finding& f) { return std::string(picklewall::to_string(f.severity)); })
      .def_prop_ro("message", [](const picklewall::Finding& f) { return as_text(f.message); })
      .def_prop_ro("member", [](const picklewall::Finding& f) { return as_path(f.member); })
      .def_ro("offset", &picklewall::Finding::offset)
      .def_prop_ro("symbol", [](const picklewall::Finding& f) { return as_text(f.symbol); });

  nb::class_<picklewall::FileReport>(m, "FileReport")
      .def_prop_ro("path", [](const picklewall::FileReport& r) { return as_path(r.path); })
      .def_prop_ro("format", [](const picklewall::FileReport& r) { return as_text(r.format); })
      .def_prop_ro("verdict", [](const picklewall::FileReport& r) { return std::string(picklewall::to_string(r.verdict)); })
      .def_ro("sha256", &picklewall::FileReport::sha256)
      .def_ro("size", &picklewall::FileReport::size)
      .def_ro("findings", &picklewall::FileReport::findings)
      .def_prop_ro("globals", [](const picklewall::FileReport& r) {
        nb::list out;
        for (const std::string& global : r.globals) out.append(as_text(global));
        return out;
      });

  nb::class_<picklewall::ConvertedTensor>(m, "ConvertedTensor")
      .def_prop_ro("name", [](const picklewall::ConvertedTensor& t) { return as_text(t.name); })
      .def_ro("dtype", &picklewall::ConvertedTensor::dtype)
      .def_ro("shape", &picklewall::ConvertedTensor::shape);

  nb::class_<picklewall::ConvertReport>(m, "ConvertReport")
      .def_prop_ro("input", [](const picklewall::ConvertReport& r) { return as_path(r.input); })
      .def_prop_ro("output", [](const picklewall::ConvertReport& r) { return as_path(r.output); })
      .def_ro("scan", &picklewall::ConvertReport::scan)
      .def_ro("tensors", &picklewall::ConvertReport::tensors)
      .def_prop_ro("dropped", [](const picklewall::ConvertReport& r) {
        nb::dict out;
        for (const auto& [dropped, kept] : r.dropped) out[as_text(dropped)] = as_text(kept);
        return out;
      })
      .def_prop_ro("skipped", [](const picklewall::ConvertReport& r) {
        nb::list out;
        for (const std::string& line : r.skipped) out.append(as_text(line));
        return out;
      })
      .def_ro("bytes_written", &picklewall::ConvertReport::bytes_written)
      .def_ro("verified", &picklewall::ConvertReport::verified);

  nb::class_<picklewall::ConvertResult>(m, "ConvertResult")
      .def_ro("conversions", &picklewall::ConvertResult::conversions)
      .def_prop_ro("copied", [](const picklewall::ConvertResult& r) {
        nb::list out;
        for (const std::string& name : r.copied) out.append(as_path(name));
        return out;
      })
      .def_prop_ro("left_out", [](const picklewall::ConvertResult& r) {
        nb::list out;
        for (const std::string& line : r.left_out) out.append(as_text(line));
        return out;
      });

  nb::class_<picklewall::TensorSpec>(m, "TensorSpec")
      .def_prop_ro("name", [](const picklewall::TensorSpec& t) { return as_text(t.name); })
      .def_ro("dtype", &picklewall::TensorSpec::dtype)
      .def_ro("shape", &picklewall::TensorSpec::shape)
      .def_ro("nbytes", &picklewall::TensorSpec::bytes);

  nb::class_<picklewall::TensorReader>(m, "TensorReader")
      .def_prop_ro("scan", &picklewall::TensorReader::scan)
      .def_prop_ro("tensors", &picklewall::TensorReader::tensors)
      .def_prop_ro("skipped", [](const picklewall::TensorReader& reader) {
        nb::list out;
        for (const std::string& line : reader.skipped()) out.append(as_text(line));
        return out;
      })
      .def(
          "read_into",
          [](const picklewall::TensorReader& reader, std::size_t index, ByteBuffer buffer) {
            std::span<std::uint8_t> into(buffer.data(), buffer.shape(0));
            nb::gil_scoped_release released;
            if (picklewall::Status status = reader.read(index, into); !status) throw EngineFailure(status.error());
          },
          "index"_a, "buffer"_a, "Fills `buffer` (uint8, C-contiguous, exactly the tensor's nbytes) with tensor `index`.");

  nb::class_<Engine>(m, "Engine")
      .def(nb::init<const std::vector<std::string>&, const std::vector<std::string>&, bool, bool,
                    const std::map<std::string, double>&, bool, const std::string&>(),
           "policy_files"_a, "trust"_a, "strict"_a, "hash_files"_a, "limits"_a, "in_process"_a, "worker"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def_prop_ro("in_process", &Engine::in_process)
      .def("scan_paths", &Engine::scan_paths, "paths"_a, "jobs"_a = 1, "cache"_a = "")
      .def("scan_bytes", &Engine::scan_bytes, "data"_a, "name"_a)
      .def("inspect", &Engine::inspect, "path"_a, "disassemble"_a, "max_lines"_a)
      .def("convert", &Engine::convert, "input"_a, "output"_a, "strip_code"_a, "verify"_a, "key"_a)
      .def("open_tensors", &Engine::open_tensors, "path"_a, "strip_code"_a, "key"_a)
      .def("judge_global", &Engine::judge_global, "module"_a, "name"_a);

  m.def("limit_names", [] {
    std::vector<std::string> names;
    for (const picklewall::LimitInfo& limit : picklewall::limit_table()) names.emplace_back(limit.name);
    return names;
  });
  m.def("render", &render, "reports"_a, "format"_a, "show_info"_a, nb::call_guard<nb::gil_scoped_release>());
  m.def("write_atomically", [](const std::string& path, const std::string& content) {
    nb::gil_scoped_release released;
    if (picklewall::Status status = picklewall::write_file_atomically(path, content); !status)
      throw EngineFailure(status.error());
  }, "path"_a, "content"_a);
  m.def("trust_policy_names", &picklewall::Policy::trust_policy_names);
  m.attr("__version__") = picklewall::version();
}
