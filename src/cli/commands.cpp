#include "commands.hpp"

#include <iostream>
#include <sstream>

#include <H5public.h>
#include <mpi.h>

#include "grlm/core/device.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#ifdef GRLM_HAVE_TORCH
#include "grlm/model/torch_info.hpp"
#endif
#ifdef GRLM_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

namespace grlm::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> list = pipeline_commands();
    list.push_back(recommend_command());
    list.push_back(synth_command());
    list.push_back(inspect_command());
    list.push_back(tokenize_command());
    list.push_back(merge_domains_command());
#ifdef GRLM_HAVE_TORCH
    list.push_back(generate_command());
    list.push_back(score_command());
    list.push_back(encode_command());
    list.push_back(init_model_command());
#endif
    return list;
  }();
  return all;
}

po::options_description config_options() {
  po::options_description options("Config");
  options.add_options()
      ("config,c", po::value<std::string>(), "pipeline config JSON (see docs/CONFIG.md); defaults apply without it")
      ("set", po::value<std::vector<std::string>>()->composing(),
       "override a config key, repeatable: --set train.lr=2e-5 --set run_dir=runs/x")
      ("run-dir", po::value<std::string>(), "shortcut for --set run_dir=DIR")
      ("device", po::value<std::string>(), "auto | cpu | cuda (shortcut for --set device=...)")
      ("log-level", po::value<std::string>(), "debug | info | warn | error (shortcut for --set log.level=...)");
  return options;
}

Device rank_device(Runtime& runtime, const std::string& device_setting) {
  const std::string world = describe_world(runtime);
  log::info("world: ", world);
  Device device;
  try {
    device = select_device(device_setting, runtime.info());
  } catch (const UsageError& error) {
    throw Error(cat(error.what(), " (rank ", runtime.rank(), " on ", runtime.info().host, ")"));
  }
  log::info_all("rank ", runtime.rank(), " on ", runtime.info().host, " (local rank ", runtime.info().local_rank, " of ",
                runtime.info().local_size, ") uses ", device.description);
  return device;
}

std::string version_text() {
  std::ostringstream text;
  text << "grlm " << GRLM_VERSION << "\n";
  char mpi_library[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(mpi_library, &length);
  std::string mpi(mpi_library, static_cast<size_t>(length));
  if (const size_t comma = mpi.find(','); comma != std::string::npos) mpi.resize(comma);
  text << "  MPI:      " << mpi << "\n";
  text << "  HDF5:     " << H5_VERS_MAJOR << "." << H5_VERS_MINOR << "." << H5_VERS_RELEASE
#ifdef H5_HAVE_PARALLEL
       << " (parallel)"
#endif
       << "\n";
#ifdef GRLM_HAVE_TORCH
  text << "  libtorch: " << libtorch_version() << "\n";
#else
  text << "  libtorch: not linked\n";
#endif
#ifdef GRLM_HAVE_CUDA
  int runtime_version = 0;
  cudaRuntimeGetVersion(&runtime_version);
  text << "  CUDA:     runtime " << runtime_version / 1000 << "." << runtime_version % 1000 / 10 << ", NCCL "
       << NCCL_MAJOR << "." << NCCL_MINOR << "." << NCCL_PATCH << ", " << cuda_device_count()
       << " GPU(s) visible\n";
#else
  text << "  CUDA:     not built\n";
#endif
  return text.str();
}

namespace {

void print_overview() {
  std::cout << "grlm " << GRLM_VERSION
            << " - GRLM generative recommendation with Term IDs, as one SPMD MPI program\n\n"
               "usage: grlm COMMAND [options]          (one rank)\n"
               "       mpirun -np N grlm COMMAND ...    (N ranks: one per GPU, or CPU ranks)\n\n";
  const std::pair<const char*, const char*> groups[] = {
      {"pipeline", "Pipeline"}, {"stage", "Stages (each resumable; run alone when its inputs are complete)"},
      {"tool", "Tools"}};
  for (const auto& [group, title] : groups) {
    std::cout << title << ":\n";
    for (const Command& command : commands()) {
      if (command.group != group) continue;
      std::cout << "  " << command.name << std::string(command.name.size() < 12 ? 12 - command.name.size() : 1, ' ')
                << command.summary << "\n";
    }
    std::cout << "\n";
  }
  std::cout << "Options:\n  --help      this text; 'grlm COMMAND --help' for a command's options\n"
               "  --version   versions of grlm and the libraries it runs on\n\n"
               "Exit codes: 0 done, 1 failed, 2 bad usage or config, 3 not built yet, 75 paused (train.stop_after_steps), 130/143 stopped by\n"
               "SIGINT/SIGTERM (rerun the same command to resume). Docs: README.md, docs/CLI.md, docs/CONFIG.md\n";
}

void print_command_help(const Command& command) {
  std::cout << "usage: grlm " << command.name << " " << command.usage << "\n\n" << command.summary << "\n\n";
  std::cout << command.options() << "\n";
  if (!command.details.empty()) std::cout << command.details << "\n";
}

const Command& find_command(const std::string& name) {
  for (const Command& command : commands()) {
    if (command.name == name) return command;
  }
  throw UsageError(cat("unknown command '", name, "' (see grlm --help)"));
}

}  // namespace

int dispatch(Runtime& runtime, int argc, char** argv) {
  if (argc < 2) {
    if (runtime.is_root()) print_overview();
    return kExitUsage;
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    if (runtime.is_root()) print_overview();
    return kExitOk;
  }
  if (first == "--version" || first == "-V") {
    if (runtime.is_root()) std::cout << version_text();
    return kExitOk;
  }
  const Command& command = find_command(first);
  po::options_description options = command.options();
  options.add_options()("help,h", "this help");
  po::variables_map values;
  try {
    if (command.accepts_any_options) {
      // Nothing to parse yet: only --help means something before the tool is built.
      for (int i = 2; i < argc; ++i) {
        if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") values.insert({"help", po::variable_value()});
      }
    } else {
      po::store(po::command_line_parser(argc - 1, argv + 1).options(options).positional(command.positional).run(),
                values);
    }
    if (values.count("help")) {
      if (runtime.is_root()) print_command_help(command);
      return kExitOk;
    }
    po::notify(values);
  } catch (const po::error& error) {
    throw UsageError(cat("grlm ", command.name, ": ", error.what(), " (see grlm ", command.name, " --help)"));
  }
  return command.run(runtime, values);
}

}  // namespace grlm::cli
