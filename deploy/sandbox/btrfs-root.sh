#!/bin/sh
# The sandbox engine's data root on btrfs, so the kernel bounds each learner container's
# writable layer (the tutor passes --storage-opt size=TUTOR_DISK_MB; see SECURITY.md, Q15).
# /var/lib/docker already on btrfs (a btrfs volume): used as it is. Otherwise a sparse file
# of SANDBOX_DISK_GB (default 40) in the persistent /var/lib/docker-store is formatted once
# and loop-mounted there (this container is privileged, as Docker-in-Docker must be).
set -eu
if [ "$(stat -f -c %T /var/lib/docker 2>/dev/null)" != "btrfs" ]; then
  store=/var/lib/docker-store
  mkdir -p "$store" /var/lib/docker
  if [ ! -f "$store/btrfs.img" ]; then
    truncate -s "${SANDBOX_DISK_GB:-40}G" "$store/btrfs.img"
    mkfs.btrfs -q "$store/btrfs.img"
  fi
  mount -o loop "$store/btrfs.img" /var/lib/docker
fi
exec dockerd-entrypoint.sh "$@"
