#!/bin/sh
# Entrypoint of the offline "redis" lesson image. It behaves like the official
# image's docker-entrypoint.sh (docker-library/redis), with busybox `su` in place
# of gosu, and it turns protected mode off the way the official build does.
set -e

# first arg is `-f` or `--some-option`, or first arg is `something.conf`:
# `docker run redis --appendonly yes` runs `redis-server --appendonly yes`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# allow the container to be started with `--user`; as root, hand /data to the
# redis user and come back here as that user (when the engine lets us switch)
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
	# (busybox su reorders options: `--` keeps the learner's arguments away from it)
	if su -s /bin/sh -c 'true' -- redis >/dev/null 2>&1; then
		exec su -s /bin/sh -c 'exec "$0" "$@"' -- redis "$0" "$@"
	fi
fi

# set an appropriate umask (if one isn't set already)
um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

# The official image compiles redis with protected mode off, so other containers
# on a network can connect; Debian's binary has it on. Turn it off unless a
# config file (or the learner) decides, or the config comes from stdin (`-`).
if [ "$1" = 'redis-server' ]; then
	last=''
	for last in "$@"; do :; done
	case "${2:-}" in
		'' | -*)
			case " $* " in
				*protected-mode*) ;;
				*) [ "$last" = '-' ] || set -- "$@" --protected-mode no ;;
			esac
			;;
	esac
fi

exec "$@"
