#!/usr/bin/env bash
# A multi-node cluster on one machine (root): N "nodes", each its own network namespace
# (grlm-nodeI, address 198.51.100.I/24 on eth0) joined by veth pairs to one bridge (grlmbr0,
# 198.51.100.254: the host side, where slurmctld and mpirun run). No default route, no NAT, no
# forwarding: traffic stays between the namespaces this script made. Each node's processes get
# their own hostname (a UTS namespace per process tree: nodeI). The filesystem is shared (the
# machine's), as a cluster's shared filesystem would be.
#
#   scripts/local_cluster.sh up N       make the nodes, start munge, slurmctld and one slurmd per node
#   scripts/local_cluster.sh env        the shell lines that drive it: eval "$(scripts/local_cluster.sh env)"
#   scripts/local_cluster.sh down       stop the daemons, remove everything `up` made
#   scripts/local_cluster.sh status     nodes, addresses, daemons
#   scripts/local_cluster.sh rate R|off tc tbf on every link, both ways (e.g. 10gbit: 10 Gb/s Ethernet)
#   scripts/local_cluster.sh cut NODE | restore NODE   take a node's link down / up
#   scripts/local_cluster.sh kill NODE  SIGKILL every process in the node (daemons and ranks)
#   scripts/local_cluster.sh slurmd NODE   (re)start the node's slurmd (after kill)
#
# After `eval "$(scripts/local_cluster.sh env)"`:
#   mpirun --host node1:2,node2:2 -np 4 build/grlm run --config configs/demo.json ...
#   sbatch --nodes=2 --ntasks-per-node=2 slurm/grlm.sbatch configs/demo.json --set run_dir=$PWD/runs/x
# `up` twice, or `down` with nothing up, is harmless; `down` removes only what `up` recorded in
# GRLM_CLUSTER_DIR/made (namespaces, links, bridge, daemons, the folder itself). GRLM_CLUSTER_DIR (default /tmp/grlm-cluster)
# holds the Slurm config, spool, logs and the launcher agent; it must be reachable by every node
# (it is: one machine).
set -euo pipefail
DIR="${GRLM_CLUSTER_DIR:-/tmp/grlm-cluster}"
BRIDGE=grlmbr0
SUBNET=198.51.100
HOST_ADDR="$SUBNET.254"
NODE_TMP=/var/tmp/grlm-cluster-node  # each node's private TmpFS (a bind mount in its own mount namespace)
# CPUs each node offers Slurm (the nodes share the machine's cores): at least 4, so that a sweep
# can place 4 ranks on one node to compare with 4 nodes.
CPUS="${GRLM_CLUSTER_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}"

die() { echo "local_cluster: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, veth, bridge)"; }
nodes() { [ -f "$DIR/nodes" ] && cat "$DIR/nodes" || true; }
node_index() { [[ "$1" =~ ^node([0-9]+)$ ]] || die "no such node '$1' (node1 .. nodeN)"; echo "${BASH_REMATCH[1]}"; }
is_up() { [ -f "$DIR/nodes" ] && [ -f "$DIR/made" ] && ip netns list 2> /dev/null | grep -q "^grlm-node1\b"; }

# Runs a command inside NODE: its network namespace, a UTS namespace with its hostname, and a
# mount namespace where $NODE_TMP is the node's own folder (Slurm's TmpFS, which PMIx uses).
in_node() {
  local node="$1"; shift
  mkdir -p "$DIR/tmp/$node" "$NODE_TMP"
  nsenter --net="/run/netns/grlm-$node" unshare --uts --mount /bin/sh -c \
    'mount --bind "$1" "$2" && hostname "$3" && shift 3 && exec "$@"' in_node "$DIR/tmp/$node" "$NODE_TMP" "$node" "$@"
}

write_agent() {
  # Open MPI's launcher calls `AGENT HOST COMMAND...` as it would ssh: the command runs in the node.
  cat > "$DIR/rsh" <<AGENT
#!/bin/sh
host="\$1"; shift
[ -e "/run/netns/grlm-\$host" ] || { echo "local cluster: no node \$host" >&2; exit 255; }
GRLM_CLUSTER_DIR='$DIR' exec "$(realpath "$0")" exec "\$host" /bin/sh -c "\$*"
AGENT
  chmod +x "$DIR/rsh"
}

write_slurm_conf() {
  local count="$1" host
  host="$(hostname)"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  {
    cat <<CONF
ClusterName=grlmlocal
SlurmctldHost=$host($HOST_ADDR)
Include $(dirname "$(realpath "$0")")/slurm_local.conf
SlurmdParameters=config_overrides
SlurmdTimeout=10
MessageTimeout=5
KillWait=5
JobRequeue=1
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
TmpFS=$NODE_TMP
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.%n.log
CONF
    for i in $(seq "$count"); do
      echo "NodeName=node$i NodeAddr=$SUBNET.$i NodeHostname=node$i CPUs=$CPUS State=UNKNOWN"
    done
    echo "PartitionName=grlm Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } > "$DIR/slurm.conf"
}

start_slurmd() {
  local node="$1"
  mkdir -p "$DIR/spool/$node"
  in_node "$node" slurmd -f "$DIR/slurm.conf" -N "$node"
}

wait_idle() {
  local want="$1"
  for _ in $(seq 60); do
    [ "$(SLURM_CONF="$DIR/slurm.conf" sinfo -h -N -o %T 2> /dev/null | grep -cE 'idle|mixed|alloc')" -ge "$want" ] && return 0
    sleep 1
  done
  return 1
}

up() {
  need_root
  local count="${1:?usage: local_cluster.sh up N}"
  [[ "$count" =~ ^[1-9][0-9]{0,2}$ ]] && [ "$count" -le 253 ] || die "N must be 1 .. 253, not '$count'"
  if is_up; then
    [ "$(wc -w < "$DIR/nodes")" -eq "$count" ] || die "a cluster of $(wc -w < "$DIR/nodes") nodes is up: 'down' first"
    echo "# local cluster already up: $(nodes)" >&2
    env_lines
    return
  fi
  ip link show "$BRIDGE" > /dev/null 2>&1 &&
    die "a local cluster made with another GRLM_CLUSTER_DIR is up ($BRIDGE exists): 'down' it with that GRLM_CLUSTER_DIR first"
  command -v slurmctld > /dev/null && command -v munged > /dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge > /dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q slurm-wlm munge > /dev/null; }
  }
  if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/made" ]; then
    die "$DIR exists and is not a local cluster's folder (set GRLM_CLUSTER_DIR to a new one)"
  fi
  mkdir -p "$DIR" && : > "$DIR/made"
  trap 'echo "local_cluster: up failed, cleaning up" >&2; down > /dev/null 2>&1 || true' EXIT
  # Everything made is recorded in $DIR/made first: `down` removes exactly that.
  echo "bridge $BRIDGE" >> "$DIR/made"
  ip link add "$BRIDGE" type bridge
  ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local names=()
  for i in $(seq "$count"); do
    printf 'netns grlm-node%s\nlink grlm-n%sh\n' "$i" "$i" >> "$DIR/made"
    ip netns add "grlm-node$i"
    ip link add "grlm-n${i}h" type veth peer name "grlm-n${i}c"
    ip link set "grlm-n${i}h" master "$BRIDGE" up
    ip link set "grlm-n${i}c" netns "grlm-node$i"
    ip -n "grlm-node$i" link set "grlm-n${i}c" name eth0
    ip -n "grlm-node$i" addr add "$SUBNET.$i/24" dev eth0
    ip -n "grlm-node$i" link set eth0 up
    ip -n "grlm-node$i" link set lo up
    names+=("node$i")
  done
  echo "${names[*]}" > "$DIR/nodes"
  write_agent
  write_slurm_conf "$count"
  "$(dirname "$(realpath "$0")")/start_munge.sh"
  slurmctld -f "$DIR/slurm.conf"
  for node in "${names[@]}"; do start_slurmd "$node"; done
  wait_idle "$count" || die "the slurmds did not register (see $DIR/log/)"
  trap - EXIT
  echo "# local cluster up: ${names[*]} ($SUBNET.1-$count), slurmctld on $HOST_ADDR" >&2
  env_lines
}

env_lines() {
  is_up || die "no local cluster is up (scripts/local_cluster.sh up N)"
  cat <<ENV
export GRLM_CLUSTER_DIR=$DIR
export SLURM_CONF=$DIR/slurm.conf
export OMPI_MCA_plm_rsh_agent=$DIR/rsh
export OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_oob_tcp_if_include=$SUBNET.0/24
export OMPI_MCA_btl_tcp_if_include=$SUBNET.0/24
export OMPI_MCA_oob_tcp_keepalive_time=5
export OMPI_MCA_oob_tcp_keepalive_intvl=2
export OMPI_MCA_oob_tcp_keepalive_probes=3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GRLM_CLUSTER_NODES="$(nodes)"
# mpirun --host node1:2,node2:2 -np 4 build/grlm run ...   |   sbatch --nodes=2 --ntasks-per-node=2 slurm/grlm.sbatch ...
ENV
}

down() {
  need_root
  if [ ! -f "$DIR/made" ]; then
    echo "# no local cluster in $DIR" >&2
    return 0
  fi
  for pid_file in "$DIR"/slurmd.*.pid "$DIR/slurmctld.pid"; do
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2> /dev/null || true
  done
  pkill -f "slurmctld -f $DIR/slurm.conf" 2> /dev/null || true
  for ns in $(awk '$1 == "netns" {print $2}' "$DIR/made"); do
    for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null || true; done
    ip netns delete "$ns" 2> /dev/null || true
  done
  for link in $(awk '$1 == "link" {print $2}' "$DIR/made"); do ip link delete "$link" 2> /dev/null || true; done
  for bridge in $(awk '$1 == "bridge" {print $2}' "$DIR/made"); do ip link delete "$bridge" 2> /dev/null || true; done
  rm -rf "$DIR"
  rmdir "$NODE_TMP" 2> /dev/null || true
  echo "# local cluster down" >&2
}

status() {
  is_up || { echo "no local cluster"; return 0; }
  for node in $(nodes); do
    local i; i="$(node_index "$node")"
    printf "%-7s %-16s link %-5s procs %s\n" "$node" "$SUBNET.$i" \
      "$(ip -o link show "grlm-n${i}h" 2> /dev/null | grep -q 'state UP' && echo up || echo down)" \
      "$(ip netns pids "grlm-$node" 2> /dev/null | wc -l)"
  done
  SLURM_CONF="$DIR/slurm.conf" sinfo -N 2> /dev/null || true
}

rate() {
  need_root
  local value="${1:?usage: local_cluster.sh rate RATE|off (e.g. 10gbit)}"
  for node in $(nodes); do
    local i; i="$(node_index "$node")"
    if [ "$value" = off ]; then
      tc qdisc del dev "grlm-n${i}h" root 2> /dev/null || true
      tc -n "grlm-$node" qdisc del dev eth0 root 2> /dev/null || true
    else
      tc qdisc replace dev "grlm-n${i}h" root tbf rate "$value" burst 4mb latency 100ms
      tc -n "grlm-$node" qdisc replace dev eth0 root tbf rate "$value" burst 4mb latency 100ms
    fi
  done
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  env) env_lines ;;
  status) status ;;
  rate) shift; rate "$@" ;;
  cut) need_root; i="$(node_index "${2:?node}")"; ip link set "grlm-n${i}h" down ;;
  restore) need_root; i="$(node_index "${2:?node}")"; ip link set "grlm-n${i}h" up ;;
  kill) need_root; node_index "${2:?node}" > /dev/null
        for pid in $(ip netns pids "grlm-$2"); do kill -9 "$pid" 2> /dev/null || true; done ;;
  slurmd) need_root; node_index "${2:?node}" > /dev/null; start_slurmd "$2" ;;
  exec) shift; node="${1:?node}"; shift; in_node "$node" "$@" ;;
  ""|help|-h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0" ;;
  *) echo "local_cluster: unknown command '$1' (scripts/local_cluster.sh help)" >&2; exit 2 ;;
esac
