// The .npy header reader against what CPython 3.11's ast.literal_eval and numpy 2.x's descr_to_dtype do with
// the same text (each expectation was checked against the real functions when written).
#include <gtest/gtest.h>

#include "container/numpy_dtype.hpp"
#include "container/numpy_npy.hpp"
#include "container/python_literal.hpp"

using namespace picklewall;
using namespace picklewall::detail;

namespace {

std::u32string wide(const std::string& latin1) {
  std::u32string out;
  for (unsigned char c : latin1) out.push_back(c);
  return out;
}

Result<Literal> eval(const std::string& source, bool drop_long_suffix = false) {
  LiteralOptions options;
  options.drop_long_suffix = drop_long_suffix;
  return evaluate_python_literal(wide(source), options);
}

bool refused(const std::string& source) {
  auto value = eval(source);
  return !value && value.error().code == ErrorCode::malformed;
}

// The evaluated value of `source`, which must be a literal (a failed evaluation ends the test with its message).
const LiteralNode& root(const Result<Literal>& value) {
  static const LiteralNode nothing;
  EXPECT_TRUE(value.ok()) << value.error().message;
  return value.ok() ? value.value().node(value.value().root) : nothing;
}

std::string text_of(const LiteralNode& node) {
  std::string out;
  for (char32_t c : node.text) out.push_back(c < 0x80 ? static_cast<char>(c) : '?');
  return out;
}

std::string npy(const std::string& header, int major = 1, int minor = 0) {
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  const std::size_t n = header.size();
  out.push_back(static_cast<char>(n & 0xFF));
  out.push_back(static_cast<char>((n >> 8) & 0xFF));
  if (major != 1) out += std::string(2, '\0');
  return out + header;
}

NpyHeader read(const std::string& header, int major = 1, int minor = 0) {
  static std::vector<std::string> keep;
  keep.push_back(npy(header, major, minor));
  const std::string& bytes = keep.back();
  auto result = read_npy_header({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  EXPECT_TRUE(result.ok());
  return result.ok() ? result.value() : NpyHeader{};
}

// What numpy.load makes of a header with this descr.
enum class Outcome { object, plain, refused };
Outcome outcome_of_descr(const std::string& descr) {
  const NpyHeader header = read("{'descr': " + descr + ", 'fortran_order': False, 'shape': (2,), }");
  if (!header.refusal.empty()) return Outcome::refused;
  return header.has_object_dtype ? Outcome::object : Outcome::plain;
}

}  // namespace

TEST(PythonLiteral, StringsDecodeEscapesAndPrefixesAsPythonDoes) {
  EXPECT_EQ(text_of(root(eval(R"('\x64escr')"))), "descr");
  EXPECT_EQ(text_of(root(eval(R"('\u007c\U0000004f')"))), "|O");
  EXPECT_EQ(text_of(root(eval(R"('\N{latin capital letter o}\N{VERTICAL LINE}')"))), "O|");
  EXPECT_EQ(text_of(root(eval(R"('\117\0')"))), std::string("O") + '\0');
  EXPECT_EQ(text_of(root(eval(R"(r'\x4f')"))), "\\x4f");
  EXPECT_EQ(text_of(root(eval(R"('\q')"))), "\\q");  // unknown escapes keep their backslash
  EXPECT_EQ(text_of(root(eval("'a' \"b\" '''c''' u'd'"))), "abcd");
  EXPECT_EQ(text_of(root(eval("'a\\\nb'"))), "ab");
  EXPECT_EQ(root(eval("b'O'")).kind, LiteralKind::bytes);
  EXPECT_TRUE(refused("b'a' 'b'"));      // bytes and str do not mix
  EXPECT_TRUE(refused("f'O'"));          // a JoinedStr
  EXPECT_TRUE(refused("ur'O'"));
  EXPECT_TRUE(refused(R"('\x4')"));
  EXPECT_TRUE(refused(R"('\U00110000')"));
  EXPECT_TRUE(refused(R"(r'\')"));
  EXPECT_TRUE(refused("'a\nb'"));
  EXPECT_TRUE(refused(R"('\N{LATIN  CAPITAL LETTER O')"));
}

TEST(PythonLiteral, UnknownNamedEscapeIsMarkedInexact) {
  auto value = eval(R"('\N{LATIN CAPITAL LETTER O WITH STROKE}')");
  ASSERT_TRUE(value.ok());
  EXPECT_TRUE(value.value().inexact);
  EXPECT_EQ(root(value).text, std::u32string(1, unresolved_code_point));
}

TEST(PythonLiteral, NumbersFollowPython3Rules) {
  EXPECT_EQ(root(eval("0x_1f")).integer, 31);
  EXPECT_EQ(root(eval("1_000")).integer, 1000);
  EXPECT_EQ(root(eval("-0x8000000000000000")).integer, INT64_MIN);
  EXPECT_TRUE(root(eval("0x8000000000000000")).big);
  EXPECT_EQ(root(eval("-(5)")).integer, -5);
  EXPECT_EQ(root(eval("00")).integer, 0);
  EXPECT_EQ(root(eval("1.5e3")).kind, LiteralKind::floating);
  EXPECT_EQ(root(eval("-1+2j")).kind, LiteralKind::complex_number);
  EXPECT_EQ(root(eval("1+(2j)")).kind, LiteralKind::complex_number);
  EXPECT_TRUE(refused("0777"));
  EXPECT_TRUE(refused("1__0"));
  EXPECT_TRUE(refused("2L"));
  EXPECT_TRUE(refused("--1"));
  EXPECT_TRUE(refused("-True"));
  EXPECT_TRUE(refused("1+2"));
  EXPECT_TRUE(refused("1+2j+3j"));
  EXPECT_TRUE(refused("1 + -2j"));
}

TEST(PythonLiteral, LongSuffixIsDroppedOnlyWhenAsked) {
  auto value = eval("(2L, 3 L, 4\\\nL)", true);
  ASSERT_TRUE(value.ok());
  ASSERT_EQ(root(value).children.size(), 3u);
  EXPECT_EQ(value.value().node(root(value).children[2]).integer, 4);
  EXPECT_TRUE(!eval("(2\nL)", true).ok());  // a newline token sits between: not the pair _filter_header drops
  EXPECT_TRUE(!eval("2Lx", true).ok());
}

TEST(PythonLiteral, ContainersAndLayout) {
  auto dict = eval("{'a': 1, 'a': 2, }");
  ASSERT_TRUE(dict.ok());
  EXPECT_EQ(root(dict).kind, LiteralKind::dict);
  EXPECT_EQ(root(dict).children.size(), 4u);  // both pairs kept in order; the later one wins for readers
  EXPECT_EQ(root(eval("(1,)")).kind, LiteralKind::tuple);
  EXPECT_EQ(root(eval("(1)")).kind, LiteralKind::integer);
  EXPECT_EQ(root(eval("1, 2")).kind, LiteralKind::tuple);
  EXPECT_EQ(root(eval("()")).kind, LiteralKind::tuple);
  EXPECT_EQ(root(eval("{1,}")).kind, LiteralKind::set);
  EXPECT_EQ(root(eval("set()")).kind, LiteralKind::set);
  EXPECT_EQ(root(eval("(set)()")).kind, LiteralKind::set);
  EXPECT_EQ(root(eval("...")).kind, LiteralKind::ellipsis);
  EXPECT_EQ(root(eval("\t 1 # comment\n\n   \n")).integer, 1);
  EXPECT_EQ(root(eval("\f1")).integer, 1);
  EXPECT_EQ(root(eval("\\\n1")).integer, 1);
  EXPECT_EQ(root(eval("1\r\n")).integer, 1);
  EXPECT_TRUE(refused("{[1]: 2}"));    // unhashable key
  EXPECT_TRUE(refused("{(1, [2])}"));
  EXPECT_TRUE(refused("{**{}}"));
  EXPECT_TRUE(refused("[1,,]"));
  EXPECT_TRUE(refused("(,)"));
  EXPECT_TRUE(refused("\n  1"));       // unexpected indent
  EXPECT_TRUE(refused(" \f 1"));
  EXPECT_TRUE(refused("1\n2"));
  EXPECT_TRUE(refused("1\\\n"));
  EXPECT_TRUE(refused("1\x0b"));
  EXPECT_TRUE(refused(std::string("'\0'", 3)));
  EXPECT_TRUE(refused("Ellipsis"));
  EXPECT_TRUE(refused("set"));
  EXPECT_TRUE(refused("set(1)"));
  EXPECT_TRUE(refused("'O'[0]"));
  EXPECT_TRUE(refused(""));
}

TEST(PythonLiteral, NestingStopsWherePythonsTokenizerDoes) {
  EXPECT_TRUE(eval(std::string(200, '(') + "1" + std::string(200, ')')).ok());
  EXPECT_TRUE(refused(std::string(201, '(') + "1" + std::string(201, ')')));
  EXPECT_TRUE(refused(std::string(100000, '[')));  // refused at depth 201, never recursed into
}

TEST(PythonLiteral, NodeBudgetIsALimit) {
  LiteralOptions options;
  options.max_nodes = 3;
  auto value = evaluate_python_literal(U"[1, 2, 3, 4]", options);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().code, ErrorCode::limit_exceeded);
}

TEST(NumpyDescr, ObjectSpellingsNumpyAccepts) {
  for (const char* descr : {"'O'", "'|O'", "'<O'", "'>O'", "'=O'", "'O8'", "'O4'", "'<O008'", "'object'",
                            "'object_'", "'T'", "'|T'", "'f4,O'", "'O,'", "'i4 , |O8'", "'(2,)O'", "'3O'", "'()O'",
                            "' (2,)O'", "'(2,)>4O'", "('O', ())", "('|O', (2, 3))", "('O', [2])", "('O', 0)", "('V', 'O')", "('void', [('a', 'O')])",
                            "('|V0', ('O', (2,)))",
                            "[('a', '<f4'), ('b', '|O')]", "[('a', [('b', [('c', '|O')])])]", "[('a', 'O', (2,))]",
                            "[(('t', 'a'), 'O')]", "['aO']", "[['a', 'O']]", "[('a', 'f4,O')]", "[('', 'O')]",
                            "[('', [('a', 'O')])]", "[('a', 'O'), ('', '|V4')]", "(('O', 2), 3)", "[('a', 'T')]"})
    EXPECT_EQ(outcome_of_descr(descr), Outcome::object) << descr;
}

TEST(NumpyDescr, PlainDtypes) {
  for (const char* descr : {"'<f4'", "'|b1'", "'>i8'", "'<U10'", "'|S3'", "'|V8'", "'<M8[ns]'", "'<m8[10s]'",
                            "'float32'", "'?'", "'<c16'", "[('a', '<f4'), ('b', '>i8', (2, 3))]", "[]", "b''",
                            // An unnamed subarray of objects is padding: descr_to_dtype drops it.
                            "[('', 'O', (2,))]", "[('', ('O', (2,)))]", "[('', 'V8')]"})
    EXPECT_EQ(outcome_of_descr(descr), Outcome::plain) << descr;
}

TEST(NumpyDescr, DescrsNumpyRefuses) {
  for (const char* descr : {"'!O'", "'O16'", "'O0'", "'O1'", "'Object'", "'object0'", "'O '", "' O'", "'o'",
                            "'OO'", "'O[ns]'", "',O'", "'O,,f4'", "'(2)O'", "'O (2,)'", "'<(2,)|O'", "('O', -1)",
                            "('O', True)", "('O',)", "()", "('O', 'i8')", "('O', [('a', 'i8')])",
                            "[('a', 'O'), ('a', 'f4')]", "[(('a', 'a'), 'O')]", "[(1, 'O')]", "[(b'a', 'O')]",
                            "[('a', 'O', (2, -1))]", "[('a', 'O', '2')]", "b'O'", "1", "None", "[1]", "['abcd']",
                            "[('a', 'O', 1, 2)]", "'M8[O]'"})
    EXPECT_EQ(outcome_of_descr(descr), Outcome::refused) << descr;
}

TEST(NumpyDescr, DictAndSetFieldListsErrTowardsObjects) {
  const NpyHeader header = read("{'descr': {'aO': 0, 'bf': 1}, 'fortran_order': False, 'shape': (2,), }");
  EXPECT_TRUE(header.refusal.empty());
  EXPECT_TRUE(header.inexact);
  EXPECT_TRUE(header.has_object_dtype);
}

TEST(NumpyDescr, OldNewPairsErrTowardsObjects) {
  // numpy refuses ('i8', 'O'); the pair form is not followed exactly, so the reading is the worse one.
  const NpyHeader header = read("{'descr': ('<i8', 'O'), 'fortran_order': False, 'shape': (2,), }");
  EXPECT_TRUE(header.refusal.empty());
  EXPECT_TRUE(header.inexact);
  EXPECT_TRUE(header.has_object_dtype);
}

TEST(NpyHeader, KeysValuesAndVersionsAsNumpyChecksThem) {
  const NpyHeader last_wins = read("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '|O'}");
  EXPECT_TRUE(last_wins.refusal.empty());
  EXPECT_TRUE(last_wins.has_object_dtype);
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': False}").refusal.empty());
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}").refusal.empty());
  EXPECT_FALSE(read("{b'descr': '<f4', 'fortran_order': False, 'shape': (2,)}").refusal.empty());
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}").refusal.empty());
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}").refusal.empty());
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}").refusal.empty());
  EXPECT_FALSE(read("[('descr', '<f4')]").refusal.empty());
  EXPECT_FALSE(read("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", 1, 1).refusal.empty());
  // bool is an int to numpy's isinstance check; object arrays ignore negative dimensions.
  EXPECT_TRUE(read("{'descr': '|O', 'fortran_order': True, 'shape': (True, -1)}").refusal.empty());
  EXPECT_FALSE(read("{'descr': '<f4', 'fortran_order': True, 'shape': (-1,)}").refusal.empty());
  // Python 2's long suffix is filtered for 1.0 and 2.0 only.
  EXPECT_TRUE(read("{'descr': '|O', 'fortran_order': False, 'shape': (2L,)}", 2).has_object_dtype);
  EXPECT_FALSE(read("{'descr': '|O', 'fortran_order': False, 'shape': (2L,)}", 3).refusal.empty());
  const NpyHeader plain = read("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
  EXPECT_TRUE(plain.refusal.empty());
  EXPECT_EQ(plain.descr, "<f4");
  EXPECT_TRUE(plain.fortran_order);
  EXPECT_EQ(plain.shape, (std::vector<std::int64_t>{2, 3}));
}

TEST(NpyHeader, Version3IsStrictUtf8AndOthersLatin1) {
  const std::string field = "{'descr': [('\xc3\xa9', '|O')], 'fortran_order': False, 'shape': (2,)}";
  EXPECT_TRUE(read(field, 3).has_object_dtype);
  EXPECT_TRUE(read(field, 1).has_object_dtype);  // latin-1 reads the two bytes as two characters
  EXPECT_FALSE(read("{'descr': [('\xc3', '|O')], 'fortran_order': False, 'shape': (2,)}", 3).refusal.empty());
  EXPECT_FALSE(read("{'descr': [('\xed\xa0\x80', '|O')], 'fortran_order': False, 'shape': (2,)}", 3).refusal.empty());
}

TEST(NpyHeader, LongHeadersAreReadUpToTheLimit) {
  const NpyHeader header = read("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}" + std::string(20000, ' '), 2);
  EXPECT_TRUE(header.beyond_numpy_cap);
  EXPECT_TRUE(header.has_object_dtype);
  Limits limits;
  limits.max_npy_header_bytes = 100;
  const std::string bytes = npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}" + std::string(200, ' '), 2);
  auto limited = read_npy_header({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, limits);
  ASSERT_TRUE(limited.ok());
  EXPECT_TRUE(limited.value().refusal_is_limit);
}
