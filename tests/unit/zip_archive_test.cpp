#include "container/zip_archive.hpp"

#include <zlib.h>

#include <gtest/gtest.h>

#include "test_support.hpp"

using namespace picklewall;
using namespace picklewall::detail;

namespace {

std::string u16(std::uint16_t v) { return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }

struct Member {
  std::string name;
  std::string data;
  std::string local_name;  // empty: same as name
  std::uint16_t flags = 0;
  bool bad_crc = false;
};

// A stored-entries zip written byte by byte, so tests can plant exactly one anomaly.
std::string make_zip(const std::vector<Member>& members, const std::string& trailer = "") {
  std::string body, directory;
  for (const Member& m : members) {
    const std::string local = m.local_name.empty() ? m.name : m.local_name;
    std::uint32_t crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), m.data.size()));
    if (m.bad_crc) crc ^= 0xFFFFFFFFu;
    const auto offset = static_cast<std::uint32_t>(body.size());
    body += "PK\x03\x04" + u16(20) + u16(m.flags) + u16(0) + u16(0) + u16(0) + test::u32(crc) +
            test::u32(m.data.size()) + test::u32(m.data.size()) + u16(local.size()) + u16(0) + local + m.data;
    directory += "PK\x01\x02" + u16(20) + u16(20) + u16(m.flags) + u16(0) + u16(0) + u16(0) + test::u32(crc) +
                 test::u32(m.data.size()) + test::u32(m.data.size()) + u16(m.name.size()) + u16(0) + u16(0) +
                 u16(0) + u16(0) + test::u32(0) + test::u32(offset) + m.name;
  }
  std::string end = "PK\x05\x06" + u16(0) + u16(0) + u16(members.size()) + u16(members.size()) +
                    test::u32(directory.size()) + test::u32(body.size()) + u16(0);
  return body + directory + end + trailer;
}

std::vector<std::string> rules(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.rule);
  return out;
}

}  // namespace

TEST(Zip, ReadsStoredMembersByTheCentralDirectory) {
  const std::string zip = make_zip({{"archive/data.pkl", "K\x01."}, {"archive/version", "3\n"}});
  std::vector<Finding> findings;
  auto archive = read_zip(test::bytes_of(zip), Limits{}, test::no_time_limit(), "", findings);
  ASSERT_TRUE(archive.ok()) << archive.error().message;
  ASSERT_EQ(archive.value().entries.size(), 2u);
  std::vector<std::uint8_t> storage;
  auto data = read_zip_entry(test::bytes_of(zip), archive.value().entries[0], Limits{}, test::no_time_limit(), storage);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::string(data.value().begin(), data.value().end()), "K\x01.");
  EXPECT_TRUE(zip_crc_matches(archive.value().entries[0], data.value()));
  EXPECT_TRUE(findings.empty());
}

TEST(Zip, ReportsEveryAnomaly) {
  const std::string zip = make_zip({{"a/data.pkl", "N.", "a/other.pkl"},
                                    {"a/x", "1", "", 0x0001},
                                    {"a/y", "2", "", 0x0020},
                                    {"a/x", "3"},
                                    {"a/z", "4", "", 0, true}},
                                   "TRAILING");
  std::vector<Finding> findings;
  auto archive = read_zip(test::bytes_of(zip), Limits{}, test::no_time_limit(), "", findings);
  ASSERT_TRUE(archive.ok());
  auto found = rules(findings);
  for (const char* rule : {"zip.name-mismatch", "zip.encrypted-flag", "zip.unusual-flags", "zip.duplicate-name",
                           "zip.data-after-end"})
    EXPECT_NE(std::find(found.begin(), found.end(), rule), found.end()) << rule;
  std::vector<std::uint8_t> storage;
  auto data = read_zip_entry(test::bytes_of(zip), archive.value().entries[4], Limits{}, test::no_time_limit(), storage);
  ASSERT_TRUE(data.ok());
  EXPECT_FALSE(zip_crc_matches(archive.value().entries[4], data.value()));
}

TEST(Zip, TruncatedAndGarbageAreErrorsNotCrashes) {
  const std::string zip = make_zip({{"a/data.pkl", "N."}});
  for (std::size_t cut = 0; cut < zip.size(); ++cut) {
    std::vector<Finding> findings;
    auto archive = read_zip(test::bytes_of(zip.substr(0, cut)), Limits{}, test::no_time_limit(), "", findings);
    if (archive.ok())
      for (const auto& entry : archive.value().entries) {
        std::vector<std::uint8_t> storage;
        (void)read_zip_entry(test::bytes_of(zip.substr(0, cut)), entry, Limits{}, test::no_time_limit(), storage);
      }
  }
  std::vector<Finding> findings;
  EXPECT_FALSE(read_zip(test::bytes_of("PK\x05\x06garbage"), Limits{}, test::no_time_limit(), "", findings).ok());
}

TEST(Zip, DeflateBombStopsAtTheLimit) {
  std::string zeros(64 << 20, '\0');
  uLongf size = compressBound(zeros.size());
  std::string compressed(size, '\0');
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  stream.next_in = reinterpret_cast<Bytef*>(zeros.data());
  stream.avail_in = zeros.size();
  stream.next_out = reinterpret_cast<Bytef*>(compressed.data());
  stream.avail_out = size;
  deflate(&stream, Z_FINISH);
  compressed.resize(stream.total_out);
  deflateEnd(&stream);

  ZipEntry entry;
  entry.method = 8;
  entry.readable = true;
  entry.data_offset = 0;
  entry.compressed_size = compressed.size();
  entry.uncompressed_size = 1;  // lies
  Limits limits;
  limits.max_decompressed_bytes = 1 << 20;
  std::vector<std::uint8_t> storage;
  auto data = read_zip_entry(test::bytes_of(compressed), entry, limits, test::no_time_limit(), storage);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().code, ErrorCode::limit_exceeded);
  EXPECT_LE(storage.capacity(), static_cast<std::size_t>(2 << 20));
}
