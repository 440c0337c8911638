#!/bin/sh
# Run a command inside a private mount namespace in which /etc knows the
# test users and the sudo policy of a test, without changing the host:
#   sudo_ns.sh ETC_OVERLAY -- COMMAND...
# ETC_OVERLAY holds passwd, group, pam.d/ and sudoers.d/; each is bound
# over its /etc counterpart in this namespace only.
set -e
overlay=$1
shift
[ "$1" = "--" ] && shift
exec unshare -m --propagation private sh -c '
	set -e
	o=$1; shift
	for f in passwd group; do mount --bind "$o/$f" "/etc/$f"; done
	mount --bind "$o/pam.d" /etc/pam.d
	mount --bind "$o/sudoers.d" /etc/sudoers.d
	exec "$@"
' sudo_ns "$overlay" "$@"
