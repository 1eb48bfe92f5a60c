#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need, when missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
    libtap-parser-sourcehandler-pgtap-perl
    libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libgtest-dev
    python3 python3-aiosmtpd python3-psycopg2 python3-pytest
    openssl nginx-light libnginx-mod-http-echo procps iproute2 clang gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# Keep the packaged services from starting: the tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
[ "$created_policy" -eq 1 ] && $sudo rm -f "$policy"
exit 0
