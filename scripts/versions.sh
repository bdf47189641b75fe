# The pinned versions scripts/setup.sh and scripts/test.sh install (sourced, not run).
GRLM_TORCH_VERSION_PIN=2.15.0                       # the PyPI torch wheel whose libtorch grlm links
GRLM_TORCH_CPU_RUNTIME=("nvidia-cuda-runtime==13.2.86.*" "nvidia-cuda-cupti==13.2.86.*")  # what its libtorch_cpu.so loads
