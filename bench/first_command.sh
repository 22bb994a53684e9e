#!/usr/bin/env bash
# bench/first_command.sh: times README's first command on a fresh Debian 12 root, as a new user
# would run it, and appends the figures to bench/RESULTS-first-command.md. Root only; needs
# debootstrap (apt-get install debootstrap) and Debian's mirror. ~5 min.
#     sudo bash bench/first_command.sh
# A minbase bookworm root (the host's apt sources), a clean clone of HEAD in it, /dev /proc /sys
# mounted (unmounted and the root removed on exit), then `time bash scripts/run-example.sh`
# under `env -i`. The job's own lines and the load average go beside the time.
set -euo pipefail
repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
root=$(mktemp -d /var/tmp/streambatch-fresh.XXXXXX)
cleanup() {
    for m in sys proc dev; do umount "$root/$m" 2>/dev/null || true; done
    mountpoint -q "$root/dev" || rm -rf --one-file-system "$root"
}
trap cleanup EXIT
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
git clone -q "$repo" "$root/root/streambatch"
mount --bind /dev "$root/dev"; mount -t proc proc "$root/proc"; mount -t sysfs sys "$root/sys"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s.%N)
out=$(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb \
      chroot "$root" bash -c 'cd /root/streambatch && bash scripts/run-example.sh' 2>&1)
end=$(date +%s.%N)
secs=$(printf '%.0f' "$(echo "$end - $start" | bc)")
{
    echo
    echo "## $(date -u +%F) $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, load $load_before → $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| real | $secs s |"
    echo "|---|---|"
    grep -E '^(loaded|records/s|peak RSS)' <<<"$out" | sed 's/^/| job | /; s/$/ |/'
} >> "$repo/bench/RESULTS-first-command.md"
echo "first command: $secs s (bench/RESULTS-first-command.md)"
