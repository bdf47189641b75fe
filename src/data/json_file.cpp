#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {

std::string read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(cat("cannot read ", file.string(), ": no such file or not readable"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(cat("error while reading ", file.string()));
  return buffer.str();
}

void write_file_atomically(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path partial = file.string() + ".partial";
  // POSIX calls, so a write that fails at close (a full disk under a buffered stream) is seen and
  // its cause named, and the old file is never replaced by a cut one.
  const auto fail = [&](const char* step) {
    const int error = errno;
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw Error(cat("cannot write ", file.string(), " (", step, " ", partial.string(), "): ", std::strerror(error)));
  };
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create");
  for (size_t done = 0; done < text.size();) {
    const ssize_t wrote = ::write(fd, text.data() + done, text.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      fail("write");
    }
    done += static_cast<size_t>(wrote);
  }
  if (::close(fd) != 0) fail("close");
  std::filesystem::rename(partial, file);
}

namespace {

// SAX handler that assembles one top-level entry at a time: the value of each item id is built
// as a small DOM and handed over as soon as it is complete.
class EntryStream : public nlohmann::json_sax<nlohmann::json> {
 public:
  using Json = nlohmann::json;
  using OnEntry = std::function<void(const std::string&, Json&)>;
  EntryStream(const OnEntry& on_entry, std::string where) : on_entry_(on_entry), where_(std::move(where)) {}

  size_t error_byte = 0;
  std::string error_text;

  bool null() override { return add(Json()); }
  bool boolean(bool value) override { return add(Json(value)); }
  bool number_integer(number_integer_t value) override { return add(Json(value)); }
  bool number_unsigned(number_unsigned_t value) override { return add(Json(value)); }
  bool number_float(number_float_t value, const string_t&) override { return add(Json(value)); }
  bool string(string_t& value) override { return add(Json(std::move(value))); }
  bool binary(binary_t&) override { return add(Json()); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool start_array(std::size_t) override {
    if (!in_top_) throw InputError(cat(where_, ": expected a JSON object keyed by item id at the top"));
    return open(Json::array());
  }
  bool key(string_t& key) override {
    if (!stack_.empty()) {
      pending_key_ = std::move(key);
      return true;
    }
    if (!seen_.insert(key).second) throw InputError(cat(where_, ": item id \"", key, "\" appears twice"));
    id_ = std::move(key);
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) override {
    error_byte = position;
    error_text = error.what();
    return false;
  }

 private:
  bool open(Json container) {
    if (!in_top_) {  // the top-level object itself
      if (!container.is_object()) throw InputError(cat(where_, ": expected a JSON object keyed by item id at the top"));
      in_top_ = true;
      return true;
    }
    if (stack_.empty()) {
      entry_ = std::move(container);
      stack_.push_back(&entry_);
    } else {
      stack_.push_back(&insert(std::move(container)));
    }
    return true;
  }
  bool close() {
    if (stack_.empty()) return true;  // end of the top-level object
    stack_.pop_back();
    if (stack_.empty()) on_entry_(id_, entry_);
    return true;
  }
  bool add(Json value) {
    if (!in_top_) throw InputError(cat(where_, ": expected a JSON object keyed by item id at the top"));
    if (stack_.empty()) {
      on_entry_(id_, value);
    } else {
      insert(std::move(value));
    }
    return true;
  }
  // Children are only appended to the innermost open container, so pointers to the open
  // containers stay valid until they close.
  Json& insert(Json value) {
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return parent.back();
    }
    Json& slot = parent[pending_key_];
    slot = std::move(value);
    return slot;
  }

  const OnEntry& on_entry_;
  std::string where_;
  bool in_top_ = false;
  std::string id_;
  std::string pending_key_;
  Json entry_;
  std::vector<Json*> stack_;
  std::unordered_set<std::string> seen_;
};

}  // namespace

void for_each_json_entry(const std::filesystem::path& file, std::string_view what,
                         const std::function<void(const std::string& id, nlohmann::json& value)>& on_entry) {
  const std::string text = read_file_bytes(file);
  if (const auto bad = find_invalid_utf8(text)) {
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, *bad),
                         ": invalid UTF-8 byte sequence"));
  }
  EntryStream stream(on_entry, cat(what, " ", file.string()));
  if (!nlohmann::json::sax_parse(text, &stream)) {
    // error_byte is 1-based and points just past the offending character.
    const size_t offset = stream.error_byte > 0 ? stream.error_byte - 1 : 0;
    std::string reason = stream.error_text;
    if (const size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, offset), ": not valid JSON: ", reason));
  }
}

}  // namespace grlm
