#!/bin/sh
# Installs the Debian 12 packages mcferry needs to build, test and demo.
# Idempotent: does nothing when every package is already present.
# node-llhttp ships llhttp's C sources, compiled into mcferry (http.c);
# curl, ffmpeg, vlc, chromium and prometheus are the players, browser and
# scraper of tests/net/test_http.py.
# `deps.sh deb`: also what `make deb` needs (debhelper, lintian...).
set -eu
PKGS="gcc make meson ninja-build pkg-config libuv1-dev libcmocka-dev \
python3 python3-pytest socat iproute2 scdoc procps valgrind \
libssl-dev openssl systemd libsrt-openssl-dev srt-tools iptables \
node-llhttp curl ffmpeg vlc-bin vlc-plugin-base chromium prometheus"
if [ "${1:-}" = deb ]; then
	PKGS="$PKGS debhelper devscripts lintian fakeroot dpkg-dev git"
fi
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
