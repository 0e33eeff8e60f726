#!/usr/bin/env bash
# Install the offline sound sets that `swansphere data sources` catalogues.
#
#   scripts/install-sound-sets.sh [--minimal] [--no-apt] [--no-pip] [--dry-run]
#
# Debian 12 (main) packages, ~640 MB download / 1.1 GB installed for the full set
# (--minimal: ~75 MB, the small sets plus espeak-ng, flite and fluidsynth with the 6 MB GM font,
# and WordNet 3.0, which `swansphere data sound-words` rebuilds the sound-word table from).
# The CC0 Kenney sounds of the PyPI wheel `arcade` are unpacked (no install, no dependencies)
# into $SWANSPHERE_SOUNDS/arcade (default ~/.local/share/swansphere/sounds).
# Licences differ per set; `swansphere data sources` lists them and the shipped model only
# learns from permissively licensed clips.
set -euo pipefail

minimal=0 apt=1 pip=1 dry=0
for arg in "$@"; do
  case "$arg" in
    --minimal) minimal=1 ;;
    --no-apt) apt=0 ;;
    --no-pip) pip=0 ;;
    --dry-run) dry=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install-sound-sets.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

run() { if [ "$dry" = 1 ]; then echo "+ $*"; else "$@"; fi; }

small_sets=(sonic-pi-samples sound-theme-freedesktop sound-icons pekka-kana-2-data efl-doc
            espeak-ng flite fluidsynth timgm6mb-soundfont wordnet-base)
full_sets=(tuxpaint-stamps-default gcompris-qt-data qabcs-data hydrogen-drumkits hydrogen-data
           fluid-soundfont-gm)

if [ "$apt" = 1 ]; then
  packages=("${small_sets[@]}")
  [ "$minimal" = 1 ] || packages+=("${full_sets[@]}")
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  run "${sudo_cmd[@]}" apt-get update
  run env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y \
    --no-install-recommends "${packages[@]}"
fi

if [ "$pip" = 1 ]; then
  target="${SWANSPHERE_SOUNDS:-$HOME/.local/share/swansphere/sounds}/arcade"
  python="${PYTHON:-python3}"
  workdir="$(mktemp -d)"
  trap 'rm -rf "$workdir"' EXIT
  run "$python" -m pip download --quiet --no-deps arcade==3.3.3 -d "$workdir"
  run mkdir -p "$target"
  run "$python" - "$workdir" "$target" <<'PY'
import pathlib, sys, zipfile
workdir, target = map(pathlib.Path, sys.argv[1:3])
prefix = "arcade/resources/assets/sounds/"
for wheel in workdir.glob("arcade-*.whl"):
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                (target / pathlib.Path(name).name).write_bytes(archive.read(name))
print(f"arcade sounds in {target}")
PY
fi
echo "done; run 'swansphere data sources' to see what is catalogued"
