#include "pickle/value_text.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

using namespace picklewall::detail;

TEST(ValueText, RendersCallsLikePython) {
  auto program = picklewall::test::run("cos\nsystem\n(S'echo hi'\ntR.");
  ASSERT_TRUE(program.root.has_value());
  EXPECT_EQ(value_text(program.graph, *program.root), "os.system('echo hi')");
}

TEST(ValueText, CyclesAndDeepNestingAreBounded) {
  // A list that contains itself, and a chain of 100k nested lists.
  auto cyclic = picklewall::test::run(std::string("]q\x00h\x00" "a.", 7));
  ASSERT_TRUE(cyclic.root.has_value());
  EXPECT_LE(value_text(cyclic.graph, *cyclic.root, 200).size(), 210u);
  std::string deep(100'000, ']');
  deep += std::string(99'999, 'a') + ".";
  picklewall::Limits deep_enough;  // past the default nesting limit: this is about rendering, not the limit
  deep_enough.max_nesting_depth = 200'000;
  auto nested = picklewall::test::run(deep, deep_enough);
  ASSERT_TRUE(nested.stopped);
  EXPECT_LE(value_text(nested.graph, *nested.root, 200).size(), 210u);
}

TEST(ValueText, QuotesHostileText) {
  EXPECT_EQ(quote_text("a'\n\x01", 10), "'a\\'\\n\\x01'");
  EXPECT_EQ(quote_text(std::string(20, 'x'), 5), "'xxxxx...' (20 bytes)");
}
