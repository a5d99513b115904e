#!/usr/bin/env bash
# Desktop integration for the current user (XDG dirs): `make install-desktop` / `uninstall-desktop`.
#
#   desktop.sh validate     check the .desktop and AppStream files (installs the Debian validators
#                           desktop-file-utils / appstream when missing and apt-get is usable)
#   desktop.sh install      write a launcher wrapper that runs $STEWARD_BIN, the .desktop entry,
#                           the icons (SVG + PNGs) and the metainfo under $XDG_DATA_HOME
#   desktop.sh uninstall    remove exactly those files again
#
# STEWARD_BIN: the steward executable the launcher runs (the Makefile passes the venv's).
set -euo pipefail

APP_ID=io.github.steward.Steward
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
LAUNCHER="$DATA/steward/launcher/steward"
DESKTOP="$DATA/applications/$APP_ID.desktop"
METAINFO="$DATA/metainfo/$APP_ID.metainfo.xml"
SVG="$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
SIZES="16 32 48 64 128 256"

png() { echo "$DATA/icons/hicolor/$1x$1/apps/$APP_ID.png"; }

ensure_validators() {
    local missing=()
    command -v desktop-file-validate >/dev/null || missing+=(desktop-file-utils)
    command -v appstreamcli >/dev/null || missing+=(appstream)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[steward] installing ${missing[*]} (Debian) for the validators"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "[steward] missing validators: install the packages ${missing[*]}" >&2
        return 1
    fi
}

validate() {
    ensure_validators
    desktop-file-validate "$HERE/steward.desktop"
    # --no-net: the screenshots and homepage are checked by the tests, not fetched.
    appstreamcli validate --no-net "$HERE/$APP_ID.metainfo.xml"
    echo "[steward] desktop entry and AppStream metainfo are valid"
}

refresh_caches() {
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database -q "$DATA/applications" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
    fi
}

install_files() {
    : "${STEWARD_BIN:?set STEWARD_BIN to the steward executable the launcher should run}"
    if [ ! -x "$STEWARD_BIN" ]; then
        echo "[steward] $STEWARD_BIN is not an executable; run \`make install\` (or build the bundle) first" >&2
        return 1
    fi
    local target
    target="$(cd "$(dirname "$STEWARD_BIN")" && pwd)/$(basename "$STEWARD_BIN")"
    mkdir -p "$(dirname "$LAUNCHER")" "$(dirname "$DESKTOP")" "$(dirname "$METAINFO")" "$(dirname "$SVG")"
    {
        echo '#!/bin/sh'
        echo "# Written by Steward's \`make install-desktop\`; removed by \`make uninstall-desktop\`."
        printf 'exec %q "$@"\n' "$target"
    } >"$LAUNCHER"
    chmod 755 "$LAUNCHER"
    sed -e "s|^Exec=.*|Exec=\"$LAUNCHER\"|" -e "s|^TryExec=.*|TryExec=$LAUNCHER|" \
        "$HERE/steward.desktop" >"$DESKTOP"
    if command -v desktop-file-validate >/dev/null; then
        desktop-file-validate "$DESKTOP"
    fi
    install -m 644 "$HERE/$APP_ID.metainfo.xml" "$METAINFO"
    install -m 644 "$ROOT/resources/icons/steward.svg" "$SVG"
    for size in $SIZES; do
        mkdir -p "$(dirname "$(png "$size")")"
        install -m 644 "$HERE/icons/hicolor/${size}x${size}/apps/$APP_ID.png" "$(png "$size")"
    done
    refresh_caches
    echo "[steward] installed the desktop entry $DESKTOP (runs $target)"
}

uninstall_files() {
    rm -f "$LAUNCHER" "$DESKTOP" "$METAINFO" "$SVG"
    for size in $SIZES; do rm -f "$(png "$size")"; done
    rmdir "$(dirname "$LAUNCHER")" "$DATA/steward" 2>/dev/null || true
    refresh_caches
    echo "[steward] removed the desktop entry, icons, metainfo and launcher from $DATA"
}

case "${1:-}" in
    validate) validate ;;
    install) install_files ;;
    uninstall) uninstall_files ;;
    *)
        echo "usage: $0 validate|install|uninstall" >&2
        exit 2
        ;;
esac
