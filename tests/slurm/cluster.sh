# tests/slurm/cluster.sh: a one-node Slurm cluster in a temp dir, for the tests of tests/slurm.
# Sourced (bash), never run. No systemd, no /etc: munged with a key made here, slurmctld and
# slurmd on free loopback ports, a generated slurm.conf that every Slurm command finds through
# SLURM_CONF. Needs root (slurmd starts jobs as their user; SlurmUser=root).
#
#   slurm_cluster_start DIR   start munged, slurmctld and slurmd in DIR (created, must be empty);
#                             export SLURM_CONF; wait until the node is idle. Returns 77 (and
#                             prints why) when Slurm or munge is missing or we are not root.
#                             SLURM_CGROUP=yes|no|auto (default auto): the task/cgroup plugin
#                             (memory cgroups from --mem) when the cgroup v1 memory controller
#                             is writable here, else task/none; slurm_cgroup says which, and
#                             slurm_cgroup_why why not.
#   slurm_cluster_stop        cancel every job, stop the daemons, then SIGKILL any process left
#                             whose environment names this cluster's slurm.conf (slurmstepd,
#                             job steps): only what this cluster started. Safe to call twice,
#                             and from an EXIT trap after a failure at any point.
#   slurm_task_field JOB K F  field F (JobState, ExitCode, Restarts, ...) of array task K
#   slurm_wait_done JOB       wait until no task of JOB is pending, running or completing
#   slurm_dump                the daemons' logs, for a failure message
#
# Everything lives in DIR: munge/ (key, socket, pid, log), state/ (StateSaveLocation), spool/
# (SlurmdSpoolDir), log/, slurm.conf, cgroup.conf. The memory cgroups slurmd makes (v1:
# /sys/fs/cgroup/memory/slurm_localhost/uid_0/job_N/...) are removed with the jobs; the empty
# parents it leaves are removed on stop.

slurm_dir=
slurm_cgroup=no
slurm_cgroup_why=

_slurm_log() { echo "slurm cluster: $*" >&2; }

# Two free TCP ports on 127.0.0.1 (the kernel picks them; they stay free after the close).
_slurm_free_ports() {
    python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

_slurm_pid_alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

_slurm_wait_gone() { # PID: up to 15 s, then SIGKILL
    local pid=$1 i
    for i in $(seq 150); do _slurm_pid_alive "$pid" || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# Can slurmd's task/cgroup plugin (cgroup/v1) make memory cgroups here? It needs the v1 memory
# controller mounted at /sys/fs/cgroup/memory and writable (root, not a read-only mount).
_slurm_cgroup_check() {
    local probe
    if [[ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]]; then
        slurm_cgroup_why="no cgroup v1 memory controller at /sys/fs/cgroup/memory ($(grep -E ' cgroup2? ' /proc/self/mounts | awk '{print $2 " " $3 " " $4}' | tr '\n' ';'))"
        return 1
    fi
    probe=/sys/fs/cgroup/memory/streambatch_slurm_probe_$$
    if ! mkdir "$probe" 2>/tmp/streambatch_slurm_probe_err_$$; then
        slurm_cgroup_why="cannot create a memory cgroup: $(cat /tmp/streambatch_slurm_probe_err_$$)"
        rm -f /tmp/streambatch_slurm_probe_err_$$
        return 1
    fi
    rm -f /tmp/streambatch_slurm_probe_err_$$
    rmdir "$probe"
    return 0
}

slurm_cluster_start() {
    slurm_dir=$(mkdir -p "$1" && cd "$1" && pwd)
    local tool
    for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol scancel sinfo python3; do
        if ! command -v "$tool" >/dev/null; then
            echo "SKIP: $tool not found (Debian: slurmctld slurmd slurm-client munge python3; bash scripts/install-deps.sh)"
            return 77
        fi
    done
    if (($(id -u) != 0)); then
        echo "SKIP: the one-node Slurm cluster needs root (slurmd runs jobs as their user)"
        return 77
    fi
    case ${SLURM_CGROUP:-auto} in
        no) slurm_cgroup=no slurm_cgroup_why="SLURM_CGROUP=no" ;;
        yes | auto)
            if _slurm_cgroup_check; then
                slurm_cgroup=yes
            elif [[ ${SLURM_CGROUP:-auto} == yes ]]; then
                _slurm_log "SLURM_CGROUP=yes but $slurm_cgroup_why"
                return 1
            else
                slurm_cgroup=no
            fi
            ;;
    esac

    local d=$slurm_dir
    mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log"
    chmod 711 "$d" "$d/munge" # munged: the socket's directory must be searchable by all
    mungekey --create --keyfile="$d/munge/munge.key" --force >/dev/null
    chmod 400 "$d/munge/munge.key"
    munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
        --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
        --seed-file="$d/munge/munged.seed" ||
        { _slurm_log "munged did not start:"; cat "$d/munge/munged.log" >&2; return 1; }

    local ctld_port slurmd_port cpus memory
    read -r ctld_port slurmd_port < <(_slurm_free_ports)
    # The node as slurmd sees it (slurmd -C): CPUs and RealMemory in MiB.
    cpus=$(slurmd -C | sed -n 's/.* CPUs=\([0-9]*\) .*/\1/p')
    memory=$(slurmd -C | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
    [[ -n $cpus && -n $memory ]] || { _slurm_log "slurmd -C said: $(slurmd -C)"; return 1; }

    local task_plugin=task/none proctrack=proctrack/linuxproc
    if [[ $slurm_cgroup == yes ]]; then
        task_plugin=task/cgroup proctrack=proctrack/cgroup
        cat >"$d/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
ConstrainCores=no
ConstrainDevices=no
EOF
    fi
    # cred_expire: how long a requeued job waits before it may start again (default 120 s).
    # OverSubscribe=FORCE:4: the 4 tasks of an array share the cores, as mpirun --oversubscribe
    # does; memory stays a consumable resource (CR_Core_Memory).
    cat >"$d/slurm.conf" <<EOF
ClusterName=streambatch
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=$proctrack
TaskPlugin=$task_plugin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=batch Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
    export SLURM_CONF=$d/slurm.conf
    slurmctld -i || { _slurm_log "slurmctld did not start:"; slurm_dump; return 1; }
    slurmd -N localhost || { _slurm_log "slurmd did not start:"; slurm_dump; return 1; }
    local i state=
    for i in $(seq 600); do # up to 60 s
        state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
        [[ $state == idle ]] && break
        sleep 0.1
    done
    [[ $state == idle ]] || { _slurm_log "the node is not idle but '$state':"; slurm_dump; return 1; }
    _slurm_log "up in $d (slurmctld :$ctld_port, slurmd :$slurmd_port, $cpus CPUs, $memory MiB, $task_plugin)"
}

# SIGKILL every process whose environment names this cluster's slurm.conf (slurmd's and
# slurmctld's children inherit it: slurmstepd, the job scripts, srun, the tasks), by pid,
# except the pids given and their children (slurmctld's slurmscriptd: without it, slurmctld
# does not stop on SIGTERM).
_slurm_kill_ours() {
    local env_file pid ppid
    for env_file in $(grep -lsxzF "SLURM_CONF=$slurm_dir/slurm.conf" /proc/[0-9]*/environ); do
        pid=${env_file#/proc/}
        pid=${pid%/environ}
        ppid=$(sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/' "/proc/$pid/stat" 2>/dev/null || true) # "pid (comm) state ppid ..."
        [[ $pid == "$$" || $pid == "$BASHPID" || " $* " == *" $pid "* || " $* " == *" $ppid "* ]] && continue
        kill -9 "$pid" 2>/dev/null || true
    done
}

slurm_cluster_stop() {
    [[ -n $slurm_dir && -f $slurm_dir/slurm.conf ]] || return 0
    local d=$slurm_dir pid i f began=$SECONDS daemons=()
    export SLURM_CONF=$d/slurm.conf
    if _slurm_pid_alive "$(cat "$d/slurmctld.pid" 2>/dev/null)"; then
        # (bounded: a controller that is hung or dying would keep them retrying for long)
        timeout 5 scancel --full --quiet --user=root 2>/dev/null || true
        local left
        for i in $(seq 50); do # up to 5 s for the jobs to end
            left=$(timeout 2 squeue -h -o %i 2>/dev/null) || break # no answer: kill them below
            [[ -z $left ]] && break
            sleep 0.1
        done
    fi
    for f in slurmd.pid slurmctld.pid munge/munged.pid; do
        pid=$(cat "$d/$f" 2>/dev/null || true)
        _slurm_pid_alive "$pid" && daemons+=("$pid")
    done
    _slurm_kill_ours "${daemons[@]}" # what the jobs left running, then the daemons
    for pid in "${daemons[@]}"; do
        kill "$pid" 2>/dev/null || true
        _slurm_wait_gone "$pid"
    done
    _slurm_kill_ours
    # The empty cgroups slurmd leaves behind (rmdir never removes one in use).
    local c
    for c in /sys/fs/cgroup/*/slurm_localhost; do
        [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    _slurm_log "stopped in $((SECONDS - began)) s"
    slurm_dir=
}

slurm_task_field() { # JOB K FIELD
    scontrol -o show job "$1" 2>/dev/null | grep -E "(^| )ArrayTaskId=$2( |$)" |
        grep -o "\b$3=[^ ]*" | head -1 | cut -d= -f2- || true
}

slurm_wait_done() { # JOB [SECONDS, default 240]: a hang guard, not a timing
    local i
    for i in $(seq $((${2:-240} * 5))); do
        if ! squeue -h -j "$1" -t PENDING,RUNNING,COMPLETING,REQUEUED,CONFIGURING,SUSPENDED -o %i 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.2
    done
    _slurm_log "job $1 still not done after ${2:-240} s:"
    squeue -j "$1" >&2 || true
    return 1
}

slurm_dump() {
    [[ -n $slurm_dir ]] || return 0
    local f
    for f in "$slurm_dir"/log/slurmctld.log "$slurm_dir"/log/slurmd.log "$slurm_dir"/munge/munged.log; do
        [[ -f $f ]] || continue
        echo "--- $f (last 40 lines, without the PMIx plugin's errors)" >&2
        grep -v 'pmix' "$f" | tail -40 >&2
    done
}
