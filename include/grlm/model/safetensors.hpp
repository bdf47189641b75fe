// The safetensors format (an 8-byte little-endian header size, a JSON header, raw tensor bytes),
// read through a memory map and validated before any byte is touched: header size and JSON,
// known dtypes, shapes whose byte counts match their offsets, offsets inside the file and not
// overlapping. Written the way `safetensors` writes it, so `transformers` loads our exports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace grlm {

enum class SafeDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U16, U32, U64 };

SafeDtype parse_safe_dtype(const std::string& name);  // throws std::invalid_argument on unknown names
const char* safe_dtype_name(SafeDtype dtype);
size_t safe_dtype_size(SafeDtype dtype);

struct SafeTensorView {
  std::string name;
  SafeDtype dtype = SafeDtype::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // inside the memory map; valid while the file is open
  size_t bytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Largest JSON header accepted (the reference implementation's limit).
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  // Opens and validates `path`; InputError naming the file and the tensor on any defect.
  static SafetensorsFile open(const std::filesystem::path& path);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, SafeTensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  const SafeTensorView& at(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  std::map<std::string, SafeTensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: `data` holds numel * dtype size bytes in row-major order.
struct SafeTensorOut {
  std::string name;
  SafeDtype dtype = SafeDtype::F32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
};

// Writes `tensors` to `path` (through a temporary file renamed at the end, so a crash never leaves
// a truncated file under the final name). Metadata gets "format": "pt" unless given.
void write_safetensors(const std::filesystem::path& path, const std::vector<SafeTensorOut>& tensors,
                       std::map<std::string, std::string> metadata = {});

}  // namespace grlm
