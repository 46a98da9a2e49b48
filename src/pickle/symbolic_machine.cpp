#include "pickle/symbolic_machine.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "pickle/decoder.hpp"
#include "io/page_release.hpp"
#include "pickle/flat_array.hpp"
#include "pickle/joblib_layout.hpp"
#include "pickle/python2_names.hpp"

namespace picklewall::detail {
namespace {

constexpr int highest_protocol = 5;
// Scalar items beyond this many in one container are counted, not kept: they carry no code and a 100 MB
// list of floats must not cost gigabytes of graph.
constexpr std::size_t scalars_kept_per_container = 1024;
constexpr std::size_t max_dropped_roots_kept = 8;
constexpr std::uint64_t clock_check_interval = 4096;

class Machine {
 public:
  Machine(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
          const Budget& budget, MachineOptions options)
      : decoder_(input, start, limits.max_line_bytes, options.reading), limits_(limits), budget_(budget), options_(options),
        released_up_to_(start) {
    program_.start = start;
    program_.graph.set_detail(options.detail);
    const std::uint64_t remaining = input.size() - std::min<std::uint64_t>(start, input.size());
    program_.graph.reserve_for_input(remaining, limits.max_graph_nodes);
    // Real picklers number memo slots densely, one per memoized object: at most one per input byte.
    memo_dense_.reserve(static_cast<std::size_t>(std::min(remaining, limits.max_memo_entries)) + 1);
  }

  PickleProgram run() {
    Instruction instruction;
    // One comparison per opcode covers both budgets: the clock is read every clock_check_interval opcodes.
    std::uint64_t next_check = 0;
    while (true) {
      if (program_.opcode_count >= next_check) {
        if (program_.opcode_count >= limits_.max_opcodes) {
          fail_limit("max_opcodes", "opcode budget of " + std::to_string(limits_.max_opcodes) + " reached");
          break;
        }
        if (budget_.expired()) {
          fail_limit("max_seconds_per_file", "time budget for this file ran out");
          break;
        }
        if (memory_in_use() > limits_.max_memory_per_file) {
          fail_limit("max_memory_per_file", "working memory for this file passed the budget of " +
                                                std::to_string(limits_.max_memory_per_file) + " bytes");
          break;
        }
        if (options_.release_consumed_input) release_consumed_input();
        next_check = std::min(limits_.max_opcodes, program_.opcode_count + clock_check_interval);
      }
      if (const Fast fast = execute_fast(); fast != Fast::not_taken) {
        if (fast == Fast::failed) break;
        continue;
      }
      if (!decoder_.next(instruction)) {
        const Error& error = decoder_.error();
        fail(error.code, error.message, decoder_.position());
        // The decoder's one budget is the length of a text-protocol line.
        if (error.code == ErrorCode::limit_exceeded) program_.failure->limit = "max_line_bytes";
        break;
      }
      ++program_.opcode_count;
      if (!execute(instruction)) break;
      if (program_.stopped) break;
    }
    if (!program_.stopped && !program_.failure) fail(ErrorCode::malformed, "no STOP opcode", decoder_.position());
    program_.end = program_.stopped ? decoder_.consumed_position() : program_.failure->offset;
    program_.reading = options_.reading;
    program_.file_may_differ = decoder_.file_may_differ();
    program_.python_may_differ = decoder_.python_may_differ();
    program_.dropped_bytes = decoder_.dropped_bytes();
    program_.first_drop_offset = decoder_.first_drop_offset();
    program_.memory_bytes = memory_in_use() - options_.memory_in_use;
    return std::move(program_);
  }

 private:
  ObjectGraph& graph() { return program_.graph; }

  void release_consumed_input() {
    constexpr std::uint64_t release_step = 32ull << 20;
    const std::uint64_t at = decoder_.position();
    if (at < released_up_to_ + release_step || at > decoder_.input().size()) return;
    release_mapped_pages(decoder_.input().subspan(released_up_to_, at - released_up_to_));
    released_up_to_ = at;
  }

  // What this file holds in pickle machines right now: earlier pickles of the stream, this one's graph, memo and
  // stack (by element counts, so reserved but untouched address space does not count), and nested pickles.
  std::uint64_t memory_in_use() const {
    std::uint64_t bytes = options_.memory_in_use + program_.graph.memory_bytes(container_items_) +
                          (memo_dense_.size() + stack_.size()) * sizeof(Value) + marks_.size() * sizeof(std::size_t) +
                          memo_sparse_.size() * (sizeof(std::uint64_t) + sizeof(Value) + 2 * sizeof(void*)) +
                          intern_bytes_ + globals_by_identity_.size() * (sizeof(GlobalIdentity) + 3 * sizeof(void*));
    for (const auto& nested : program_.nested) bytes += nested.memory_bytes;
    return bytes;
  }
  std::uint64_t fence() const { return marks_.empty() ? 0 : marks_.back(); }

  // Failures are rare and build messages: kept out of line (cold), so the per-opcode paths that check for them
  // stay small enough to inline into the dispatch loop.
  [[gnu::cold, gnu::noinline]] void fail(ErrorCode code, std::string message, std::uint64_t offset) {
    if (!program_.failure) program_.failure = PickleFailure{code, std::move(message), offset, {}};
  }
  [[gnu::cold, gnu::noinline]] bool fail_limit(const char* limit, std::string message) {
    if (!program_.failure)
      program_.failure = PickleFailure{ErrorCode::limit_exceeded, std::move(message), current_offset_, limit};
    return false;
  }
  [[gnu::cold, gnu::noinline]] bool fail_at(std::string message) {
    fail(ErrorCode::malformed, std::move(message) + " at offset " + std::to_string(current_offset_), current_offset_);
    return false;
  }
  [[gnu::cold, gnu::noinline]] bool underflow() { return fail_at("unpickling stack underflow"); }
  [[gnu::cold, gnu::noinline]] bool stack_limit() {
    return fail_limit("max_stack_depth", "VM stack deeper than " + std::to_string(limits_.max_stack_depth));
  }
  [[gnu::cold, gnu::noinline]] bool graph_limit() {
    return fail_limit("max_graph_nodes", "object graph larger than " + std::to_string(limits_.max_graph_nodes) + " nodes");
  }

  [[gnu::always_inline]] bool push(Value value) {
    if (stack_.size() >= limits_.max_stack_depth) [[unlikely]]
      return stack_limit();
    stack_.push_back(value);
    return true;
  }
  [[gnu::always_inline]] bool pop(Value& out) {
    if (stack_.size() <= fence()) return underflow();
    out = stack_.back();
    stack_.pop_back();
    return true;
  }
  // marker(): the position of the innermost MARK, which is removed.
  bool pop_mark(std::size_t& position) {
    if (marks_.empty()) return fail_at("could not find MARK");
    position = marks_.back();
    marks_.pop_back();
    return true;
  }

  [[gnu::always_inline]] bool new_node(NodeKind kind, std::uint32_t index, NodeId& id) {
    if (graph().node_count() >= limits_.max_graph_nodes) [[unlikely]]
      return graph_limit();
    id = graph().add_node(kind, index);
    return true;
  }
  bool push_node(NodeKind kind, std::uint32_t index = 0) {
    NodeId id;
    return new_node(kind, index, id) && push(Value::make_node(id));
  }
  std::uint32_t new_container(NodeKind kind) {
    return graph().add_container(program_.graph.detail() == GraphDetail::full || kind == NodeKind::tuple);
  }
  bool push_container(NodeKind kind, std::size_t from) {
    NodeId id;
    if (!new_node(kind, new_container(kind), id)) return false;
    if (!append_children(id, from, stack_.size())) return false;
    stack_.resize(from);
    return push(Value::make_node(id));
  }
  bool append_children(NodeId id, std::size_t from, std::size_t to) {
    const Node node = graph().node(id);
    // Scan mode keeps no items of lists, dicts and sets, and scalars do not deepen a container: the common case
    // (a record of numbers and strings) needs neither the container's record nor any graph write.
    const bool keeps_items = program_.graph.detail() == GraphDetail::full || node.kind == NodeKind::tuple;
    std::uint32_t deepest = 0;
    bool any_object = false;
    for (std::size_t i = from; i < to; ++i)
      if (stack_[i].is_node()) {
        any_object = true;
        deepest = std::max(deepest, graph().depth_of(stack_[i]));
      }
    if (!keeps_items && !any_object) return true;
    const std::uint32_t container = node.index;
    std::uint32_t& depth = graph().depth(container);
    if (deepest + 1 > depth) {
      depth = deepest + 1;
      if (depth > limits_.max_nesting_depth)
        return fail_limit("max_nesting_depth", "containers nested deeper than " + std::to_string(limits_.max_nesting_depth));
    }
    if (node.kind == NodeKind::dict) return append_pairs(container, from, to);
    // Scan mode keeps the objects a list or set holds (not its scalars): a hook table built as dict(list of
    // pairs) is judged by what the list holds.
    std::vector<Value>* kids = graph().kept_children(container);
    const bool objects_only = kids == nullptr;
    for (std::size_t i = from; i < to; ++i) {
      // Not kept: scalars past the per-container cap, anything past the graph-wide budget. None of them can call
      // or import anything.
      if (container_items_ >= limits_.max_container_items) break;
      if (objects_only && !stack_[i].is_node()) continue;
      if (kids == nullptr) kids = &graph().start_children(container);
      if (!stack_[i].is_node() && kids->size() >= scalars_kept_per_container) continue;
      ++container_items_;
      kids->push_back(stack_[i]);
    }
    return true;
  }

  // A dict's items go in as (key, value) pairs, so a reader can tell which key holds which value. Scan mode keeps
  // only the pairs that hold an object: BUILD state is a dict, and what it assigns to `__class__`, `forward` or a
  // hook table is what the analysis judges; pairs of scalars (most of a data pickle) are not kept.
  bool append_pairs(std::uint32_t container, std::size_t from, std::size_t to) {
    const bool full = program_.graph.detail() == GraphDetail::full;
    std::vector<Value>* kids = full ? graph().kept_children(container) : nullptr;
    for (std::size_t i = from; i + 1 < to; i += 2) {
      const bool holds_object = stack_[i].is_node() || stack_[i + 1].is_node();
      if (!full && !holds_object) continue;
      if (container_items_ + 2 > limits_.max_container_items) break;
      if (kids == nullptr) kids = &graph().start_children(container);
      if (!holds_object && kids->size() >= scalars_kept_per_container) continue;
      container_items_ += 2;
      kids->push_back(stack_[i]);
      kids->push_back(stack_[i + 1]);
    }
    return true;
  }

  bool push_text(const Instruction& in, NodeKind kind) {
    const bool decoded = !in.owned_text.empty() && in.text.data() == in.owned_text.data();
    if (in.text.size() <= UINT32_MAX)
      return push(graph().text_value(kind == NodeKind::text ? ValueKind::text : ValueKind::bytes, in.text, decoded));
    // 4 GiB and more (BINUNICODE8/BINBYTES8): a node, since a Value holds a 32-bit length.
    const std::uint32_t id = decoded ? graph().add_string_copy(in.owned_text) : graph().add_string_view(in.text);
    return push_node(kind, id);
  }

  // Every import gets its own node (its own effect), but one name is one GlobalRef however often it is
  // imported: the ten-thousandth STACK_GLOBAL of a memoised 64 KB name costs a hash of two pointers, not a copy
  // of the name, and the analysis judges each distinct name once.
  bool push_global(std::string_view module, std::string_view name) {
    const bool renamed = program_.protocol < 3;  // find_class's fix_imports applies below protocol 3
    const GlobalIdentity identity{module.data(), name.data(), module.size(), name.size(), renamed};
    std::uint32_t index;
    if (auto known = globals_by_identity_.find(identity); known != globals_by_identity_.end()) {
      index = known->second;
    } else {
      std::string content;
      content.reserve(module.size() + name.size() + 2);
      content.append(module).append(1, '\0').append(name).append(1, renamed ? '1' : '0');
      if (auto same = globals_by_content_.find(content); same != globals_by_content_.end()) {
        index = same->second;
      } else {
        GlobalRef ref;
        ref.original_module = module;
        ref.original_name = name;
        std::string new_module(module), new_name(name);
        if (renamed) remap_python2_name(new_module, new_name);
        ref.module = std::move(new_module);
        ref.name = std::move(new_name);
        ref.offset = current_offset_;
        index = graph().add_global(std::move(ref));
        intern_bytes_ += 2 * content.size();
        globals_by_content_.emplace(std::move(content), index);
      }
      globals_by_identity_.emplace(identity, index);
    }
    NodeId id;
    if (!new_node(NodeKind::global, index, id)) return false;
    add_effect(EffectKind::import_global, Value::make_node(id), Value());
    return push(Value::make_node(id));
  }

  void add_effect(EffectKind kind, Value target, Value argument) {
    graph().effects().push_back(Effect{kind, current_opcode_, current_offset_, target, argument});
  }

  bool push_call(Value callee, Value args, Value kwargs) {
    NodeId id;
    if (!new_node(NodeKind::call, graph().add_call(CallRecord{callee, args, kwargs, current_opcode_, current_offset_}), id))
      return false;
    add_effect(EffectKind::call, Value::make_node(id), args);
    return push(Value::make_node(id));
  }

  bool is_node_kind(Value value, NodeKind kind) const {
    return value.is_node() && program_.graph.node(value.node).kind == kind;
  }

  // APPEND/SETITEM/ADDITEMS: a plain container takes the items; anything else has a method called on it.
  bool mutate(std::size_t target_index, std::size_t from, NodeKind plain_kind) {
    Value target = stack_[target_index];
    if (is_node_kind(target, plain_kind)) {
      if (!append_children(target.node, from, stack_.size())) return false;
    } else if (options_.detail == GraphDetail::full) {
      // inspect shows every item handed to the method: keep them as a tuple.
      NodeId items;
      if (!new_node(NodeKind::tuple, new_container(NodeKind::tuple), items)) return false;
      if (!append_children(items, from, stack_.size())) return false;
      add_effect(EffectKind::mutate, target, Value::make_node(items));
    } else {
      // Items that hold an object are kept as a tuple of all of them, keys included (SETITEMS into an
      // OrderedDict used as BUILD state or a hook table is judged pair by pair); scalars alone are not kept.
      bool objects = false;
      for (std::size_t i = from; i < stack_.size(); ++i) objects = objects || stack_[i].is_node();
      if (!objects) {
        add_effect(EffectKind::mutate, target, from < stack_.size() ? stack_[from] : Value());
      } else {
        NodeId items;
        if (!new_node(NodeKind::tuple, new_container(NodeKind::tuple), items)) return false;
        if (!append_children(items, from, stack_.size())) return false;
        add_effect(EffectKind::mutate, target, Value::make_node(items));
      }
    }
    stack_.resize(from);
    return true;
  }

  void note_discard(Value value) {
    if (value.is_node() && program_.graph.node(value.node).kind == NodeKind::call)
      add_effect(EffectKind::discard, value, Value());
    if (!value.is_node() && value.kind != ValueKind::unset) {
      if (program_.popped_constants++ == 0) program_.first_popped_constant_offset = current_offset_;
    }
  }

  // `value` was the only object on the stack and was just thrown away.
  void note_dropped_root(Value value) {
    if (program_.dropped_roots++ == 0) program_.first_dropped_root_offset = current_offset_;
    if (program_.dropped_root_values.size() < max_dropped_roots_kept) program_.dropped_root_values.push_back(value);
  }

  // At STOP: is the result a call that takes an object the pickle had already finished and dropped?
  void check_call_on_dropped_root(Value root) {
    if (program_.dropped_root_values.empty() || !is_node_kind(root, NodeKind::call)) return;
    const CallRecord& call = graph().call(graph().node(root.node).index);
    if (!is_node_kind(call.args, NodeKind::tuple)) return;
    for (Value argument : graph().children(graph().node(call.args.node).index)) {
      if (!argument.is_node()) continue;
      for (Value dropped : program_.dropped_root_values) {
        if (dropped.is_node() && dropped.node == argument.node) {
          program_.call_on_dropped_root_offset = call.offset;
          return;
        }
      }
    }
  }

  [[gnu::always_inline]] bool memo_put(std::uint64_t key) {
    if (stack_.size() <= fence()) [[unlikely]] return underflow();
    // The common case by far: the next key in order (MEMOIZE, or BINPUT as real picklers number them).
    if (key == memo_dense_.size() && memo_entries_ < limits_.max_memo_entries) [[likely]] {
      memo_dense_.push_back(stack_.back());
      ++memo_entries_;
      return true;
    }
    return memo_put_slow(key);
  }
  [[gnu::noinline]] bool memo_put_slow(std::uint64_t key) {
    Value value = stack_.back();
    Value* slot = nullptr;
    // Dense only while keys stay near the number of entries (as real picklers number them). Bounding by the
    // array's own size would let keys that double each time grow it geometrically: 30 PUTs, 64 GB.
    if (key < memo_dense_.size() || key < 2 * memo_entries_ + 4096) {
      if (key >= memo_dense_.size()) memo_dense_.resize(key + 1, unset_);
      slot = &memo_dense_[key];
      if (slot->kind != ValueKind::unset) {
        note_overwrite();
      } else {
        ++memo_entries_;
      }
    } else {
      auto [it, inserted] = memo_sparse_.try_emplace(key);
      slot = &it->second;
      if (inserted) ++memo_entries_; else note_overwrite();
    }
    if (memo_entries_ > limits_.max_memo_entries)
      return fail_limit("max_memo_entries", "more than " + std::to_string(limits_.max_memo_entries) + " memo entries");
    *slot = value;
    return true;
  }
  void note_overwrite() {
    if (program_.memo_overwrites++ == 0) program_.first_memo_overwrite_offset = current_offset_;
  }
  [[gnu::always_inline]] bool memo_get(std::uint64_t key) {
    if (key < memo_dense_.size() && memo_dense_[key].kind != ValueKind::unset) [[likely]] return push(memo_dense_[key]);
    return memo_get_slow(key);
  }
  [[gnu::noinline]] bool memo_get_slow(std::uint64_t key) {
    if (auto it = memo_sparse_.find(key); it != memo_sparse_.end()) return push(it->second);
    return fail_at("memo value not found at index " + std::to_string(key));
  }

  bool push_mark() {
    if (marks_.size() >= limits_.max_marks) [[unlikely]]
      return fail_limit("max_marks", "more than " + std::to_string(limits_.max_marks) + " open MARKs");
    marks_.push_back(stack_.size());
    return true;
  }
  bool push_small_tuple(Opcode opcode) {  // TUPLE1, TUPLE2, TUPLE3
    const std::size_t count = static_cast<std::size_t>(opcode) - static_cast<std::size_t>(Opcode::TUPLE1) + 1;
    if (stack_.size() < count || stack_.size() - count < fence()) return underflow();
    return push_container(NodeKind::tuple, stack_.size() - count);
  }
  bool append() {
    if (stack_.size() < 2 || stack_.size() - 1 <= fence()) return underflow();
    return mutate(stack_.size() - 2, stack_.size() - 1, NodeKind::list);
  }
  bool setitem() {
    if (stack_.size() < 3 || stack_.size() - 2 <= fence()) return underflow();
    return mutate(stack_.size() - 3, stack_.size() - 2, NodeKind::dict);
  }
  // APPENDS (list), SETITEMS (dict), ADDITEMS (set): the items since the last MARK go into the object below it.
  bool mutate_marked(NodeKind plain_kind) {
    std::size_t mark = 0;
    if (!pop_mark(mark)) return false;
    if (mark > stack_.size() || mark <= fence()) return underflow();
    if (mark == stack_.size()) return true;
    if (plain_kind == NodeKind::dict && (stack_.size() - mark) % 2 != 0) return fail_at("odd number of items for SETITEMS");
    return mutate(mark - 1, mark, plain_kind);
  }

  enum class Fast { done, failed, not_taken };

  // The opcodes that make up most of a data pickle, dispatched once, straight from the bytes, into the same
  // helpers execute() uses: the general path decodes into an Instruction and dispatches a second time, which
  // was a third of a scan of an opcode-dense pickle. Anything else, and anything near the end of the input or
  // not well-formed, takes the general path, which reports it exactly.
  [[gnu::always_inline]] Fast execute_fast() {
    const std::span<const std::uint8_t> input = decoder_.input();
    const std::uint64_t at = decoder_.position();
    constexpr std::uint64_t longest_fixed_argument = 9;  // BINFLOAT
    if (at >= input.size() || input.size() - at <= longest_fixed_argument) return Fast::not_taken;
    // Under the file and python readings an instruction near a frame's end is read differently: decode it.
    constexpr std::uint64_t longest_fast_instruction = 2 + 255;
    if (options_.reading != Reading::memory && !decoder_.contiguous(longest_fast_instruction)) return Fast::not_taken;
    const std::uint8_t* p = input.data() + at;
    const auto opcode = static_cast<Opcode>(p[0]);
    std::uint64_t width = 1;
    bool ok = false;
    current_offset_ = at;
    current_opcode_ = opcode;
    switch (opcode) {
      case Opcode::MEMOIZE: ok = memo_put(memo_entries_); break;
      case Opcode::BINPUT: width = 2; ok = memo_put(p[1]); break;
      case Opcode::LONG_BINPUT: width = 5; ok = memo_put(load_le(p + 1, 4)); break;
      case Opcode::BINGET: width = 2; ok = memo_get(p[1]); break;
      case Opcode::LONG_BINGET: width = 5; ok = memo_get(load_le(p + 1, 4)); break;
      case Opcode::BININT1: width = 2; ok = push(Value::make_int(p[1])); break;
      case Opcode::BININT2: width = 3; ok = push(Value::make_int(static_cast<std::int64_t>(load_le(p + 1, 2)))); break;
      case Opcode::BININT:
        width = 5;
        ok = push(Value::make_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(load_le(p + 1, 4)))));
        break;
      case Opcode::BINFLOAT: width = 9; ok = push(Value::make_real(load_be_double(p + 1))); break;
      case Opcode::SHORT_BINUNICODE: case Opcode::SHORT_BINBYTES: {
        const std::uint64_t length = p[1];
        if (input.size() - at < 2 + length) return Fast::not_taken;
        const std::string_view text(reinterpret_cast<const char*>(p + 2), length);
        const bool unicode = opcode == Opcode::SHORT_BINUNICODE;
        if (unicode && !is_valid_utf8(text, true)) return Fast::not_taken;
        width = 2 + length;
        ok = push(graph().text_value(unicode ? ValueKind::text : ValueKind::bytes, text, false));
        break;
      }
      case Opcode::MARK: ok = push_mark(); break;
      case Opcode::NONE: ok = push(Value::make_none()); break;
      case Opcode::NEWTRUE: ok = push(Value::make_bool(true)); break;
      case Opcode::NEWFALSE: ok = push(Value::make_bool(false)); break;
      case Opcode::EMPTY_TUPLE: ok = push_container(NodeKind::tuple, stack_.size()); break;
      case Opcode::EMPTY_LIST: ok = push_container(NodeKind::list, stack_.size()); break;
      case Opcode::EMPTY_DICT: ok = push_container(NodeKind::dict, stack_.size()); break;
      case Opcode::TUPLE1: case Opcode::TUPLE2: case Opcode::TUPLE3: ok = push_small_tuple(opcode); break;
      case Opcode::APPEND: ok = append(); break;
      case Opcode::APPENDS: ok = mutate_marked(NodeKind::list); break;
      case Opcode::SETITEM: ok = setitem(); break;
      case Opcode::SETITEMS: ok = mutate_marked(NodeKind::dict); break;
      default: return Fast::not_taken;
    }
    decoder_.advance(width);
    ++program_.opcode_count;
    return ok ? Fast::done : Fast::failed;
  }

  [[gnu::always_inline]] bool execute(const Instruction& in) {
    current_offset_ = in.offset;
    current_opcode_ = in.opcode;
    Value a, b, c;
    std::size_t mark = 0;
    switch (in.opcode) {
      case Opcode::PROTO:
        if (in.integer.value > highest_protocol) return fail_at("unsupported pickle protocol: " + std::to_string(in.integer.value));
        program_.protocol = static_cast<int>(in.integer.value);
        return true;
      case Opcode::FRAME:
        return true;  // frames are transparent to _pickle.c once the decoder has checked their length
      case Opcode::STOP:
        if (!pop(a)) return false;
        program_.root = a;
        program_.stopped = true;
        check_call_on_dropped_root(a);
        program_.leftover_items = stack_.size();
        for (std::size_t i = 0; i < stack_.size() && i < 8; ++i) program_.leftover_values.push_back(stack_[i]);
        return true;
      case Opcode::MARK:
        return push_mark();
      case Opcode::POP:
        // _pickle.c: a MARK sitting on top of the stack is popped instead of an object.
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();
          return true;
        }
        if (!pop(a)) return false;
        note_discard(a);
        if (stack_.empty() && marks_.empty()) note_dropped_root(a);
        return true;
      case Opcode::POP_MARK:
        if (!pop_mark(mark)) return false;
        for (std::size_t i = mark; i < stack_.size(); ++i) note_discard(stack_[i]);
        if (mark == 0 && !stack_.empty() && marks_.empty()) note_dropped_root(stack_[0]);
        stack_.resize(mark);
        return true;
      case Opcode::DUP:
        if (stack_.size() <= fence()) return underflow();
        return push(stack_.back());
      case Opcode::NONE: return push(Value::make_none());
      case Opcode::NEWTRUE: return push(Value::make_bool(true));
      case Opcode::NEWFALSE: return push(Value::make_bool(false));
      case Opcode::INT:
        if (in.integer.is_bool) return push(Value::make_bool(in.integer.value != 0));
        [[fallthrough]];
      case Opcode::BININT: case Opcode::BININT1: case Opcode::BININT2: case Opcode::LONG:
      case Opcode::LONG1: case Opcode::LONG4:
        return push(in.integer.fits ? Value::make_int(in.integer.value) : Value::make_big_int());
      case Opcode::FLOAT: case Opcode::BINFLOAT:
        return push(Value::make_real(in.real));
      case Opcode::STRING: case Opcode::BINSTRING: case Opcode::SHORT_BINSTRING:
      case Opcode::UNICODE: case Opcode::BINUNICODE: case Opcode::SHORT_BINUNICODE: case Opcode::BINUNICODE8:
        return push_text(in, NodeKind::text);
      case Opcode::BINBYTES: case Opcode::SHORT_BINBYTES: case Opcode::BINBYTES8:
        return push_text(in, NodeKind::bytes);
      case Opcode::BYTEARRAY8:
        return push_text(in, NodeKind::bytearray);
      case Opcode::EMPTY_TUPLE: return push_container(NodeKind::tuple, stack_.size());
      case Opcode::EMPTY_LIST: return push_container(NodeKind::list, stack_.size());
      case Opcode::EMPTY_DICT: return push_container(NodeKind::dict, stack_.size());
      case Opcode::EMPTY_SET: return push_container(NodeKind::set, stack_.size());
      case Opcode::TUPLE1: case Opcode::TUPLE2: case Opcode::TUPLE3:
        return push_small_tuple(in.opcode);
      case Opcode::TUPLE:
        return pop_mark(mark) && push_container(NodeKind::tuple, mark);
      case Opcode::LIST:
        return pop_mark(mark) && push_container(NodeKind::list, mark);
      case Opcode::FROZENSET:
        return pop_mark(mark) && push_container(NodeKind::frozenset, mark);
      case Opcode::DICT:
        if (!pop_mark(mark)) return false;
        if ((stack_.size() - mark) % 2 != 0) return fail_at("odd number of items for DICT");
        return push_container(NodeKind::dict, mark);
      case Opcode::APPEND: return append();
      case Opcode::APPENDS: return mutate_marked(NodeKind::list);
      case Opcode::SETITEM: return setitem();
      case Opcode::SETITEMS: return mutate_marked(NodeKind::dict);
      case Opcode::ADDITEMS: return mutate_marked(NodeKind::set);
      case Opcode::PUT: case Opcode::BINPUT: case Opcode::LONG_BINPUT:
        return memo_put(static_cast<std::uint64_t>(in.integer.value));
      case Opcode::MEMOIZE:
        return memo_put(memo_entries_);
      case Opcode::GET: case Opcode::BINGET: case Opcode::LONG_BINGET:
        return memo_get(static_cast<std::uint64_t>(in.integer.value));
      case Opcode::GLOBAL:
        return push_global(in.text, in.name);
      case Opcode::STACK_GLOBAL: {
        if (!pop(b) || !pop(a)) return false;  // name, then module
        const auto module = graph().is_str(a) ? graph().text_of(a) : std::nullopt;
        const auto name = graph().is_str(b) ? graph().text_of(b) : std::nullopt;
        if (!module || !name) {
          // Operands computed at load time (a call returning a str) resolve to a name we cannot know;
          // constants of another type make CPython raise.
          bool dynamic = (a.is_node() && graph().node(a.node).kind == NodeKind::call) ||
                         (b.is_node() && graph().node(b.node).kind == NodeKind::call);
          if (!dynamic) return fail_at("STACK_GLOBAL requires str");
          return push_global("<computed at load time>", "<computed at load time>");
        }
        return push_global(*module, *name);
      }
      case Opcode::INST: {
        if (options_.reading == Reading::python && marks_.empty()) {
          // pickle.py's load_inst calls find_class before it pops the mark: the module is imported, then the
          // load fails.
          if (!push_global(in.text, in.name)) return false;
          stack_.pop_back();
        }
        if (marks_.empty()) decoder_.note_python_may_differ();
        if (!pop_mark(mark)) return false;
        if (!push_global(in.text, in.name)) return false;
        // The class was pushed for bookkeeping; take it back and call it with the marked items.
        c = stack_.back();
        stack_.pop_back();
        std::size_t args_start = mark;
        NodeId args_node;
        if (!new_node(NodeKind::tuple, new_container(NodeKind::tuple), args_node)) return false;
        if (!append_children(args_node, args_start, stack_.size())) return false;
        stack_.resize(args_start);
        return push_call(c, Value::make_node(args_node), Value());
      }
      case Opcode::OBJ: {
        if (!pop_mark(mark)) return false;
        if (stack_.size() < mark + 1) return underflow();
        c = stack_[mark];
        NodeId args_node;
        if (!new_node(NodeKind::tuple, new_container(NodeKind::tuple), args_node)) return false;
        if (!append_children(args_node, mark + 1, stack_.size())) return false;
        stack_.resize(mark);
        return push_call(c, Value::make_node(args_node), Value());
      }
      case Opcode::REDUCE:
        if (!pop(b) || !pop(a)) return false;
        return push_call(a, b, Value());
      case Opcode::NEWOBJ:
        if (!pop(b) || !pop(a)) return false;
        return push_call(a, b, Value());
      case Opcode::NEWOBJ_EX:
        if (!pop(c) || !pop(b) || !pop(a)) return false;
        return push_call(a, b, c);
      case Opcode::BUILD:
        if (stack_.size() < 2 || stack_.size() - 2 < fence()) return underflow();
        b = stack_.back();
        stack_.pop_back();
        a = stack_.back();
        add_effect(EffectKind::build, a, b);
        if (options_.joblib_arrays && is_joblib_wrapper(a)) return skip_joblib_array(a, b);
        return true;
      case Opcode::PERSID:
        a = graph().text_value(ValueKind::text, in.text, false);
        [[fallthrough]];
      case Opcode::BINPERSID: {
        if (options_.persistent_load_fails)
          return fail_at("a persistent id was met, and this loader has no persistent_load function");
        if (in.opcode == Opcode::BINPERSID && !pop(a)) return false;
        NodeId id;
        if (!new_node(NodeKind::persistent, graph().add_value(a), id)) return false;
        add_effect(EffectKind::persistent_load, Value::make_node(id), a);
        return push(Value::make_node(id));
      }
      case Opcode::EXT1: case Opcode::EXT2: case Opcode::EXT4: {
        if (in.integer.value <= 0) return fail_at("EXT specifies code <= 0");
        NodeId id;
        if (!new_node(NodeKind::extension, static_cast<std::uint32_t>(in.integer.value), id)) return false;
        add_effect(EffectKind::extension, Value::make_node(id), Value::make_int(in.integer.value));
        return push(Value::make_node(id));
      }
      case Opcode::NEXT_BUFFER:
        return push_node(NodeKind::buffer);
      case Opcode::READONLY_BUFFER: {
        if (stack_.size() <= fence()) return underflow();
        NodeId id;
        if (!new_node(NodeKind::readonly, graph().add_value(stack_.back()), id)) return false;
        stack_.back() = Value::make_node(id);
        return true;
      }
    }
    return fail_at("unhandled opcode");
  }

  bool is_joblib_wrapper(Value target) const {
    if (!is_node_kind(target, NodeKind::call)) return false;
    const GlobalRef* callee = program_.graph.as_global(program_.graph.call(program_.graph.node(target.node).index).callee);
    return callee != nullptr && callee->module == "joblib.numpy_pickle" && callee->name == "NumpyArrayWrapper";
  }

  // After a NumpyArrayWrapper BUILD, joblib reads: an object array's own pickle, or [padding length byte p,
  // p x 0xFF] (when the wrapper has numpy_array_alignment_bytes) and then count * itemsize raw bytes.
  bool skip_joblib_array(Value wrapper, Value state) {
    auto layout = joblib_array_layout(program_.graph, state);
    if (!layout) return fail_at("joblib array wrapper state is not one joblib writes: " + layout.error().message);
    if (layout.value().has_object) {
      // joblib reads an object array's own pickle from the file, with a fresh pickle.py unpickler.
      MachineOptions nested_options{options_.detail, false, memory_in_use(), options_.release_consumed_input};
      nested_options.reading = options_.reading;
      PickleProgram nested = run_pickle(decoder_.input(), decoder_.raw_position(), limits_, budget_, nested_options);
      const bool stopped = nested.stopped;
      const std::uint64_t end = nested.end;
      program_.nested.push_back(std::move(nested));
      if (!stopped) return fail_at("the object array's pickle cannot be read");
      decoder_.set_raw_position(end);
      return true;
    }
    if (layout.value().aligned) {
      // joblib reads one length byte and skips that many bytes, whatever they hold; it writes 1-16 bytes of 0xFF.
      const auto input = decoder_.input();
      const std::uint64_t at = decoder_.raw_position();
      if (at >= input.size()) return fail_at("joblib array padding byte missing");
      const std::uint64_t padding = input[at];
      if (!decoder_.skip_raw(1 + padding)) return fail_at("joblib array padding runs past the end");
      bool as_written = padding >= 1 && padding <= 16;
      for (std::uint64_t i = 1; i <= padding && as_written; ++i) as_written = input[at + i] == 0xFF;
      if (!as_written && program_.odd_joblib_padding++ == 0) program_.first_odd_joblib_padding_offset = at;
    }
    const std::uint64_t data_at = decoder_.raw_position();
    if (!decoder_.skip_raw(layout.value().bytes))
      return fail_at("joblib array data (" + std::to_string(layout.value().bytes) + " bytes) runs past the end");
    program_.joblib_arrays.push_back({wrapper.node, data_at, layout.value().bytes});
    return true;
  }

  Decoder decoder_;
  const Limits& limits_;
  const Budget& budget_;
  MachineOptions options_;
  PickleProgram program_;
  FlatArray<Value> stack_;
  std::vector<std::size_t> marks_;
  FlatArray<Value> memo_dense_;  // small keys, as real picklers write them; free slots hold `unset_`
  const Value unset_ = Value::make_unset();
  std::unordered_map<std::uint64_t, Value> memo_sparse_;
  // Imported names, interned (see push_global): by where their characters are, then by what they say.
  struct GlobalIdentity {
    const char* module;
    const char* name;
    std::size_t module_length;
    std::size_t name_length;
    bool renamed;
    bool operator==(const GlobalIdentity&) const = default;
  };
  struct GlobalIdentityHash {
    // splitmix64's finaliser over each field: pointers into one input differ only in low bits, which a plain
    // multiply-and-xor leaves clustered in the table's buckets.
    static std::uint64_t mix(std::uint64_t x) {
      x += 0x9e3779b97f4a7c15ull;
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
      return x ^ (x >> 31);
    }
    std::size_t operator()(const GlobalIdentity& key) const {
      std::uint64_t hash = mix(reinterpret_cast<std::uintptr_t>(key.module));
      for (std::uint64_t part : {static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key.name)),
                                 static_cast<std::uint64_t>(key.module_length),
                                 static_cast<std::uint64_t>(key.name_length), static_cast<std::uint64_t>(key.renamed)})
        hash = mix(hash ^ part);
      return static_cast<std::size_t>(hash);
    }
  };
  std::unordered_map<GlobalIdentity, std::uint32_t, GlobalIdentityHash> globals_by_identity_;
  std::unordered_map<std::string, std::uint32_t> globals_by_content_;
  std::uint64_t intern_bytes_ = 0;
  std::uint64_t memo_entries_ = 0;
  std::uint64_t container_items_ = 0;
  std::uint64_t current_offset_ = 0;
  Opcode current_opcode_ = Opcode::STOP;
  // This machine's input pages before this offset were released (release_consumed_input); it reads from here.
  std::uint64_t released_up_to_;
};

}  // namespace

PickleProgram run_pickle(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
                         const Budget& budget, MachineOptions options) {
  return Machine(input, start, limits, budget, options).run();
}

}  // namespace picklewall::detail
