// Whole-process behaviour under mpirun: a rank failing alone ends the job, a killed stage resumes,
// SIGTERM stops at a chunk boundary, and the grlm command line (help, synth, run, inspect, errors).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace {

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

std::string binary(const std::string& name) {
  const std::string dir = env_or("GRLM_BINARY_DIR", GRLM_TEST_BINARY_DIR);
  return name == "grlm" ? dir + "/grlm" : dir + "/tests/" + name;
}

std::string mpirun(int ranks) {
  return env_or("GRLM_MPIEXEC", GRLM_TEST_MPIEXEC) + " -np " + std::to_string(ranks) + " --oversubscribe ";
}

ProcessResult run(const std::string& command) {
  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(env_or("GRLM_BINARY_DIR", GRLM_TEST_BINARY_DIR)) / "test-scratch" / ("process-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The JSON report line the driver prints on success.
nlohmann::json report_of(const ProcessResult& result) {
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{\"actions\"", 0) == 0) return nlohmann::json::parse(line);
  }
  ADD_FAILURE() << "no report in output:\n" << result.output;
  return {};
}

std::string stage_status(const std::filesystem::path& dir, const std::string& stage) {
  const ProcessResult inspect = run(binary("grlm") + " inspect " + dir.string() + " --json");
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  const auto json_start = inspect.output.find('{');
  const auto description = nlohmann::json::parse(inspect.output.substr(json_start));
  for (const auto& entry : description["stages"]) {
    if (entry["name"] == stage) return entry["status"];
  }
  return "absent";
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

constexpr double kFullToySum = 7999.0 * 8000.0 / 2.0;

TEST(Process, ExceptionOnOneRankEndsEveryRankWithinSeconds) {
  const ProcessResult result = run(mpirun(2) + binary("grlm_test_driver") + " fail-on-rank 1");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_LT(result.seconds, 60.0) << "the job hung instead of ending";
  EXPECT_NE(result.output.find("[r1 "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("injected failure on rank 1"), std::string::npos) << result.output;
}

TEST(Process, StageKilledMidWriteIsIncompleteThenResumesToTheSameResult) {
  const auto dir = fresh_dir("kill");
  const ProcessResult killed = run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string() + " --kill-after 3");
  EXPECT_NE(killed.exit_code, 0) << killed.output;
  EXPECT_EQ(stage_status(dir, "alpha"), "incomplete");
  EXPECT_EQ(stage_status(dir, "beta"), "absent");

  const ProcessResult resumed = run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto report = report_of(resumed);
  EXPECT_EQ(report["actions"][0], "alpha:resumed");
  EXPECT_EQ(report["actions"][1], "beta:ran");
  // Two ranks commit two chunks a round: the kill came after round 2, so 4 of 8 chunks remained.
  EXPECT_EQ(report["chunks_computed"], 4);
  EXPECT_EQ(report["beta_sum"], kFullToySum);

  const ProcessResult again = run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string());
  const auto skipped = report_of(again);
  EXPECT_EQ(skipped["actions"][0], "alpha:skipped (complete)");
  EXPECT_EQ(skipped["actions"][1], "beta:skipped (complete)");
  EXPECT_EQ(skipped["chunks_computed"], 0);
}

TEST(Process, ResumeAtAnotherWorldSizeGivesTheSameResult) {
  const auto dir = fresh_dir("kill-resize");
  run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string() + " --kill-after 1");
  const ProcessResult resumed = run(mpirun(3) + binary("grlm_test_driver") + " toy " + dir.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(report_of(resumed)["beta_sum"], kFullToySum);
}

TEST(Process, SigtermStopsAtAChunkBoundaryAndTheRunResumes) {
  const auto dir = fresh_dir("term");
  const ProcessResult stopped = run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string() + " --term-after 2");
  EXPECT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  EXPECT_NE(stopped.output.find("interrupted by SIGTERM"), std::string::npos) << stopped.output;
  EXPECT_EQ(stage_status(dir, "alpha"), "incomplete");
  const ProcessResult resumed = run(mpirun(2) + binary("grlm_test_driver") + " toy " + dir.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto report = report_of(resumed);
  EXPECT_EQ(report["actions"][0], "alpha:resumed");
  EXPECT_EQ(report["chunks_computed"], 6);  // the first round (2 chunks) was committed before the stop
  EXPECT_EQ(report["beta_sum"], kFullToySum);
}

TEST(Cli, HelpVersionAndCommandHelp) {
  const ProcessResult help = run(binary("grlm") + " --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"run", "embed", "similar", "extract", "build-sft", "train", "evaluate", "synth", "inspect",
                              "tokenize", "generate", "score"}) {
    EXPECT_NE(help.output.find(std::string("  ") + command + " "), std::string::npos) << command;
  }
  const ProcessResult version = run(binary("grlm") + " --version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("HDF5:     1."), std::string::npos) << version.output;
  const ProcessResult synth_help = run(binary("grlm") + " synth --help");
  EXPECT_EQ(synth_help.exit_code, 0);
  EXPECT_NE(synth_help.output.find("--items"), std::string::npos);
  const ProcessResult run_help = run(binary("grlm") + " run --help");
  EXPECT_NE(run_help.output.find("--set"), std::string::npos);
  EXPECT_NE(run_help.output.find("--from"), std::string::npos);
}

TEST(Cli, UsageErrorsExitWithCodeTwo) {
  EXPECT_EQ(run(binary("grlm") + " frobnicate").exit_code, 2);
  const ProcessResult typo = run(mpirun(2) + binary("grlm") + " run --set data.catalg=x.json");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_NE(typo.output.find("did you mean 'data.catalog'"), std::string::npos) << typo.output;
  EXPECT_EQ(count_of(typo.output, "unknown config key"), 1u) << "reported once, by rank 0:\n" << typo.output;
  EXPECT_EQ(run(binary("grlm") + " synth --items 10").exit_code, 2);  // --out is required
}

TEST(Cli, ModelToolsNameAMissingCheckpointOnEveryRank) {
  const auto dir = fresh_dir("generate-missing");
  std::ofstream(dir / "in.jsonl") << "{\"ids\": [1, 2]}\n";
  const ProcessResult missing_input = run(binary("grlm") + " generate --model x");
  EXPECT_EQ(missing_input.exit_code, 2) << missing_input.output;
  const ProcessResult generate = run(mpirun(2) + binary("grlm") + " generate --model " + (dir / "no-model").string() +
                                     " --input " + (dir / "in.jsonl").string() + " --output " + (dir / "out.jsonl").string());
  EXPECT_NE(generate.exit_code, 0);
  EXPECT_NE(generate.output.find("no-model: no such model folder"), std::string::npos) << generate.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
}

std::string qwen3_dir() {
  return std::string(GRLM_TEST_SOURCE_DIR) + "/../shared/models/qwen3-tokenizer";
}

TEST(Cli, TokenizeEncodesJsonLinesAndDecodesThemBack) {
  const auto dir = fresh_dir("tokenize");
  std::ofstream(dir / "in.jsonl") << "\"Hello world!\"\n{\"text\": \"<|im_start|>user\\n\"}\n\"\"\n";
  const ProcessResult encoded = run(binary("grlm") + " tokenize --tokenizer " + qwen3_dir() + " --input " +
                                    (dir / "in.jsonl").string() + " --output " + (dir / "ids.jsonl").string());
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  std::ifstream ids(dir / "ids.jsonl");
  std::string line;
  std::getline(ids, line);
  EXPECT_EQ(line, "[9707,1879,0]");
  std::getline(ids, line);
  EXPECT_EQ(line, "[151644,872,198]");
  std::getline(ids, line);
  EXPECT_EQ(line, "[]");
  const ProcessResult decoded = run(binary("grlm") + " tokenize --decode --tokenizer " + qwen3_dir() + "/tokenizer.json --input " +
                                    (dir / "ids.jsonl").string());
  ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
  EXPECT_NE(decoded.output.find("\"Hello world!\"\n\"<|im_start|>user\\n\"\n\"\"\n"), std::string::npos) << decoded.output;
}

TEST(Cli, TokenizeRefusesBadLinesNamingThem) {
  const auto dir = fresh_dir("tokenize-bad");
  std::ofstream(dir / "utf8.jsonl") << "\"fine\"\n\"caf\xC3\"\n";
  const ProcessResult utf8 = run(binary("grlm") + " tokenize --tokenizer " + qwen3_dir() + " --input " + (dir / "utf8.jsonl").string());
  EXPECT_EQ(utf8.exit_code, 1);
  EXPECT_NE(utf8.output.find("utf8.jsonl: line 2: not valid JSON"), std::string::npos) << utf8.output;
  std::ofstream(dir / "shape.jsonl") << "{\"txt\": \"x\"}\n";
  const ProcessResult shape = run(binary("grlm") + " tokenize --tokenizer " + qwen3_dir() + " --input " + (dir / "shape.jsonl").string());
  EXPECT_EQ(shape.exit_code, 1);
  EXPECT_NE(shape.output.find("shape.jsonl: line 1: expected a JSON string or {\"text\": ...}"), std::string::npos) << shape.output;
  const ProcessResult missing = run(binary("grlm") + " tokenize --tokenizer " + (dir / "none").string() + " --input " + (dir / "shape.jsonl").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("cannot read"), std::string::npos) << missing.output;
}

TEST(Cli, SynthThenRunWritesAStoreThatInspectAndH5dumpRead) {
  const auto dir = fresh_dir("cli-synth");
  const ProcessResult synth =
      run(binary("grlm") + " synth --items 1000 --users 2000 --out " + (dir / "data").string());
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "catalog.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "interactions.txt"));

  const std::string run_dir = (dir / "run").string();
  const ProcessResult pipeline = run(mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + run_dir +
                                     " --set data.catalog=" + (dir / "data" / "catalog.json").string() +
                                     " --set data.interactions=" + (dir / "data" / "interactions.txt").string() +
                                     " --set train.arch.hidden_size=32 --set train.arch.layers=1 --set train.arch.heads=2"
                                     " --set train.arch.kv_heads=1 --set train.arch.head_dim=16 --set train.arch.intermediate_size=64"
                                     " --set train.max_steps=3 --set train.global_batch_size=8 --set train.micro_batch_size=4"
                                     " --set evaluate.max_users=6 --set evaluate.num_beams=2 --set evaluate.num_return_sequences=2"
                                     " --set evaluate.max_new_tokens=8 --set train.dtype=float32 --set evaluate.dtype=float32");
  EXPECT_EQ(pipeline.exit_code, 0) << pipeline.output;  // every stage
  EXPECT_NE(pipeline.output.find("data: 1000 items, 2000 users"), std::string::npos) << pipeline.output;
  EXPECT_NE(pipeline.output.find("stage similar: complete"), std::string::npos) << pipeline.output;
  EXPECT_NE(pipeline.output.find("stage build-sft: complete"), std::string::npos) << pipeline.output;
  EXPECT_NE(pipeline.output.find("stage train: complete"), std::string::npos) << pipeline.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "run" / "model" / "model.safetensors"));
  EXPECT_NE(pipeline.output.find("stage evaluate: complete"), std::string::npos) << pipeline.output;
  EXPECT_NE(pipeline.output.find("Recall@K"), std::string::npos) << pipeline.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "run" / "metrics.json"));

  const ProcessResult inspect = run(binary("grlm") + " inspect " + run_dir);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("/embed/vectors"), std::string::npos) << inspect.output;
  if (std::system("command -v h5dump > /dev/null") == 0) {
    const ProcessResult dump = run("h5dump -a /run/config " + run_dir + "/grlm.h5");
    EXPECT_EQ(dump.exit_code, 0) << dump.output;
    EXPECT_NE(dump.output.find("interactions.txt"), std::string::npos) << dump.output;
  }
}

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Cli, MergedDomainsRunThroughBuildSftWithNamespacedIds) {
  const auto dir = fresh_dir("merge-domains");
  for (const char* name : {"a", "b"}) {
    const ProcessResult synth = run(binary("grlm") + " synth --items 150 --users 300 --seed " + (name[0] == 'a' ? "1" : "2") +
                                    " --out " + (dir / name).string());
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
  }
  const auto spec = [&](const char* name) {
    const auto folder = dir / name;
    return std::string(" --domain ") + name + "=" + (folder / "catalog.json").string() + "," +
           (folder / "interactions.txt").string() + "," + (folder / "synthetic_item_id2tid.json").string();
  };
  const ProcessResult merged = run(binary("grlm") + " merge-domains" + spec("a") + spec("b") + " --out " + (dir / "ab").string());
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_NE(merged.output.find("300 items, 600 users"), std::string::npos) << merged.output;
  const std::string interactions = read_bytes(dir / "ab" / "interactions.txt");
  EXPECT_EQ(interactions.rfind("a:", 0), 0u);
  EXPECT_NE(interactions.find("\nb:"), std::string::npos);
  const std::string run_dir = (dir / "run").string();
  const ProcessResult pipeline = run(mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + run_dir + " --set data.catalog=" +
                                     (dir / "ab" / "catalog.json").string() + " --set data.interactions=" +
                                     (dir / "ab" / "interactions.txt").string() + " --set data.tids=" +
                                     (dir / "ab" / "item_id2tid.json").string() + " --until build-sft");
  ASSERT_EQ(pipeline.exit_code, 0) << pipeline.output;
  const std::string sequences = read_bytes(std::filesystem::path(run_dir) / "sft" / "sequence.json");
  EXPECT_NE(sequences.find("\"user_id\":\"a:"), std::string::npos);
  EXPECT_NE(sequences.find("\"user_id\":\"b:"), std::string::npos);
  EXPECT_EQ(run(binary("grlm") + " merge-domains --domain a=x --out " + (dir / "bad").string()).exit_code, 2);
}


// The tokenized datasets of two runs' build-sft, byte for byte (h5dump's binary output).
void expect_same_sft_datasets(const std::filesystem::path& one, const std::filesystem::path& other) {
  for (const char* dataset : {"/build-sft/token_ids", "/build-sft/loss_mask", "/build-sft/sample_offsets", "/build-sft/task_id"}) {
    const std::string dump = std::string("h5dump -d ") + dataset + " -b LE -o ";
    ASSERT_EQ(run(dump + (one / "a.bin").string() + " " + (one / "grlm.h5").string()).exit_code, 0);
    ASSERT_EQ(run(dump + (other / "a.bin").string() + " " + (other / "grlm.h5").string()).exit_code, 0);
    EXPECT_EQ(read_bytes(one / "a.bin"), read_bytes(other / "a.bin")) << dataset << ": " << one << " vs " << other;
  }
}

// Sharded sample building: every task (term from the catalog, computed neighbours, fractional
// task weights, the word-level vocabulary counted across ranks) gives the same files at np = 1,
// 2 and 3 (uneven blocks).
TEST(BuildSft, ShardedBuildingGivesTheSameFilesAtAnyRankCount) {
  const auto dir = fresh_dir("sft-sharded");
  const ProcessResult synth = run(binary("grlm") + " synth --items 157 --users 301 --out " + (dir / "data").string());
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  const std::string settings = " --set data.catalog=" + (dir / "data" / "catalog.json").string() + " --set data.interactions=" +
                               (dir / "data" / "interactions.txt").string() + " --set data.tids=" +
                               (dir / "data" / "synthetic_item_id2tid.json").string() +
                               " --set sft.weight.term=0.5 --set sft.weight.collaborative=1.5 --until build-sft"
                               " --set sft.tasks=term,sequence,collaborative,transition --set sft.weight.transition=1.5";
  std::vector<std::filesystem::path> runs;
  for (int ranks : {1, 2, 3}) {
    runs.push_back(dir / ("np" + std::to_string(ranks)));
    const ProcessResult result = run(mpirun(ranks) + binary("grlm") + " run --device cpu --run-dir " + runs.back().string() + settings);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("computed neighbours for"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("build-sft: transition task: followers of "), std::string::npos) << result.output;
  }
  const std::string term = read_bytes(runs[0] / "sft" / "term.json");
  EXPECT_NE(term.find("\"output\":\"["), std::string::npos) << "the catalog gives a term task";
  for (size_t i = 1; i < runs.size(); ++i) {
    for (const char* file : {"sft/term.json", "sft/sequence.json", "sft/collaborative.json", "sft/transition.json",
                             "sft/neighbours.txt", "sft/tokenizer.json"}) {
      EXPECT_EQ(read_bytes(runs[0] / file), read_bytes(runs[i] / file)) << file << " at np " << i + 1;
    }
    expect_same_sft_datasets(runs[0], runs[i]);
    EXPECT_FALSE(std::filesystem::exists(runs[i] / "sft" / "sequence.json.part-0"));
  }
  const std::string store_tool = std::string(GRLM_TEST_PYTHON) + " " + GRLM_TEST_SOURCE_DIR + "/tests/oracle/check_sft_store.py ";
  const ProcessResult table = run(store_tool + "neighbours " + runs[2].string());
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("checked 157 items"), std::string::npos) << table.output;
  // An interrupted build-sft (status in_progress, datasets present) reruns at another world size.
  ASSERT_EQ(run(store_tool + "interrupt " + runs[2].string()).exit_code, 0);
  const ProcessResult resumed = run(mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + runs[2].string() + settings);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("stage build-sft: an interrupted run's partial work is not kept, starting over"),
            std::string::npos) << resumed.output;
  EXPECT_EQ(read_bytes(runs[0] / "sft" / "sequence.json"), read_bytes(runs[2] / "sft" / "sequence.json"));
  expect_same_sft_datasets(runs[0], runs[2]);
}

// Computed neighbours hold out what the sequence task holds out: each user's last two items, or
// with sft.train_on_validation only the test item. Item 3 is every user's validation item, so it
// co-occurs with nothing unless the validation items are trained on.
TEST(BuildSft, ComputedNeighboursRunThroughTheValidationItemWhenTrainingOnIt) {
  const auto dir = fresh_dir("sft-cf-holdout");
  std::ofstream(dir / "interactions.txt") << "1 1 2 3 4\n2 2 1 3 5\n3 1 2 3 6\n";
  nlohmann::json tids;
  for (const char* item : {"1", "2", "3", "4", "5", "6"}) tids[item] = {std::string("word") + item, "b", "c", "d", "e"};
  std::ofstream(dir / "tids.json") << tids.dump();
  const std::string settings = " --set data.interactions=" + (dir / "interactions.txt").string() +
                               " --set data.tids=" + (dir / "tids.json").string() + " --until build-sft";
  for (const bool through_validation : {false, true}) {
    const std::string run_dir = (dir / (through_validation ? "n-1" : "n-2")).string();
    const ProcessResult result =
        run(mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + run_dir + settings +
            " --set sft.train_on_validation=" + (through_validation ? "true" : "false"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const std::string expected = through_validation
                                     ? "computed neighbours for 3 items from training histories without each user's last 1 item(s)"
                                     : "computed neighbours for 2 items from training histories without each user's last 2 item(s)";
    EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
  }
}

// build-sft on the Beauty data with the real Qwen3 tokenizer, at np = 1 and np = 2.
TEST(BuildSft, TokenizedSamplesDecodeToTheJsonAndRankCountDoesNotMatter) {
  const std::string data = std::string(GRLM_TEST_SOURCE_DIR) + "/../shared/data/beauty/";
  const std::string settings = " --set data.interactions=" + data + "sequential_data.txt --set data.tids=" + data +
                               "beauty_item_id2tid.json --set data.neighbours=" + data +
                               "similar_item_sasrec_num.txt --set sft.tokenizer=" + qwen3_dir() + " --until build-sft";
  const auto one = fresh_dir("sft-np1");
  const auto two = fresh_dir("sft-np2");
  const ProcessResult first = run(mpirun(1) + binary("grlm") + " run --run-dir " + one.string() + settings);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("sequence task: 22363 of 22363 users"), std::string::npos) << first.output;
  const ProcessResult second = run(mpirun(2) + binary("grlm") + " run --run-dir " + two.string() + settings);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  for (const char* file : {"sft/sequence.json", "sft/collaborative.json"}) {
    EXPECT_EQ(read_bytes(one / file), read_bytes(two / file)) << file;
  }
  expect_same_sft_datasets(one, two);
  const ProcessResult oracle = run(std::string(GRLM_TEST_PYTHON) + " " + GRLM_TEST_SOURCE_DIR +
                                   "/tests/oracle/check_sft.py " + two.string() + " " + qwen3_dir());
  EXPECT_EQ(oracle.exit_code, 0) << oracle.output;
  EXPECT_NE(oracle.output.find("checked 34464 samples"), std::string::npos) << oracle.output;
}

TEST(Cli, BadInputFileFailsOnEveryRankNamingTheLine) {
  const auto dir = fresh_dir("cli-bad-input");
  std::ofstream(dir / "interactions.txt") << "u1 a b\n\nu2 c\n";
  const ProcessResult result = run(mpirun(2) + binary("grlm") + " run --run-dir " + (dir / "run").string() +
                                   " --set data.interactions=" + (dir / "interactions.txt").string());
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_LT(result.seconds, 60.0);
  EXPECT_NE(result.output.find("interactions.txt: line 2: empty line"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "grlm.h5")) << "no run store for a run that never started";
}

}  // namespace

namespace {

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// Another job holding the run lock is stood in for by this process, so the overlap is certain:
// fcntl record locks belong to a process, and grlm (a child) sees this one's.
TEST(RunLock, ASecondJobOnARunDirIsRefusedNamingTheFirstAndTouchesNothing) {
  const auto dir = fresh_dir("run-lock");
  ASSERT_EQ(run(binary("grlm") + " synth --items 40 --users 40 --out " + (dir / "data").string()).exit_code, 0);
  const std::string command = mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + (dir / "run").string() +
                              " --set data.catalog=" + (dir / "data" / "catalog.json").string() +
                              " --set data.interactions=" + (dir / "data" / "interactions.txt").string() +
                              " --until build-sft";
  const ProcessResult first = run(command);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string store_before = file_bytes(dir / "run" / "grlm.h5");

  const int fd = ::open((dir / "run" / "grlm.lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock whole{};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  ASSERT_EQ(fcntl(fd, F_SETLK, &whole), 0);
  const std::string holder = R"({"host": "node7", "pid": 4242, "started": "2026-11-29 09:00:00 UTC", "command": "grlm run A"})";
  ASSERT_EQ(ftruncate(fd, 0), 0);
  ASSERT_EQ(pwrite(fd, holder.data(), holder.size(), 0), static_cast<ssize_t>(holder.size()));
  const ProcessResult second = run(command + " --from build-sft");
  EXPECT_EQ(stage_status(dir / "run", "build-sft"), "complete") << "inspect works beside a running job";
  ::close(fd);  // the first job ends
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_EQ(count_of(second.output, "is in use by another grlm (host node7, pid 4242, started 2026-11-29 09:00:00 UTC: grlm run A)"),
            2u) << "both ranks name the holder:\n" << second.output;
  EXPECT_EQ(file_bytes(dir / "run" / "grlm.h5"), store_before) << "the refused job wrote into the store";
  // Once it ends the lock is free again.
  const ProcessResult third = run(command);
  EXPECT_EQ(third.exit_code, 0) << third.output;
}

}  // namespace

namespace {

// Rules between keys are checked before the first stage starts, not when their stage comes.
TEST(Cli, RulesBetweenConfigKeysAreCheckedBeforeAnyStage) {
  const auto dir = fresh_dir("config-rules");
  ASSERT_EQ(run(binary("grlm") + " synth --items 40 --users 40 --out " + (dir / "data").string()).exit_code, 0);
  const std::string base = mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + (dir / "run").string() +
                           " --set data.catalog=" + (dir / "data" / "catalog.json").string() +
                           " --set data.interactions=" + (dir / "data" / "interactions.txt").string() +
                           " --set train.global_batch_size=8";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --set train.micro_batch_size=16",
       "train.micro_batch_size (16, in --set train.micro_batch_size=16) must be <= train.global_batch_size (8, in --set "
       "train.global_batch_size=8)"},
      {" --set train.micro_batch_size=3", "must be a multiple of ranks x train.micro_batch_size (2 x 3 = 6"},
      {" --set evaluate.num_beams=4 --set evaluate.num_return_sequences=8",
       "evaluate.num_return_sequences (8, in --set evaluate.num_return_sequences=8) must be <= evaluate.num_beams (4, in --set "
       "evaluate.num_beams=4)"},
      {" --set train.eval_steps=5", "train.eval_steps (5, in --set train.eval_steps=5) needs a validation share"},
  };
  for (const auto& [settings, message] : cases) {
    const ProcessResult result = run(base + settings);
    EXPECT_EQ(result.exit_code, 2) << settings << "\n" << result.output;
    EXPECT_NE(result.output.find(message), std::string::npos) << settings << "\n" << result.output;
    EXPECT_EQ(result.output.find(": starting"), std::string::npos) << "a stage started before the check:\n" << result.output;
  }
}

}  // namespace

namespace {

// A full disk mid-run: a clear error naming the cause and the file, nothing marked complete that
// is not whole, and once there is space the rerun resumes to the uninterrupted run's results.
TEST(Process, FullDiskNamesTheCauseAndTheRerunResumesToTheSameMetrics) {
  const auto dir = fresh_dir("disk-full");
  const auto small = dir / "small";
  std::filesystem::create_directories(small);
  if (run("mount -t tmpfs -o size=700k grlm-test-tmpfs " + small.string()).exit_code != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (not root?): the full-disk test needs one";
  }
  ASSERT_EQ(run(binary("grlm") + " synth --items 60 --users 60 --seed 4 --out " + (dir / "data").string()).exit_code, 0);
  const auto command = [&](const std::filesystem::path& run_dir) {
    return mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + run_dir.string() +
           " --set data.catalog=" + (dir / "data" / "catalog.json").string() +
           " --set data.interactions=" + (dir / "data" / "interactions.txt").string() +
           " --set train.arch.hidden_size=32 --set train.arch.layers=1 --set train.arch.heads=2"
           " --set train.arch.kv_heads=1 --set train.arch.head_dim=16 --set train.arch.intermediate_size=64"
           " --set train.max_steps=30 --set train.save_steps=10 --set train.global_batch_size=8 --set train.micro_batch_size=4"
           " --set train.dtype=float32 --set evaluate.dtype=float32 --set evaluate.max_users=8 --set evaluate.num_beams=2"
           " --set evaluate.num_return_sequences=2 --set evaluate.max_new_tokens=8";
  };
  const ProcessResult reference = run(command(dir / "reference"));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  const ProcessResult full = run(command(small / "run"));
  EXPECT_NE(full.exit_code, 0);
  EXPECT_NE(full.output.find("no space left on device"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("(in " + (small / "run" / "grlm.h5").string()), std::string::npos) << full.output;
  ASSERT_EQ(run("mount -o remount,size=64m " + small.string()).exit_code, 0);
  const ProcessResult resumed = run(command(small / "run"));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto metrics = [](const std::filesystem::path& run_dir) {
    nlohmann::json json = nlohmann::json::parse(std::ifstream(run_dir / "metrics.json"));
    json.erase("model");
    return json;
  };
  if (resumed.exit_code == 0) EXPECT_EQ(metrics(small / "run"), metrics(dir / "reference"));
  run("umount " + small.string());
}

}  // namespace

namespace {

// Silent damage (bytes overwritten inside a complete stage's dataset) is found by inspect --verify,
// which names the stage to rerun; an intact store verifies.
TEST(Cli, InspectVerifyFindsBytesChangedAfterAStageCompleted) {
  const auto dir = fresh_dir("verify");
  ASSERT_EQ(run(binary("grlm") + " synth --items 40 --users 40 --out " + (dir / "data").string()).exit_code, 0);
  const std::string run_dir = (dir / "run").string();
  const ProcessResult pipeline = run(mpirun(2) + binary("grlm") + " run --device cpu --run-dir " + run_dir +
                                     " --set data.catalog=" + (dir / "data" / "catalog.json").string() +
                                     " --set data.interactions=" + (dir / "data" / "interactions.txt").string() +
                                     " --until build-sft");
  ASSERT_EQ(pipeline.exit_code, 0) << pipeline.output;
  const ProcessResult intact = run(binary("grlm") + " inspect " + run_dir + " --verify");
  EXPECT_EQ(intact.exit_code, 0) << intact.output;
  EXPECT_NE(intact.output.find("build-sft   verified ("), std::string::npos) << intact.output;
  // Overwrite 64 bytes inside /build-sft/token_ids, where h5py says its data lies.
  const std::string locate = std::string(GRLM_TEST_PYTHON) + " -c \"import h5py; print(h5py.File('" + run_dir +
                             "/grlm.h5', 'r')['build-sft/token_ids'].id.get_offset())\"";
  const ProcessResult offset = run(locate);
  ASSERT_EQ(offset.exit_code, 0) << offset.output;
  {
    std::fstream store(dir / "run" / "grlm.h5", std::ios::in | std::ios::out | std::ios::binary);
    store.seekp(std::stoll(offset.output) + 8);
    const std::string damage(64, '\x5a');
    store.write(damage.data(), static_cast<std::streamsize>(damage.size()));
  }
  const ProcessResult damaged = run(binary("grlm") + " inspect " + run_dir + " --verify");
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("CHANGED since it completed: /build-sft/token_ids"), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find("grlm run --from build-sft"), std::string::npos) << damaged.output;
}

}  // namespace
