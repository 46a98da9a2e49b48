#include "convert/tensor_builder.hpp"

#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "io/checked.hpp"
#include "pickle/joblib_layout.hpp"
#include "pickle/value_text.hpp"

namespace picklewall::detail {

std::uint64_t TensorInfo::numel() const {
  std::uint64_t count = 1;
  for (std::uint64_t size : shape) count *= size;  // checked when the tensor was built
  return count;
}

bool TensorInfo::contiguous() const {
  std::uint64_t expected = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && stride[i] != expected) return numel() == 0;
    expected *= shape[i];
  }
  return true;
}

std::uint64_t TensorInfo::end_byte() const {
  if (numel() == 0) return first_byte();
  std::uint64_t last = offset;
  for (std::size_t i = 0; i < shape.size(); ++i) last += (shape[i] - 1) * stride[i];
  return (last + 1) * dtype.bytes;
}

TensorInfo array_tensor(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, bool fortran,
                        std::string storage_key) {
  TensorInfo tensor;
  tensor.name = std::move(name);
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.storage_key = std::move(storage_key);
  tensor.stride.assign(tensor.shape.size(), 0);
  std::uint64_t step = 1;
  for (std::size_t k = 0; k < tensor.shape.size(); ++k) {
    const std::size_t d = fortran ? k : tensor.shape.size() - 1 - k;
    tensor.stride[d] = step;
    step *= std::max<std::uint64_t>(tensor.shape[d], 1);
  }
  return tensor;
}

namespace {

bool mul_to(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  const auto product = checked_mul(a, b);
  if (product) out = *product;
  return product.has_value();
}

bool add_to(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  const auto sum = checked_add(a, b);
  if (sum) out = *sum;
  return sum.has_value();
}

class Builder {
 public:
  Builder(const PickleProgram& program, const BuildOptions& options)
      : program_(program), graph_(program.graph), options_(options) {
    // What the graph keeps apart from the call nodes: items handed to a non-plain container (OrderedDict's
    // SETITEMS) and BUILD states, each by target node.
    for (const Effect& effect : graph_.effects()) {
      if (!effect.target.is_node()) continue;
      if (effect.kind == EffectKind::mutate && effect.argument.is_node() &&
          graph_.node(effect.argument.node).kind == NodeKind::tuple) {
        auto& items = mutations_[effect.target.node];
        for (Value item : graph_.children(graph_.node(effect.argument.node).index)) items.push_back(item);
      } else if (effect.kind == EffectKind::build) {
        builds_[effect.target.node] = effect.argument;
      }
    }
  }

  Result<BuiltTensors> run() {
    if (!program_.root) return Error{ErrorCode::malformed, "the pickle returns nothing (it never reaches STOP)"};
    std::vector<Value> candidates{*program_.root};
    if (options_.search_dropped_roots)
      for (Value dropped : program_.dropped_root_values) candidates.push_back(dropped);
    for (Value candidate : candidates) {
      out_ = BuiltTensors{};
      visited_.clear();
      auto start = select_root(candidate);
      if (!start) return start.error();
      if (Status walked = walk(start.value()); !walked) return walked.error();
      if (!out_.tensors.empty()) return std::move(out_);
    }
    return std::move(out_);
  }

 private:
  // ---- reading the graph ----
  const Node* node_of(Value value) const { return value.is_node() ? &graph_.node(value.node) : nullptr; }

  std::string global_name(Value value) const {
    const GlobalRef* ref = graph_.as_global(value);
    return ref == nullptr ? std::string() : ref->qualified();
  }

  const CallRecord* call_of(Value value) const {
    const Node* node = node_of(value);
    return node != nullptr && node->kind == NodeKind::call ? &graph_.call(node->index) : nullptr;
  }

  std::string callee_name(Value value) const {
    const CallRecord* call = call_of(value);
    return call == nullptr ? std::string() : global_name(call->callee);
  }

  const std::vector<Value>* tuple_items(Value value) const {
    const Node* node = node_of(value);
    if (node == nullptr || node->kind != NodeKind::tuple) return nullptr;
    return &graph_.children(node->index);
  }

  const std::vector<Value>* call_args(Value value) const {
    const CallRecord* call = call_of(value);
    return call == nullptr ? nullptr : tuple_items(call->args);
  }

  // Key/value pairs of a dict-like value: a plain dict, or an OrderedDict()/dict() call filled by SETITEMS.
  std::optional<std::vector<Value>> dict_items(Value value) const {
    const Node* node = node_of(value);
    if (node == nullptr) return std::nullopt;
    if (node->kind == NodeKind::dict) return graph_.children(node->index);
    if (node->kind != NodeKind::call) return std::nullopt;
    const std::string callee = callee_name(value);
    if (callee != "collections.OrderedDict" && callee != "builtins.dict") return std::nullopt;
    auto it = mutations_.find(value.node);
    return it == mutations_.end() ? std::vector<Value>{} : it->second;
  }

  std::optional<Value> dict_get(const std::vector<Value>& items, std::string_view key) const {
    for (std::size_t i = 0; i + 1 < items.size(); i += 2)
      if (graph_.is_str(items[i]) && graph_.text_of(items[i]) == key) return items[i + 1];
    return std::nullopt;
  }

  static std::optional<std::int64_t> integer(Value value) {
    if (value.kind != ValueKind::integer) return std::nullopt;
    return value.integer;
  }

  std::optional<std::string> key_text(Value key) const {
    if (graph_.is_str(key)) return std::string(*graph_.text_of(key));
    if (auto number = integer(key)) return std::to_string(*number);
    return std::nullopt;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  // ---- the root ----
  Result<Value> select_root(Value root) {
    auto items = dict_items(root);
    if (!options_.key.empty()) {
      if (!items) return Error{ErrorCode::invalid_argument, "--key " + options_.key + ": the pickle's root is not a dict"};
      auto value = dict_get(*items, options_.key);
      if (!value) return Error{ErrorCode::invalid_argument, "--key " + options_.key + ": no such key at the root"};
      out_.root_path = options_.key;
      return *value;
    }
    // As Hugging Face's converter does: a checkpoint with a top-level "state_dict" converts that.
    if (items) {
      if (auto value = dict_get(*items, "state_dict")) {
        out_.root_path = "state_dict";
        return *value;
      }
    }
    return root;
  }

  // ---- the walk ----
  struct Pending {
    Value value;
    std::string path;
  };

  Status walk(Value start) {
    std::vector<Pending> pending{{start, ""}};
    std::size_t budget = 10'000'000;  // visits; the graph itself is bounded by Limits
    while (!pending.empty()) {
      if (budget-- == 0) return Error{ErrorCode::limit_exceeded, "the object graph is too large to convert"};
      Pending item = std::move(pending.back());
      pending.pop_back();
      if (auto handled = visit(item, pending); !handled) return handled.error();
    }
    return Ok{};
  }

  void skip_long_name(const std::string& path) {
    if (long_name_reported_) return;
    long_name_reported_ = true;
    out_.skipped.push_back(shorten_name(path, 120) + ": names here pass max_tensor_name_bytes (" +
                           std::to_string(options_.max_name_bytes) + "); what lies deeper was not converted");
  }

  void skip(const std::string& path, Value value) {
    out_.skipped.push_back((path.empty() ? std::string("<root>") : path) + ": " + value_text(graph_, value, 100));
  }

  // Containers are entered once: a cycle or a repeated container is listed, not walked again.
  bool first_visit(Value value, const std::string& path) {
    if (visited_.insert(value.node).second) return true;
    out_.skipped.push_back(path + ": the same container again (already converted under another name)");
    return false;
  }

  Status visit(const Pending& item, std::vector<Pending>& pending) {
    const Value value = item.value;
    const Node* node = node_of(value);
    if (node == nullptr) {
      if (value.kind != ValueKind::none) skip(item.path, value);
      return Ok{};
    }
    // Children are pushed in reverse so they are visited in stream order.
    auto push_items = [&](const std::vector<Value>& items, bool pairs) {
      std::vector<Pending> children;
      for (std::size_t i = 0; i < items.size(); i += pairs ? 2 : 1) {
        if (pairs && i + 1 >= items.size()) break;
        std::string key;
        if (pairs) {
          auto text = key_text(items[i]);
          if (!text) {
            skip(join(item.path, "<key " + value_text(graph_, items[i], 40) + ">"), items[i + 1]);
            continue;
          }
          key = *text;
        } else {
          key = std::to_string(i);
        }
        // Each child copies its parent's name: past the limit, that part of the object is left out, once.
        if (item.path.size() + 1 + key.size() > options_.max_name_bytes) {
          skip_long_name(item.path);
          continue;
        }
        children.push_back({pairs ? items[i + 1] : items[i], join(item.path, key)});
      }
      for (auto it = children.rbegin(); it != children.rend(); ++it) pending.push_back(std::move(*it));
    };
    if (auto items = dict_items(value)) {
      if (first_visit(value, item.path)) push_items(*items, true);
      return Ok{};
    }
    if (node->kind == NodeKind::list || node->kind == NodeKind::tuple) {
      if (first_visit(value, item.path)) push_items(graph_.children(node->index), false);
      return Ok{};
    }
    if (node->kind != NodeKind::call) {
      skip(item.path, value);
      return Ok{};
    }
    auto tensor = tensor_of(value, item.path);
    if (!tensor) return tensor.error();
    if (tensor.value()) {
      out_.tensors.push_back(std::move(*tensor.value()));
      return Ok{};
    }
    if (already_listed_) {
      already_listed_ = false;
      return Ok{};
    }
    if (auto module = module_children(value, item.path)) {
      if (first_visit(value, item.path))
        for (auto it = module->rbegin(); it != module->rend(); ++it) pending.push_back(std::move(*it));
      return Ok{};
    }
    skip(item.path, value);
    return Ok{};
  }

  // torch.nn.Module pickled whole: its BUILD state is a dict with _parameters, _buffers and _modules; the
  // names follow state_dict() (non-persistent buffers are left out, as state_dict() leaves them out).
  std::optional<std::vector<Pending>> module_children(Value value, const std::string& path) const {
    auto build = builds_.find(value.node);
    if (build == builds_.end()) return std::nullopt;
    auto state = dict_items(build->second);
    if (!state) return std::nullopt;
    auto parameters = dict_get(*state, "_parameters");
    if (!parameters) return std::nullopt;
    std::unordered_set<std::string> non_persistent;
    if (auto names = dict_get(*state, "_non_persistent_buffers_set")) {
      const auto* args = call_args(*names);  // builtins.set([...])
      if (args != nullptr && !args->empty())
        if (const Node* list = node_of(args->front()); list != nullptr && list->kind == NodeKind::list)
          for (Value name : graph_.children(list->index))
            if (auto text = key_text(name)) non_persistent.insert(*text);
    }
    std::vector<Pending> children;
    auto add_all = [&](std::optional<Value> container, bool filter) {
      if (!container) return;
      auto items = dict_items(*container);
      if (!items) return;
      for (std::size_t i = 0; i + 1 < items->size(); i += 2) {
        auto key = key_text((*items)[i]);
        if (!key || (*items)[i + 1].kind == ValueKind::none) continue;  // None: a parameter slot left empty
        if (filter && non_persistent.contains(*key)) continue;
        children.push_back({(*items)[i + 1], join(path, *key)});
      }
    };
    add_all(parameters, false);
    add_all(dict_get(*state, "_buffers"), true);
    add_all(dict_get(*state, "_modules"), false);
    return children;
  }

  // ---- tensors ----
  using MaybeTensor = Result<std::optional<TensorInfo>>;

  MaybeTensor tensor_of(Value value, const std::string& path) {
    const std::string callee = callee_name(value);
    const auto* args = call_args(value);
    if (args == nullptr) return std::optional<TensorInfo>{};
    if (callee == "torch._utils._rebuild_parameter" || callee == "torch._utils._rebuild_parameter_with_state") {
      if (args->empty()) return bad(path, "a parameter without data");
      return tensor_of(args->front(), path);
    }
    if (callee == "torch._tensor._rebuild_from_type_v2") {
      // (func, new_type, args, state): the tensor is func(*args), re-typed to Tensor or Parameter.
      if (args->size() < 3) return bad(path, "_rebuild_from_type_v2 with too few arguments");
      const std::string type = global_name((*args)[1]);
      if (type != "torch.Tensor" && type != "torch.nn.parameter.Parameter") return std::optional<TensorInfo>{};
      const auto* inner = tuple_items((*args)[2]);
      if (inner == nullptr) return bad(path, "_rebuild_from_type_v2 without an argument tuple");
      return rebuild(global_name((*args)[0]), *inner, path);
    }
    if (callee == "numpy.core.multiarray._reconstruct" || callee == "numpy._core.multiarray._reconstruct")
      return reconstructed_array(value, *args, path);
    if (callee == "numpy.core.numeric._frombuffer" || callee == "numpy._core.numeric._frombuffer") {
      if (args->size() < 4) return bad(path, "_frombuffer with too few arguments");
      auto order = graph_.text_of((*args)[3]);
      auto data = bytes_of((*args)[0]);
      if (!data) return skipped_array(path, "its buffer is not in the pickle (out-of-band)");
      return numpy_array(path, (*args)[1], (*args)[2], order && *order == "F", *data);
    }
    if (callee == "joblib.numpy_pickle.NumpyArrayWrapper") return joblib_array(value, path);
    return rebuild(callee, *args, path);
  }

  // ---- numpy ----
  MaybeTensor skipped_array(const std::string& path, const std::string& why) {
    out_.skipped.push_back(path + ": a numpy array that is not converted: " + why);
    already_listed_ = true;
    return std::optional<TensorInfo>{};
  }

  // Bytes of a bytes/bytearray constant, or of _codecs.encode(str, 'latin1') (numpy's protocol-2 form).
  std::optional<std::span<const std::uint8_t>> bytes_of(Value value) {
    if (!graph_.is_str(value)) {
      if (auto text = graph_.text_of(value))
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text->data()), text->size());
    }
    // Protocol 2 writes b'' as bytes(), with no arguments.
    if (callee_name(value) == "builtins.bytes") {
      const auto* args = call_args(value);
      if (args != nullptr && args->empty()) return std::span<const std::uint8_t>();
    }
    if (callee_name(value) != "_codecs.encode") return std::nullopt;
    const auto* args = call_args(value);
    if (args == nullptr || args->size() < 2 || !graph_.is_str((*args)[0]) || graph_.text_of((*args)[1]) != "latin1")
      return std::nullopt;
    const std::string_view text = *graph_.text_of((*args)[0]);  // UTF-8 of code points 0-255
    std::vector<std::uint8_t> latin1;
    latin1.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x80) latin1.push_back(c);
      else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size())
        latin1.push_back(static_cast<std::uint8_t>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F)));
      else return std::nullopt;  // a code point latin-1 cannot encode: _codecs.encode would raise
    }
    out_.owned.push_back(std::move(latin1));
    return std::span<const std::uint8_t>(out_.owned.back());
  }

  MaybeTensor reconstructed_array(Value value, const std::vector<Value>& args, const std::string& path) {
    if (args.empty() || global_name(args[0]) != "numpy.ndarray")
      return skipped_array(path, "a subclass of ndarray (" + value_text(graph_, args.empty() ? Value() : args[0], 60) + ")");
    auto build = builds_.find(value.node);
    const auto* state = build == builds_.end() ? nullptr : tuple_items(build->second);
    // (version, shape, dtype, is_fortran, rawdata), or the older form without the version.
    if (state == nullptr || (state->size() != 5 && state->size() != 4)) return bad(path, "numpy array state is not one numpy writes");
    const std::size_t at = state->size() == 5 ? 1 : 0;
    auto data = bytes_of((*state)[at + 3]);
    if (!data) return skipped_array(path, "its data is not raw bytes (an object array?)");
    const bool fortran = (*state)[at + 2].kind == ValueKind::boolean && (*state)[at + 2].integer != 0;
    return numpy_array(path, (*state)[at + 1], (*state)[at], fortran, *data);
  }

  MaybeTensor joblib_array(Value value, const std::string& path) {
    auto build = builds_.find(value.node);
    auto state = build == builds_.end() ? std::nullopt : dict_items(build->second);
    if (!state) return bad(path, "joblib array wrapper without its state");
    const auto dtype = dict_get(*state, "dtype"), shape = dict_get(*state, "shape"), order = dict_get(*state, "order");
    if (!dtype || !shape) return bad(path, "joblib array state without dtype or shape");
    for (const auto& array : program_.joblib_arrays) {
      if (array.wrapper != value.node) continue;
      if (!range_fits(array.offset, array.length, options_.input.size())) return bad(path, "joblib array data outside the stream");
      const bool fortran = order && graph_.text_of(*order) == "F";
      return numpy_array(path, *dtype, *shape, fortran, options_.input.subspan(array.offset, array.length));
    }
    return skipped_array(path, "an object array (its items are a nested pickle)");
  }

  MaybeTensor numpy_array(const std::string& path, Value dtype_value, Value shape_value, bool fortran,
                          std::span<const std::uint8_t> data) {
    auto facts = numpy_dtype_facts(graph_, dtype_value);
    if (!facts) return bad(path, facts.error().message);
    auto dtype = dtype_of_numpy_code(facts.value().descr);
    if (!dtype) return skipped_array(path, "dtype '" + facts.value().descr + "' cannot be stored in safetensors");
    const auto* shape = tuple_items(shape_value);
    if (shape == nullptr) return bad(path, "numpy array shape is not a tuple");
    std::vector<std::uint64_t> dims;
    std::uint64_t numel = 1;
    for (Value size : *shape) {
      const auto s = integer(size);
      if (!s || *s < 0) return bad(path, "numpy array shape " + value_text(graph_, shape_value, 60) + " is not valid");
      dims.push_back(static_cast<std::uint64_t>(*s));
      if (!mul_to(numel, static_cast<std::uint64_t>(*s), numel)) return bad(path, "element count overflows");
    }
    std::uint64_t bytes = 0;
    if (!mul_to(numel, dtype->bytes, bytes) || bytes != data.size())
      return bad(path, "numpy array holds " + std::to_string(data.size()) + " bytes, its shape and dtype need " +
                           std::to_string(bytes));
    TensorInfo tensor = array_tensor(path, *dtype, std::move(dims), fortran,
                                     "array:" + std::to_string(out_.inline_storages.size()));
    StorageInfo storage{tensor.storage_key, bytes, *dtype, false, facts.value().byte_order == '>'};
    out_.storages.emplace(storage.key, storage);
    out_.inline_storages.emplace(storage.key, data);
    return std::optional<TensorInfo>(std::move(tensor));
  }

  static Result<std::optional<TensorInfo>> bad(const std::string& path, const std::string& why) {
    return Error{ErrorCode::malformed, "tensor '" + path + "': " + why};
  }

  MaybeTensor rebuild(const std::string& function, const std::vector<Value>& args, const std::string& path) {
    const bool v2 = function == "torch._utils._rebuild_tensor_v2";
    const bool v3 = function == "torch._utils._rebuild_tensor_v3";
    const bool v1 = function == "torch._utils._rebuild_tensor";
    if (!v1 && !v2 && !v3) return std::optional<TensorInfo>{};
    if (args.size() < (v3 ? 7u : 4u)) return bad(path, function + " with too few arguments");
    auto storage = storage_of(args[0], path);
    if (!storage) return storage.error();
    TensorInfo tensor;
    tensor.name = path;
    tensor.storage_key = storage.value().key;
    tensor.dtype = storage.value().dtype;
    if (v3) {
      auto dtype = dtype_of_torch_dtype(global_name(args[6]));
      if (!dtype) return bad(path, "dtype " + value_text(graph_, args[6], 60) + " cannot be stored in safetensors");
      if (!storage.value().untyped && dtype->name != storage.value().dtype.name)
        return bad(path, "dtype " + std::string(dtype->name) + " does not match its storage's " +
                             std::string(storage.value().dtype.name));
      tensor.dtype = *dtype;
    } else if (storage.value().untyped) {
      return bad(path, "an untyped storage needs _rebuild_tensor_v3's dtype");
    }
    // Conjugate/negative bits and other metadata change what the bytes mean: refuse rather than guess.
    const std::size_t metadata_index = v3 ? 7 : 6;
    if (!v1 && args.size() > metadata_index) {
      auto metadata = dict_items(args[metadata_index]);
      if (!metadata || !metadata->empty()) return bad(path, "tensor metadata (conj/neg bits) is not supported");
    }
    const auto offset = integer(args[1]);
    if (!offset || *offset < 0) return bad(path, "storage offset " + value_text(graph_, args[1], 40) + " is not >= 0");
    tensor.offset = static_cast<std::uint64_t>(*offset);
    const auto* size = tuple_items(args[2]);
    const auto* stride = tuple_items(args[3]);
    if (size == nullptr || stride == nullptr || size->size() != stride->size())
      return bad(path, "size and stride must be tuples of the same length");
    std::uint64_t numel = 1;
    for (std::size_t i = 0; i < size->size(); ++i) {
      const auto s = integer((*size)[i]), t = integer((*stride)[i]);
      if (!s || *s < 0) return bad(path, "size " + value_text(graph_, args[2], 60) + " has a negative or non-integer entry");
      if (!t || *t < 0) return bad(path, "stride " + value_text(graph_, args[3], 60) + " has a negative or non-integer entry");
      tensor.shape.push_back(static_cast<std::uint64_t>(*s));
      tensor.stride.push_back(static_cast<std::uint64_t>(*t));
      if (!mul_to(numel, static_cast<std::uint64_t>(*s), numel)) return bad(path, "element count overflows");
    }
    // The last element must lie inside the storage (the bound torch itself checks).
    const std::uint64_t storage_elements = storage.value().bytes / tensor.dtype.bytes;
    if (numel > 0) {
      std::uint64_t last = tensor.offset;
      for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
        std::uint64_t step = 0;
        if (!mul_to(tensor.shape[i] - 1, tensor.stride[i], step) || !add_to(last, step, last))
          return bad(path, "view extent overflows");
      }
      if (last >= storage_elements)
        return bad(path, "view reaches element " + std::to_string(last) + " of a storage of " +
                             std::to_string(storage_elements) + " elements");
    } else if (tensor.offset > storage_elements) {
      return bad(path, "storage offset past the end of its storage");
    }
    return std::optional<TensorInfo>(std::move(tensor));
  }

  Result<StorageInfo> storage_of(Value value, const std::string& path) {
    const Node* node = node_of(value);
    if (node == nullptr || node->kind != NodeKind::persistent)
      return Error{ErrorCode::malformed, "tensor '" + path + "': its storage is not a persistent id"};
    const auto* id = tuple_items(graph_.value_slot(node->index));
    auto fail = [&](const std::string& why) {
      return Error{ErrorCode::malformed, "tensor '" + path + "': storage " + why};
    };
    if (id == nullptr || id->size() < 5 || !graph_.is_str((*id)[0]) || graph_.text_of((*id)[0]) != "storage")
      return fail("persistent id is not ('storage', type, key, location, numel)");
    if (id->size() > 5 && (*id)[5].kind != ValueKind::none) return fail("views (legacy view_metadata) are not supported");
    StorageInfo info;
    const std::string type = global_name((*id)[1]);
    if (is_untyped_storage_class(type)) {
      info.untyped = true;
      info.dtype = *dtype_of_safetensors_name("U8");
    } else if (auto dtype = dtype_of_storage_class(type)) {
      info.dtype = *dtype;
    } else {
      return fail("type " + value_text(graph_, (*id)[1], 60) + " cannot be stored in safetensors");
    }
    auto key = key_text((*id)[2]);
    const auto numel = integer((*id)[4]);
    if (!key || !numel || *numel < 0) return fail("key or element count is not valid");
    info.key = *key;
    if (!mul_to(static_cast<std::uint64_t>(*numel), std::uint64_t{info.dtype.bytes}, info.bytes))
      return fail("size overflows");
    auto [it, inserted] = out_.storages.try_emplace(info.key, info);
    if (!inserted && (it->second.bytes != info.bytes || it->second.dtype.name != info.dtype.name))
      return fail("'" + info.key + "' is declared twice with different types or sizes");
    return info;
  }

  const PickleProgram& program_;
  const ObjectGraph& graph_;
  const BuildOptions& options_;
  std::unordered_map<NodeId, std::vector<Value>> mutations_;
  std::unordered_map<NodeId, Value> builds_;
  std::unordered_set<NodeId> visited_;
  bool long_name_reported_ = false;
  BuiltTensors out_;
  bool already_listed_ = false;  // tensor_of() listed the leaf it declined (a numpy array it cannot convert)
};

}  // namespace

Result<BuiltTensors> build_tensors(const PickleProgram& program, const BuildOptions& options) {
  return Builder(program, options).run();
}

}  // namespace picklewall::detail
