// GoogleTest main for test binaries that run under mpirun (or as an MPI singleton). Every rank
// runs every test; only rank 0 prints, and a failure on any rank fails the run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "grlm/core/comm.hpp"
#include "grlm/core/log.hpp"
#include "test_support.hpp"

namespace grlm::test {
namespace {
Runtime* g_runtime = nullptr;
}

Runtime& runtime() { return *g_runtime; }

std::filesystem::path scratch_dir(const std::string& name) {
  const char* binary_dir = std::getenv("GRLM_BINARY_DIR");
  const std::filesystem::path root = std::filesystem::path(binary_dir ? binary_dir : GRLM_TEST_BINARY_DIR) / "test-scratch";
  const std::filesystem::path dir = root / (name + "-np" + std::to_string(runtime().world_size()));
  if (runtime().is_root()) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  runtime().world().barrier();
  return dir;
}

std::filesystem::path shared_data(const std::string& relative) {
  const char* source_dir = std::getenv("GRLM_SOURCE_DIR");
  return std::filesystem::path(source_dir ? source_dir : GRLM_TEST_SOURCE_DIR) / ".." / "shared" / "data" / relative;
}

// On ranks other than 0: only failures, with the rank, so a rank-local failure is visible. The
// test's name is kept from OnTestStart: asking gtest for it inside OnTestPartResult would take
// the lock gtest already holds there (a rank deadlocked on its first failure).
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestStart(const ::testing::TestInfo& test) override {
    test_name_ = std::string(test.test_suite_name()) + "." + test.name();
  }
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s at %s:%d\n%s\n", rank_, test_name_.c_str(),
                 result.file_name() ? result.file_name() : "?", result.line_number(), result.summary());
  }

 private:
  int rank_;
  std::string test_name_ = "?";
};

}  // namespace grlm::test

int main(int argc, char** argv) {
  auto runtime = std::make_unique<grlm::Runtime>(argc, argv);
  grlm::test::g_runtime = runtime.get();
  grlm::log::init(runtime->rank(), grlm::log::Level::Warn);
  ::testing::InitGoogleTest(&argc, argv);
  if (runtime->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new grlm::test::FailurePrinter(runtime->rank()));
  }
  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const int any_failed = grlm::all_reduce_value<int32_t>(runtime->world(), local_failed, grlm::ReduceOp::Max);
  if (runtime->rank() == 0 && any_failed && !local_failed) {
    std::fprintf(stderr, "a test failed on another rank (see its output above)\n");
  }
  runtime->finalize();
  return any_failed;
}
