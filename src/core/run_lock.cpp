#include "grlm/core/run_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "grlm/core/comm.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"

namespace grlm {
namespace {

std::string own_command_line() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  for (char& c : bytes) c = c == '\0' ? ' ' : c;
  while (!bytes.empty() && bytes.back() == ' ') bytes.pop_back();
  return bytes;
}

// What the holder wrote into the lock file, in words.
std::string holder_of(int fd) {
  std::string bytes(4096, '\0');
  const ssize_t got = pread(fd, bytes.data(), bytes.size(), 0);
  bytes.resize(got > 0 ? static_cast<size_t>(got) : 0);
  const nlohmann::json holder = nlohmann::json::parse(bytes, nullptr, false);
  if (!holder.is_object()) return "a process that has not written its name yet";
  return cat("host ", holder.value("host", "?"), ", pid ", holder.value("pid", 0), ", started ", holder.value("started", "?"),
             ": ", holder.value("command", "?"));
}

bool locks_unsupported(int error) { return error == ENOLCK || error == ENOSYS || error == EOPNOTSUPP || error == EINVAL; }

}  // namespace

RunLock::RunLock(Runtime& runtime, const std::filesystem::path& run_dir) {
  std::string problem;
  if (runtime.is_root()) {
    const std::filesystem::path path = run_dir / kFileName;
    std::error_code created;
    std::filesystem::create_directories(run_dir, created);
    fd_ = created ? -1 : ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct flock whole{};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    if (fd_ < 0) {
      problem = cat("cannot create the run lock ", path.string(), ": ", created ? created.message() : std::strerror(errno));
    } else if (fcntl(fd_, F_SETLK, &whole) != 0) {
      const int error = errno;
      if (error == EACCES || error == EAGAIN) {
        problem = cat("run_dir ", run_dir.string(), " is in use by another grlm (", holder_of(fd_),
                      "); wait for it to end or choose another run_dir (the lock ", path.string(),
                      " is released when that process ends, even by kill -9)");
      } else if (locks_unsupported(error)) {
        log::warn("the filesystem of ", run_dir.string(), " does not support POSIX locks (", std::strerror(error),
                  "): grlm cannot stop a second job from writing this run store; make sure only one runs");
      } else {
        problem = cat("cannot lock ", path.string(), ": ", std::strerror(error));
      }
      if (!problem.empty()) {
        ::close(fd_);
        fd_ = -1;
      }
    } else {
      const std::string holder = nlohmann::json{{"host", runtime.info().host}, {"pid", static_cast<int64_t>(getpid())},
                                                {"started", log::utc_now()}, {"command", own_command_line()}}.dump() + "\n";
      if (ftruncate(fd_, 0) != 0 || pwrite(fd_, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size())) {
        log::warn("cannot write the run lock's holder into ", path.string(), ": ", std::strerror(errno));
      }
    }
  }
  throw_rank0_problem<InputError>(runtime.world(), problem);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the lock; the file stays (its content is only informative)
}

}  // namespace grlm
