#!/usr/bin/env bash
# munge for a Slurm started by hand (root; the local Slurm of the tests and scripts/local_cluster.sh):
# a key when there is none (1024 random bytes, owner munge, mode 400), munged when none runs.
set -euo pipefail
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge && dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2> /dev/null
  chown munge:munge /etc/munge/munge.key 2> /dev/null || true
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge 2> /dev/null || true
pgrep -x munged > /dev/null || munged --force 2> /dev/null || true
