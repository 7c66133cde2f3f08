#!/bin/sh
# Installs the Debian 12 packages mcferry needs to build, test and demo.
# Idempotent: does nothing when every package is already present.
set -eu
PKGS="gcc make meson ninja-build pkg-config libuv1-dev libcmocka-dev \
python3 python3-pytest socat iproute2 scdoc procps valgrind \
libssl-dev openssl libsrt-openssl-dev srt-tools ffmpeg iptables"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
