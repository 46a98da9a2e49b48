// The converter's pure parts: the reference writer's order and header, and shared-storage resolution.
#include <gtest/gtest.h>

#include "convert/dtypes.hpp"
#include "convert/safetensors_writer.hpp"
#include "convert/shared_storage.hpp"

using namespace picklewall::detail;

namespace {

TensorInfo tensor(std::string name, std::string_view dtype, std::vector<std::uint64_t> shape, std::string storage,
                  std::uint64_t offset = 0) {
  TensorInfo out = array_tensor(std::move(name), *dtype_of_safetensors_name(dtype), std::move(shape), false,
                                std::move(storage));
  out.offset = offset;
  return out;
}

std::vector<std::string> names(const std::vector<const TensorInfo*>& ordered) {
  std::vector<std::string> out;
  for (const TensorInfo* t : ordered) out.push_back(t->name);
  return out;
}

}  // namespace

TEST(SafetensorsWriter, OrdersByDtypeDescendingThenName) {
  std::vector<TensorInfo> tensors{tensor("b", "F16", {2}, "0"), tensor("a", "F32", {2}, "1"),
                                  tensor("c", "F32", {1}, "2"), tensor("z", "BOOL", {1}, "3"),
                                  tensor("m", "I64", {1}, "4")};
  EXPECT_EQ(names(writer_order(tensors)), (std::vector<std::string>{"m", "a", "c", "b", "z"}));
}

TEST(SafetensorsWriter, HeaderIsCompactMetadataFirstAndPaddedToEight) {
  std::vector<TensorInfo> tensors{tensor("w", "F32", {2, 3}, "0"), tensor("s", "F16", {}, "1")};
  auto header = safetensors_header(writer_order(tensors), {{"format", "pt"}});
  ASSERT_TRUE(header.ok());
  const std::string expected = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],)"
                               R"("data_offsets":[0,24]},"s":{"dtype":"F16","shape":[],"data_offsets":[24,26]}})";
  ASSERT_EQ(header.value().substr(0, expected.size()), expected);
  EXPECT_EQ(header.value().size() % 8, 0u);
  EXPECT_EQ(header.value().find_first_not_of(' ', expected.size()), std::string::npos);
}

TEST(SafetensorsWriter, DuplicateNamesAreRefused) {
  std::vector<TensorInfo> tensors{tensor("w", "F32", {1}, "0"), tensor("w", "F32", {1}, "1")};
  EXPECT_FALSE(safetensors_header(writer_order(tensors), {}).ok());
}

TEST(SharedStorage, CompleteTensorIsKeptAndOverlappingViewsBecomeAliases) {
  std::map<std::string, StorageInfo> storages{{"0", {"0", 48, *dtype_of_safetensors_name("F32"), false, false}}};
  std::vector<TensorInfo> tensors{tensor("z.full", "F32", {12}, "0"), tensor("a.part", "F32", {4}, "0", 2),
                                  tensor("b.full", "F32", {12}, "0")};
  auto result = remove_shared_aliases(tensors, storages);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.value().kept.size(), 1u);
  EXPECT_EQ(result.value().kept[0].name, "b.full");  // the first complete name; a.part is not complete
  EXPECT_EQ(result.value().dropped.at("a.part"), "b.full");
  EXPECT_EQ(result.value().dropped.at("z.full"), "b.full");
  // Tied-weight names lose to any other complete name.
  auto tied = remove_shared_aliases(tensors, storages, {"b.full"});
  ASSERT_TRUE(tied.ok());
  EXPECT_EQ(tied.value().kept[0].name, "z.full");
}

TEST(SharedStorage, DisjointViewsAreKeptAndOverlappingIncompleteOnesAreAnError) {
  std::map<std::string, StorageInfo> storages{{"0", {"0", 32, *dtype_of_safetensors_name("F32"), false, false}}};
  std::vector<TensorInfo> disjoint{tensor("first", "F32", {4}, "0"), tensor("second", "F32", {4}, "0", 4)};
  auto kept = remove_shared_aliases(disjoint, storages);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.value().kept.size(), 2u);
  std::vector<TensorInfo> overlapping{tensor("x", "F32", {4}, "0", 1), tensor("y", "F32", {4}, "0", 3)};
  EXPECT_FALSE(remove_shared_aliases(overlapping, storages).ok());
}

TEST(ConvertDtypes, TorchAndNumpyNamesMapToSafetensors) {
  EXPECT_EQ(dtype_of_storage_class("torch.BFloat16Storage")->name, "BF16");
  EXPECT_EQ(dtype_of_torch_dtype("torch.float8_e4m3fn")->name, "F8_E4M3");
  EXPECT_FALSE(dtype_of_storage_class("torch.ComplexDoubleStorage"));  // safetensors has no C128
  EXPECT_EQ(dtype_of_numpy_code(">i4")->name, "I32");
  EXPECT_EQ(dtype_of_numpy_code("|b1")->name, "BOOL");
  EXPECT_FALSE(dtype_of_numpy_code("<U10"));
}

TEST(TensorInfo, FortranArraysAreViewsReadBackInCOrder) {
  TensorInfo f = array_tensor("f", *dtype_of_safetensors_name("F64"), {2, 3}, true, "0");
  EXPECT_EQ(f.stride, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_FALSE(f.contiguous());
  EXPECT_EQ(f.end_byte(), 48u);
  TensorInfo c = array_tensor("c", *dtype_of_safetensors_name("F64"), {2, 3}, false, "0");
  EXPECT_TRUE(c.contiguous());
}
