#include "pickle/symbolic_machine.hpp"

#include <type_traits>

#include <gtest/gtest.h>

#include "test_support.hpp"

using namespace picklewall;
using namespace picklewall::detail;
using namespace std::string_literals;
using test::globals_of;
using test::run;

TEST(Machine, ReducesCallsAndRecordsEffects) {
  auto program = run("cos\nsystem\n(S'id'\ntR.");
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(globals_of(program), std::vector<std::string>{"os.system"});
  ASSERT_EQ(program.graph.call_count(), 1u);
  const auto& call = program.graph.call(0);
  EXPECT_EQ(call.opcode, Opcode::REDUCE);
  ASSERT_NE(program.graph.as_global(call.callee), nullptr);
}

TEST(Machine, Python2NamesAreRemappedBelowProtocol3Only) {
  EXPECT_EQ(globals_of(run("c__builtin__\neval\n.")), std::vector<std::string>{"builtins.eval"});
  EXPECT_EQ(globals_of(run("\x80\x02" "ccopy_reg\n_reconstructor\n.")),
            std::vector<std::string>{"copyreg._reconstructor"});
  EXPECT_EQ(globals_of(run("\x80\x03" "c__builtin__\neval\n.")), std::vector<std::string>{"__builtin__.eval"});
  // A second PROTO changes the protocol in force for what follows.
  EXPECT_EQ(globals_of(run("\x80\x04\x80\x02" "c__builtin__\nopen\n.")), std::vector<std::string>{"builtins.open"});
}

TEST(Machine, StackGlobalResolvesThroughTheMemo) {
  const std::string pickle = "\x80\x04\x8c\x02osq\x00\x30\x8c\x06systemq\x01\x30h\x00h\x01\x93."s;
  EXPECT_EQ(globals_of(run(pickle)), std::vector<std::string>{"os.system"});
}

TEST(Machine, StackGlobalAcceptsEveryStringOpcode) {
  EXPECT_EQ(globals_of(run("\x80\x04U\x02osS'system'\n\x93."s)), std::vector<std::string>{"os.system"});
  EXPECT_EQ(globals_of(run("\x80\x04Vos\nX\x06\x00\x00\x00system\x93."s)), std::vector<std::string>{"os.system"});
}

TEST(Machine, StackGlobalOnNonStringsFails) {
  auto program = run("\x80\x04K\x01K\x02\x93."s);
  EXPECT_FALSE(program.stopped);
  ASSERT_TRUE(program.failure.has_value());
}

TEST(Machine, StackGlobalOnCallResultsIsAComputedImport) {
  auto program = run("\x80\x04" "cbuiltins\nstr\n(S'os'\ntR\x8c\x06system\x93."s);
  EXPECT_TRUE(program.stopped);
  auto globals = globals_of(program);
  ASSERT_EQ(globals.size(), 2u);
  EXPECT_EQ(globals[1], "<computed at load time>.<computed at load time>");
}

TEST(Machine, DottedNamesAreKeptWhole) {
  EXPECT_EQ(globals_of(run("\x80\x04\x8c\x07pathlib\x8c\x09os.system\x93."s)),
            std::vector<std::string>{"pathlib.os.system"});
}

TEST(Machine, PopRightAfterMarkPopsTheMark) {
  // _pickle.c: POP with a MARK on top removes the mark, so the call result stays and is returned.
  auto program = run("cos\ngetcwd\n)R(0.");
  ASSERT_TRUE(program.stopped);
  ASSERT_TRUE(program.root->is_node());
  EXPECT_EQ(program.graph.node(program.root->node).kind, NodeKind::call);
}

TEST(Machine, ItemsBelowAMarkAreOutOfReach) {
  // REDUCE after MARK cannot pop the callable and arguments under the mark: stack underflow, as in CPython.
  auto program = run("cos\nsystem\n(S'x'\nt(R.");
  EXPECT_FALSE(program.stopped);
  ASSERT_TRUE(program.failure.has_value());
  EXPECT_NE(program.failure->message.find("underflow"), std::string::npos);
}

TEST(Machine, InstAndObjAreCalls) {
  auto inst = run("(S'id'\nios\nsystem\n.");
  ASSERT_TRUE(inst.stopped);
  EXPECT_EQ(inst.graph.call(0).opcode, Opcode::INST);
  auto obj = run("(cos\nsystem\nS'id'\no.");
  ASSERT_TRUE(obj.stopped);
  EXPECT_EQ(obj.graph.call(0).opcode, Opcode::OBJ);
}

TEST(Machine, NewobjExTakesKwargs) {
  auto program = run("\x80\x04" "cbuiltins\nobject\n)}\x92."s);
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(program.graph.call(0).opcode, Opcode::NEWOBJ_EX);
}

TEST(Machine, ExtensionCodesArePushedNotResolved) {
  auto program = run("\x80\x02\x82\xc8)R."s);
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(program.graph.node(program.graph.call(0).callee.node).kind, NodeKind::extension);
  EXPECT_FALSE(run("\x80\x02\x84\x00\x00\x00\x00."s).stopped);  // code <= 0
}

TEST(Machine, LeftoverItemsAndMemoOverwritesAreCounted) {
  auto program = run("K\x01K\x02q\x00q\x00."s);
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(program.leftover_items, 1u);
  EXPECT_EQ(program.memo_overwrites, 1u);
}

TEST(Machine, MemoGetOfUnsetKeyFailsAfterRecordingWhatCameBefore) {
  auto program = run("cos\nsystem\n)R0h\x05.");
  EXPECT_FALSE(program.stopped);
  EXPECT_EQ(globals_of(program), std::vector<std::string>{"os.system"});
  EXPECT_EQ(program.graph.call_count(), 1u);
}

TEST(Machine, MutationOfNonContainersIsAnEffect) {
  auto program = run("cbuiltins\nobject\n)RK\x01K\x02s.");
  ASSERT_TRUE(program.stopped);
  bool mutated = false;
  for (const auto& effect : program.graph.effects()) mutated |= effect.kind == EffectKind::mutate;
  EXPECT_TRUE(mutated);
}

TEST(Machine, DeepNestingHitsTheMarkLimit) {
  Limits limits;
  limits.max_marks = 1000;
  auto program = run(std::string(1'000'000, '('), limits);
  ASSERT_TRUE(program.failure.has_value());
  EXPECT_EQ(program.failure->limit, "max_marks");
}

TEST(Machine, DupBombHitsTheStackLimit) {
  Limits limits;
  limits.max_stack_depth = 10'000;
  auto program = run("]" + std::string(1'000'000, '2') + ".", limits);
  ASSERT_TRUE(program.failure.has_value());
  EXPECT_EQ(program.failure->limit, "max_stack_depth");
}

TEST(Machine, MemoBombHitsTheMemoLimit) {
  Limits limits;
  limits.max_memo_entries = 1000;
  std::string pickle = "N";
  for (std::uint32_t i = 0; i < 5000; ++i) pickle += "r" + test::u32(i * 7919u + 1000000u);
  auto program = run(pickle + ".", limits);
  ASSERT_TRUE(program.failure.has_value());
  EXPECT_EQ(program.failure->limit, "max_memo_entries");
}

TEST(Machine, GeometricMemoKeysDoNotGrowTheDenseMemo) {
  // Regression: keys 4096, 12288, 28672, ... once grew the dense memo to twice its size per PUT.
  std::string pickle = "N";
  std::uint64_t key = 4000;
  for (int i = 0; i < 40 && key < 0xFFFFFFFFull; ++i, key = key * 2 + 4000) pickle += "r" + test::u32(static_cast<std::uint32_t>(key));
  auto program = run(pickle + ".");
  EXPECT_TRUE(program.stopped);
}

TEST(Machine, SparseHugeMemoKeysCostNoMemory) {
  auto program = run("Nr\xff\xff\xff\xffj\xff\xff\xff\xff.");
  EXPECT_TRUE(program.stopped);
}

TEST(Machine, OpcodeBudget) {
  Limits limits;
  limits.max_opcodes = 100;
  auto program = run(std::string(1000, 'N') + ".", limits);
  ASSERT_TRUE(program.failure.has_value());
  EXPECT_EQ(program.failure->limit, "max_opcodes");
}

TEST(Stream, SeveralPicklesAndTrailingBytes) {
  const std::string data = "K\x01.K\x02.garbage";
  auto stream = read_pickle_stream(test::bytes_of(data), 0, Limits{}, detail::Budget(std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(stream.pickles.size(), 2u);
  EXPECT_EQ(stream.trailing_bytes, 7u);
}

// Regression (found by fuzz_scan, fuzz/regressions/scan/pickle_stream_decoded_text_survives_growth.pkl): the
// vector of a stream's programs copied them when it grew, and the copies' string values still pointed into the
// originals' pools of decoded text, freed with them. Programs are move-only now.
static_assert(!std::is_copy_constructible_v<detail::ObjectGraph>);
TEST(Stream, DecodedTextOfEarlyPicklesSurvivesTheStreamGrowing) {
  std::string data;
  for (int i = 0; i < 40; ++i) data += "S'tab\\there " + std::to_string(i) + "'\n.";  // an escape: a decoded copy
  auto stream = read_pickle_stream(test::bytes_of(data), 0, Limits{}, detail::Budget(std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  ASSERT_EQ(stream.pickles.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    const auto& program = stream.pickles[static_cast<std::size_t>(i)];
    ASSERT_TRUE(program.root.has_value());
    EXPECT_EQ(program.graph.text_of(*program.root), "tab\there " + std::to_string(i));
  }
}

TEST(Machine, DroppedRootHandedToACallIsRecorded) {
  // {} PUT 0 POP (the stack is empty again), then f({}) returned: a model built, dropped, and patched.
  auto program = run("}p0\n0cmod\nf\n(g0\ntR."s);
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(program.dropped_roots, 1u);
  EXPECT_TRUE(program.call_on_dropped_root_offset.has_value());
  // Dropped and replaced by something unrelated: recorded, but no call on it.
  auto replaced = run("}0]."s);
  EXPECT_EQ(replaced.dropped_roots, 1u);
  EXPECT_FALSE(replaced.call_on_dropped_root_offset.has_value());
  // Popping above the bottom object never empties the stack.
  EXPECT_EQ(run("]K\x01" "0."s).dropped_roots, 0u);
}

TEST(Machine, PoppedConstantsAreCounted) {
  auto program = run("}I1337\n0."s);
  ASSERT_TRUE(program.stopped);
  EXPECT_EQ(program.popped_constants, 1u);
  EXPECT_EQ(program.first_popped_constant_offset, 7u);
  EXPECT_EQ(run("}]0."s).popped_constants, 0u);  // popping a container is not the marker
}
