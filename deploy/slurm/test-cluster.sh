#!/usr/bin/env bash
# A one-node Slurm cluster on loopback for the test of the scripts (.ci/run starts it)
# (SWARMLAB_TEST_SLURM=1, crates/swarmlab/tests/it/deploy.rs). Debian's slurm-wlm and munge,
# run as root; nothing of it is meant for a real cluster: no GPUs, no cgroups, root jobs.
#
#   apt-get install -y slurm-wlm munge
#   deploy/slurm/test-cluster.sh            # writes /etc/slurm/slurm.conf, starts the daemons
#   SWARMLAB_TEST_SLURM=1 cargo test -p swarmlab --test it deploy::
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "test-cluster.sh: run as root (it starts munged, slurmctld, slurmd)" >&2; exit 2; }
state=${SLURM_TEST_STATE:-/tmp/swarmlab-slurm}
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
mkdir -p "$state"/{state,spool,log} /run/munge
chown munge:munge /run/munge
[ -s /etc/munge/munge.key ] || mungekey --create
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=swarmlab-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 30); do
  if sinfo --noheader --states=idle,mixed,allocated 2>/dev/null | grep -q .; then
    sinfo
    exit 0
  fi
  sleep 1
done
echo "test-cluster.sh: the node did not come up; see $state/log/" >&2
exit 1
