#!/usr/bin/env bash
# fuzz/probe/make_corpus.sh: writes the seed corpus of fuzz_probe into fuzz/probe/corpus/.
#
# Each seed is a fixture tree in fuzz_probe's input format: sections separated by the byte
# 0x1E - statm, meminfo, mountinfo, /proc/self/cgroup, then cgroup files as
# "<path relative to the root>\n<text>". The trees are the shapes the probe meets: cgroup v1
# (as on our CI machines), v2, hybrid hosts, containers with cgroup namespaces, old kernels,
# and the garbage the probe must reject with probe_error. Run it after changing a seed; the
# corpus is kept in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus
rm -rf "$out"
mkdir -p "$out"

RS=$'\x1e'
# seed NAME STATM MEMINFO MOUNTINFO CGROUP [FILE...]; FILE is "path<newline>text"
seed() {
    local name=$1
    shift
    local text=$1
    shift
    for s in "$@"; do text+="$RS$s"; done
    printf '%s' "$text" >"$out/$name"
}
f() { printf '%s\n%s' "$1" "$2"; } # a cgroup file section

statm=$'52000 2500 3100 200 0 41000 0\n'
meminfo=$'MemTotal:       24684096 kB\nMemFree:        20370896 kB\nMemAvailable:   22169164 kB\nBuffers:           11740 kB\nCached:          1952756 kB\nSwapCached:            0 kB\nActive:           871200 kB\nInactive:        2100400 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:               120 kB\nShmem:              8196 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n'
meminfo_old=$'MemTotal:        4048576 kB\nMemFree:          1048576 kB\nBuffers:           262144 kB\nCached:           1194304 kB\nSwapCached:          4096 kB\n'

mnt_base=$'22 27 0:21 / /proc rw,relatime - proc proc rw\n23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n'
mnt_v1="$mnt_base"$'32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n'
mnt_hybrid="$mnt_v1"$'41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate\n'
mnt_v2="$mnt_base"$'35 23 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n'
mnt_unified_only="$mnt_v1"$'41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n'

cg_v1=$'9:name=systemd:/\n8:pids:/\n4:memory:/jobs/etl\n2:cpu,cpuacct:/\n0::/\n'
cg_v2=$'0::/system.slice/etl.service\n'

v1stat() { # usage-ish figures in bytes: total_inactive_file, total_active_file
    printf 'cache %s\nrss %s\nrss_huge 0\nshmem 0\nmapped_file 16384\ndirty 28672\nwriteback 0\nswap 0\npgpgin 19702\npgpgout 19186\npgfault 46698\npgmajfault 10\ninactive_anon %s\nactive_anon 8192\ninactive_file %s\nactive_file %s\nunevictable 0\nhierarchical_memory_limit %s\nhierarchical_memsw_limit %s\ntotal_cache %s\ntotal_rss %s\ntotal_inactive_anon %s\ntotal_active_anon 8192\ntotal_inactive_file %s\ntotal_active_file %s\ntotal_unevictable 0\n' \
        "$(($1 + $2))" "$3" "$3" "$1" "$2" "$4" "$4" "$(($1 + $2))" "$3" "$3" "$1" "$2"
}
v2stat() { # inactive_file active_file anon
    printf 'anon %s\nfile %s\nkernel 4194304\nkernel_stack 65536\npagetables 131072\nsock 0\nshmem 0\nfile_mapped 1048576\nfile_dirty 0\nfile_writeback 0\nanon_thp 0\ninactive_anon %s\nactive_anon 0\ninactive_file %s\nactive_file %s\nunevictable 0\nslab 1048576\nworkingset_refault_file 0\npgfault 12000\n' \
        "$3" "$(($1 + $2))" "$3" "$1" "$2"
}
V1=sys/fs/cgroup/memory
V2=sys/fs/cgroup
UNL=9223372036854771712

# --- cgroup v1 ---------------------------------------------------------------------------
seed v1_leaf_limit "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 268435456)" "$(f $V1/jobs/etl/memory.usage_in_bytes 201326592)" \
    "$(f $V1/jobs/etl/memory.stat "$(v1stat 33554432 4194304 163577856 268435456)")" \
    "$(f $V1/jobs/memory.limit_in_bytes $UNL)" "$(f $V1/jobs/memory.usage_in_bytes 201326592)" \
    "$(f $V1/memory.limit_in_bytes $UNL)" "$(f $V1/memory.usage_in_bytes 2013265920)"
seed v1_unlimited "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes $UNL)" "$(f $V1/jobs/etl/memory.usage_in_bytes 3272704)" \
    "$(f $V1/jobs/etl/memory.stat "$(v1stat 167936 229376 1720320 $UNL)")" \
    "$(f $V1/jobs/memory.limit_in_bytes $UNL)" "$(f $V1/memory.limit_in_bytes $UNL)"
seed v1_parent_limit "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes $UNL)" "$(f $V1/jobs/etl/memory.usage_in_bytes 100000000)" \
    "$(f $V1/jobs/memory.limit_in_bytes 134217728)" "$(f $V1/jobs/memory.usage_in_bytes 120000000)" \
    "$(f $V1/jobs/memory.stat "$(v1stat 1000000 0 119000000 134217728)")" "$(f $V1/memory.limit_in_bytes $UNL)"
seed v1_stat_without_total "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 268435456)" "$(f $V1/jobs/etl/memory.usage_in_bytes 201326592)" \
    "$(f $V1/jobs/etl/memory.stat $'cache 100\nrss 200\ninactive_file 104857600\nactive_file 0\n')"
seed v1_page_cache_full "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 209715200)" "$(f $V1/jobs/etl/memory.usage_in_bytes 209715200)" \
    "$(f $V1/jobs/etl/memory.stat "$(v1stat 203423744 0 4194304 209715200)")"
seed v1_active_page_cache "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 209715200)" "$(f $V1/jobs/etl/memory.usage_in_bytes 170917888)" \
    "$(f $V1/jobs/etl/memory.stat "$(v1stat 0 169869312 3944448 209715200)")"
seed v1_limit_above_memtotal "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 68719476736)" "$(f $V1/jobs/etl/memory.usage_in_bytes 1048576)"
seed v1_limit_zero "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 0)" "$(f $V1/jobs/etl/memory.usage_in_bytes 0)"
seed v1_at_mount_point "$statm" "$meminfo" "$mnt_v1" $'4:memory:/\n0::/\n' \
    "$(f $V1/memory.limit_in_bytes 536870912)" "$(f $V1/memory.usage_in_bytes 268435456)" \
    "$(f $V1/memory.stat "$(v1stat 0 0 268435456 536870912)")"
seed v1_stale_path "$statm" "$meminfo" "$mnt_v1" $'4:memory:/gone/away\n' \
    "$(f $V1/memory.limit_in_bytes 536870912)" "$(f $V1/memory.usage_in_bytes 268435456)"
seed v1_namespace_root "$statm" "$meminfo" \
    "$mnt_base"$'35 31 0:32 /docker/4f1c /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n' \
    $'4:memory:/docker/4f1c\n' \
    "$(f $V1/memory.limit_in_bytes 1073741824)" "$(f $V1/memory.usage_in_bytes 805306368)" \
    "$(f $V1/memory.stat "$(v1stat 104857600 0 700000000 1073741824)")"
seed v1_namespace_prefix_midname "$statm" "$meminfo" \
    "$mnt_base"$'35 31 0:32 /docker/4f /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n' \
    $'4:memory:/docker/4f1c\n' "$(f $V1/memory.limit_in_bytes 1073741824)" "$(f $V1/memory.usage_in_bytes 5)"
seed v1_deep "$statm" "$meminfo" "$mnt_v1" $'4:memory:/a/b/c/d/e/f\n' \
    "$(f $V1/a/b/c/d/e/f/memory.limit_in_bytes $UNL)" "$(f $V1/a/b/c/d/e/f/memory.usage_in_bytes 9000000)" \
    "$(f $V1/a/b/c/memory.limit_in_bytes 10000000)" "$(f $V1/a/b/c/memory.usage_in_bytes 9500000)" \
    "$(f $V1/a/b/memory.limit_in_bytes 20000000)" "$(f $V1/a/b/memory.usage_in_bytes 9500000)" \
    "$(f $V1/a/memory.limit_in_bytes $UNL)" "$(f $V1/memory.limit_in_bytes $UNL)"
seed v1_escaped_mount "$statm" "$meminfo" \
    "$mnt_base"$'35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n' $'4:memory:/x:y\n' \
    "$(f 'sys/fs/cgroup/mem ory/x:y/memory.limit_in_bytes' 100000000)" \
    "$(f 'sys/fs/cgroup/mem ory/x:y/memory.usage_in_bytes' 50000000)"

# --- cgroup v2 ---------------------------------------------------------------------------
seed v2_max_limit "$statm" "$meminfo" "$mnt_v2" "$cg_v2" \
    "$(f $V2/cgroup.controllers 'cpuset cpu io memory hugetlb pids rdma misc')" \
    "$(f $V2/system.slice/etl.service/memory.max 268435456)" "$(f $V2/system.slice/etl.service/memory.high max)" \
    "$(f $V2/system.slice/etl.service/memory.current 230686720)" \
    "$(f $V2/system.slice/etl.service/memory.stat "$(v2stat 20971520 1048576 204472320)")" \
    "$(f $V2/system.slice/memory.max max)" "$(f $V2/system.slice/memory.high max)" \
    "$(f $V2/system.slice/memory.current 1800000000)"
seed v2_unlimited "$statm" "$meminfo" "$mnt_v2" "$cg_v2" \
    "$(f $V2/system.slice/etl.service/memory.max max)" "$(f $V2/system.slice/etl.service/memory.high max)" \
    "$(f $V2/system.slice/etl.service/memory.current 30686720)" \
    "$(f $V2/system.slice/etl.service/memory.stat "$(v2stat 0 0 30686720)")"
seed v2_high_below_max "$statm" "$meminfo" "$mnt_v2" "$cg_v2" \
    "$(f $V2/system.slice/etl.service/memory.max 536870912)" \
    "$(f $V2/system.slice/etl.service/memory.high 402653184)" \
    "$(f $V2/system.slice/etl.service/memory.current 380000000)" \
    "$(f $V2/system.slice/etl.service/memory.stat "$(v2stat 10000000 5000000 360000000)")"
seed v2_user_slice "$statm" "$meminfo" "$mnt_v2" $'0::/user.slice/user-1000.slice/session-2.scope\n' \
    "$(f $V2/user.slice/user-1000.slice/session-2.scope/memory.max max)" \
    "$(f $V2/user.slice/user-1000.slice/session-2.scope/memory.current 1000000)" \
    "$(f $V2/user.slice/user-1000.slice/memory.max 2147483648)" \
    "$(f $V2/user.slice/user-1000.slice/memory.current 1900000000)" "$(f $V2/user.slice/memory.max max)"
seed v2_container "$statm" "$meminfo" \
    "$mnt_base"$'40 23 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n' $'0::/\n' \
    "$(f $V2/memory.max 1073741824)" "$(f $V2/memory.current 900000000)" \
    "$(f $V2/memory.stat "$(v2stat 100000000 50000000 700000000)")"
seed v2_no_memory_files "$statm" "$meminfo" "$mnt_v2" "$cg_v2" \
    "$(f $V2/cgroup.controllers 'cpu io pids')" "$(f $V2/system.slice/etl.service/cgroup.procs 1234)"

# --- hybrid and none ---------------------------------------------------------------------
seed hybrid_v1_memory "$statm" "$meminfo" "$mnt_hybrid" $'12:memory:/jobs/etl\n1:name=systemd:/jobs\n0::/jobs\n' \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 268435456)" "$(f $V1/jobs/etl/memory.usage_in_bytes 100000000)" \
    "$(f sys/fs/cgroup/unified/jobs/cgroup.procs 1)"
seed hybrid_no_v1_memory "$statm" "$meminfo" "${mnt_unified_only//,memory/}" $'0::/jobs\n' \
    "$(f sys/fs/cgroup/unified/jobs/cgroup.procs 1)"
seed no_cgroup_fs "$statm" "$meminfo" "$mnt_base" ""
seed proc_only "$statm" "$meminfo"

# --- /proc itself ------------------------------------------------------------------------
seed meminfo_old_kernel "$statm" "$meminfo_old" "$mnt_v1" "$cg_v1"
seed meminfo_available_above_total "$statm" $'MemTotal: 1000 kB\nMemAvailable: 5000 kB\n' "" ""
seed meminfo_no_kb $'1 1\n' $'MemTotal: 1048576\nMemAvailable: 524288\n' "" ""
seed meminfo_huge $'1 1\n' $'MemTotal: 18446744073709551615 kB\nMemAvailable: 18014398509481984 kB\n' "" ""
seed meminfo_garbage "$statm" $'MemTotal: lots kB\nMemAvailable: 1 kB\n' "" ""
seed meminfo_no_total "$statm" $'MemFree: 1 kB\n' "" ""
seed statm_garbage $'fifty two\n' "$meminfo" "" ""
seed statm_one_field $'52000\n' "$meminfo" "" ""
seed limit_garbage "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 'two hundred')" "$(f $V1/jobs/etl/memory.usage_in_bytes 1)"
seed usage_garbage "$statm" "$meminfo" "$mnt_v2" "$cg_v2" \
    "$(f $V2/system.slice/etl.service/memory.max 268435456)" "$(f $V2/system.slice/etl.service/memory.current -1)"
seed stat_garbage "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 268435456)" "$(f $V1/jobs/etl/memory.usage_in_bytes 100)" \
    "$(f $V1/jobs/etl/memory.stat $'total_inactive_file many\n')"
seed mountinfo_short_lines "$statm" "$meminfo" $'1 2 3\n - cgroup\n35 31 0:32 / - cgroup cgroup memory\n - - - \n' \
    $'4:memory\n::\n0::\n'
seed cgroup_colons "$statm" "$meminfo" "$mnt_v1" $'4:memory:/a:b:c\n4:memory,cpu:/d\n' \
    "$(f $V1/d/memory.limit_in_bytes 1000000)" "$(f $V1/d/memory.usage_in_bytes 10)"

# A large memory.stat (a real one on a host with many NUMA/counter lines is 3-6 KB; this one
# passes the probe's 16 KiB read buffer, so total_inactive_file falls past its end).
big_stat=""
for i in $(seq 1 1300); do big_stat+="counter_$i $i"$'\n'; done
big_stat+=$'total_inactive_file 104857600\n'
seed v1_stat_over_16k "$statm" "$meminfo" "$mnt_v1" "$cg_v1" \
    "$(f $V1/jobs/etl/memory.limit_in_bytes 268435456)" "$(f $V1/jobs/etl/memory.usage_in_bytes 201326592)" \
    "$(f $V1/jobs/etl/memory.stat "$big_stat")"

n=$(ls "$out" | wc -l)
bytes=$(du -cb "$out"/* | tail -1 | cut -f1)
echo "make_corpus.sh: $n seeds, $bytes bytes in $out"
