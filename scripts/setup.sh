#!/usr/bin/env bash
# Set up a development environment in .venv: the package (editable) with its test extras,
# plus the Debian data packages that the tests and the binaural renderer use when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${SWANSPHERE_EXTRAS:-test,sim,text,vision,train,plot,demo}"
DEBIAN_PACKAGES=(libmysofa1 ffmpeg)   # MIT KEMAR HRTF set (binaural); ffmpeg + ffprobe (360° MP4)
DEBIAN_PACKAGES+=(chromium chromium-driver)  # the browser tests of the demo (tests/demo)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for package in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
else
    echo "setup: not root; skipping Debian packages (${DEBIAN_PACKAGES[*]})"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
echo "setup: installing swansphere[$EXTRAS] into .venv (torch comes from the local wheel cache)"
log=$(mktemp)
if ! .venv/bin/pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]" >"$log" 2>&1; then
    grep -v "^WARNING: Location .* is ignored" "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
# aisfx ships the frozen audio embedding behind `swansphere eval`'s Fréchet distance; it pins an
# old numpy/librosa that its weights do not need, so it goes in without dependencies.
echo "setup: installing aisfx 0.1.2 (--no-deps) for the evaluation embedding"
log=$(mktemp)
if ! .venv/bin/pip install --quiet --disable-pip-version-check --no-deps "aisfx==0.1.2" \
        >"$log" 2>&1; then
    grep -v "^WARNING: Location .* is ignored" "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
.venv/bin/python -c "import swansphere; print('setup: swansphere', swansphere.__version__, 'ready')"
