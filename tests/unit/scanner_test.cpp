#include "picklewall/scan.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

using namespace picklewall;
using namespace std::string_literals;

namespace {
FileReport scan(const std::string& bytes) {
  auto scanner = Scanner::create({});
  EXPECT_TRUE(scanner.ok());
  return scanner.value().scan_bytes(test::bytes_of(bytes), "test");
}
bool has_rule(const FileReport& report, const std::string& rule) {
  for (const auto& f : report.findings)
    if (f.rule == rule) return true;
  return false;
}
}  // namespace

TEST(Scanner, PlainDataIsSafe) {
  auto report = scan("\x80\x02}q\x00(X\x01\x00\x00\x00" "aK\x01u."s);
  EXPECT_EQ(report.verdict, Verdict::safe);
  EXPECT_EQ(report.format, "pickle");
}

TEST(Scanner, CodeExecutionIsMalicious) {
  auto report = scan("cbuiltins\nexec\n(S'print(1)'\ntR.");
  EXPECT_EQ(report.verdict, Verdict::malicious);
  EXPECT_TRUE(has_rule(report, "global.dangerous"));
  EXPECT_EQ(report.globals, std::vector<std::string>{"builtins.exec"});
}

TEST(Scanner, BrokenTailAfterPayloadIsStillMalicious) {
  auto report = scan("\x80\x02" "cos\nsystem\n(S'id'\ntR\xff\xff"s);
  EXPECT_EQ(report.verdict, Verdict::malicious);
  EXPECT_TRUE(has_rule(report, "pickle.malformed"));
}

TEST(Scanner, TruncatedPlainDataIsSuspiciousNeverSafe) {
  auto report = scan("\x80\x02}q\x00(X\x01\x00\x00\x00" "aK\x01"s);
  EXPECT_EQ(report.verdict, Verdict::suspicious);
}

TEST(Scanner, TrailingBytesAndExtraStackItems) {
  EXPECT_TRUE(has_rule(scan("\x80\x02K\x01.\x00\x01\x02"s), "structure.trailing-bytes"));
  EXPECT_TRUE(has_rule(scan("\x80\x02K\x01K\x02."s), "structure.extra-stack-items"));
}

// "safe" means analysed as a model and shown to be data: a text file is said to be no model at all.
TEST(Scanner, TextIsNotAModelRatherThanSafe) {
  auto report = scan("hello world, this is a readme\n");
  EXPECT_EQ(report.format, "unknown");
  EXPECT_EQ(report.verdict, Verdict::not_a_model);
}

TEST(Scanner, EmptyFileIsNotAModel) {
  auto report = scan("");
  EXPECT_EQ(report.format, "empty");
  EXPECT_EQ(report.verdict, Verdict::not_a_model);
}

TEST(Scanner, MissingFileIsAnError) {
  auto scanner = Scanner::create({});
  auto report = scanner.value().scan_file("/nonexistent/file.pt");
  EXPECT_EQ(report.verdict, Verdict::error);
}
